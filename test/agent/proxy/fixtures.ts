/** Registry, gateways file and config of a small county for the proxy tests. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REGISTRY_HEADER = 'school_id,school_name,school_type,province_code,province_name,city_code,city_name,county_code,county_name,link_type,contracted_mbps,students,classrooms,lat,lon,hub_school_id,x_gateway';

/** A registry row of county 640104 (or `county`). */
export function registryRow(id: string, opts: { county?: string; link?: string; gateway?: string } = {}): string {
  const county = opts.county ?? '640104';
  return `${id},学校${id},primary,640000,宁夏回族自治区,640100,银川市,${county},区,${opts.link ?? 'fiber'},100,500,12,38.47,106.28,,${opts.gateway ?? ''}`;
}

/** Writes files into a fresh directory; returns its path and a path helper. */
export function tmpFiles(files: Record<string, string>): { dir: string; path: (name: string) => string } {
  const dir = mkdtempSync(join(tmpdir(), 'cl-proxy-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return { dir, path: (n) => join(dir, n) };
}
