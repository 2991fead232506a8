/**
 * The registry as a small data source for Grafana: one `region` point per province, city and county,
 * written with the coverage history, so dashboard drop-downs list every registered region (also those
 * where no school has reported yet) by name, and cascade province → city → county.
 */
import type { Point } from '../sink/sink.js';
import type { Registry } from './registry.js';

/**
 * `codes name`: the drop-down entry, `codes` the region's code and the older codes its points were
 * written under (`410307|410381 偃师区`). Dashboards split it with
 * `/^(?<value>\d{6}(?:\|\d{6})*) (?<text>.+)$/` and put the value in regexes as `${county:pipe}`, so a
 * recoded county's panels take the points of its old codes too.
 */
export function regionLabel(codes: readonly string[], name: string): string {
  return `${codes.join('|')} ${name}`;
}

/**
 * The `region` points at `timestampMs`. Tags `level`, `code`, `province`, `city` (for cities and
 * counties), `label`; field `schools`. A folded county (municipal district, 仙桃, 东莞) is written at
 * the city level too, with `city` = its own code, so it is in the city drop-down as the views show it.
 */
export function regionPoints(reg: Registry, timestampMs: number): Point[] {
  const points: Point[] = [];
  const add = (level: string, code: string, name: string, province: string, city: string | null, schools: number): void => {
    points.push({
      measurement: 'region',
      tags: { level, code, province, ...(city === null ? {} : { city }), label: regionLabel(reg.historyCodes(code), name) },
      fields: { schools },
      timestampMs,
    });
  };
  for (const p of reg.provinces.values()) add('province', p.code, p.name, p.code, null, p.schoolCount);
  for (const c of reg.cities.values()) add('city', c.code, c.name, c.parent, c.code, c.schoolCount);
  for (const k of reg.counties.values()) {
    const folded = reg.provinces.has(k.parent);
    const province = folded ? k.parent : (reg.cities.get(k.parent)?.parent ?? k.parent);
    const city = folded ? k.code : k.parent;
    if (folded) add('city', k.code, k.name, province, city, k.schoolCount);
    add('county', k.code, k.name, province, city, k.schoolCount);
  }
  return points;
}
