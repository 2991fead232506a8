/**
 * The schools a county proxy watches: the registry CSV's schools of one region (county, city or province
 * code) or an explicit list, each with its gateway address from a registry column or a separate gateways
 * CSV. Reads with the registry's own CSV reader (collector/registry/csv.ts), so every problem is named
 * with its file and physical line; nothing is half-loaded: a problem stops start-up (exit 2) with all of them.
 */
import { readFileSync } from 'node:fs';
import { hostOptionalPortSchema } from '../../protocol/config.js';
import { readCsv } from '../../collector/registry/csv.js';
import { LINK_TYPES, type LinkType, type PingRole, PING_ROLES } from '../../protocol/index.js';
import type { Issue } from '../../protocol/index.js';
import { pingHost } from '../probes/ping/config.js';

/** One SNMP device of a school as the proxy polls it. */
export interface ProxyDevice {
  /** The `device` tag (`gateway` for the school's gateway). */
  device: string;
  /** host or host:port. */
  host: string;
  community?: string;
}

/** One watched school. */
export interface ProxySchool {
  id: string;
  linkType: LinkType;
  /** The school's gateway address, pinged with role `gateway`. */
  gateway: string;
  /** Further targets of this school only (from the gateways file), besides the operator's hops. */
  extraTargets: { host: string; role: PingRole; name?: string }[];
  /** SNMP devices (the gateway first, unless `snmp` is `-`). */
  devices: ProxyDevice[];
}

/** Where the schools come from (the `proxy` config section's part of it). */
export interface SchoolSource {
  /** Registry CSV path. */
  registry: string;
  /** Keep schools whose province, city or county code is this. */
  region?: string;
  /** Keep only these school ids. */
  schools?: readonly string[];
  /** Registry column with the gateway address (e.g. `x_gateway`). */
  gatewayColumn?: string;
  /** Gateways CSV: school_id,gateway[,snmp][,community][,targets][,devices]. */
  gatewaysFile?: string;
}

function read(path: string, key: string, issues: Issue[]): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    issues.push({ path: key, message: `cannot read ${path}: ${(e as Error).message}` });
    return undefined;
  }
}

/** Rows of a CSV as header → value maps, with their line; syntax problems become issues. */
function rows(text: string, file: string, key: string, issues: Issue[]): { header: string[]; rows: { cells: Map<string, string>; line: number }[] } {
  let header: string[] | undefined;
  const out: { cells: Map<string, string>; line: number }[] = [];
  readCsv(text, (fields, line, problem) => {
    if (problem) {
      issues.push({ path: key, message: `${file} line ${line}: ${problem.message}` });
      return;
    }
    if (fields.length === 1 && fields[0] === '') return;
    if (!header) {
      header = fields.map((f) => f.trim());
      return;
    }
    const cells = new Map<string, string>();
    header.forEach((h, i) => cells.set(h, (fields[i] ?? '').trim()));
    out.push({ cells, line });
  });
  return { header: header ?? [], rows: out };
}

const hostPortOk = (s: string): boolean => hostOptionalPortSchema.safeParse(s).success;

/** `role:host[=name]` entries separated by `;` (targets column). */
function parseTargets(raw: string, where: string, issues: Issue[], key: string): ProxySchool['extraTargets'] {
  const out: ProxySchool['extraTargets'] = [];
  for (const part of raw.split(';').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z]+):([^=\s]+)(?:=(.+))?$/.exec(part);
    if (!m || !(PING_ROLES as readonly string[]).includes(m[1] as string) || !pingHost.safeParse(m[2]).success) {
      issues.push({ path: key, message: `${where}: targets entry "${part}" must be role:host[=name] with role one of ${PING_ROLES.join(', ')}` });
      continue;
    }
    out.push({ role: m[1] as PingRole, host: m[2] as string, ...(m[3] ? { name: m[3] } : {}) });
  }
  return out;
}

/** `name=host[:port]` entries separated by `;` (devices column). */
function parseDevices(raw: string, where: string, issues: Issue[], key: string): ProxyDevice[] {
  const out: ProxyDevice[] = [];
  for (const part of raw.split(';').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^=\t]{1,64})=(\S+)$/.exec(part);
    if (!m || !hostPortOk(m[2] as string) || m[1] === 'gateway') {
      issues.push({ path: key, message: `${where}: devices entry "${part}" must be name=host[:port] (name not "gateway")` });
      continue;
    }
    out.push({ device: m[1] as string, host: m[2] as string });
  }
  return out;
}

interface GatewayRow {
  gateway: string;
  snmp?: string;
  community?: string;
  targets: ProxySchool['extraTargets'];
  devices: ProxyDevice[];
}

function loadGateways(file: string, issues: Issue[]): Map<string, GatewayRow & { line: number }> {
  const key = 'proxy.gatewaysFile';
  const out = new Map<string, GatewayRow & { line: number }>();
  const text = read(file, key, issues);
  if (text === undefined) return out;
  const t = rows(text, file, key, issues);
  if (!t.header.includes('school_id') || !t.header.includes('gateway')) {
    issues.push({ path: key, message: `${file}: the header must name school_id and gateway (and optionally snmp, community, targets, devices), got ${t.header.join(',')}` });
    return out;
  }
  for (const { cells, line } of t.rows) {
    const where = `${file} line ${line}`;
    const id = cells.get('school_id') ?? '';
    const gateway = cells.get('gateway') ?? '';
    const snmp = cells.get('snmp') ?? '';
    if (!/^\d{10}$/.test(id)) issues.push({ path: key, message: `${where}: school_id must be a 10-digit school identification code, got "${id}"` });
    else if (out.has(id)) issues.push({ path: key, message: `${where}: school ${id} is listed twice (also line ${out.get(id)?.line})` });
    if (!pingHost.safeParse(gateway).success) issues.push({ path: key, message: `${where}: gateway must be a host name or IP address, got "${gateway}"` });
    if (snmp && snmp !== '-' && !hostPortOk(snmp)) issues.push({ path: key, message: `${where}: snmp must be host[:port] or - (no SNMP), got "${snmp}"` });
    const community = cells.get('community') || undefined;
    out.set(id, { line, gateway, ...(snmp ? { snmp } : {}), ...(community ? { community } : {}), targets: parseTargets(cells.get('targets') ?? '', where, issues, key), devices: parseDevices(cells.get('devices') ?? '', where, issues, key) });
  }
  return out;
}

/**
 * Reads the schools the source names. Returns the schools, or the issues (every one of them) that
 * keep the proxy from starting.
 */
export function loadProxySchools(src: SchoolSource): { schools: ProxySchool[]; issues: Issue[]; warnings: string[] } {
  const issues: Issue[] = [];
  const warnings: string[] = [];
  const gateways = src.gatewaysFile ? loadGateways(src.gatewaysFile, issues) : new Map<string, GatewayRow & { line: number }>();
  const text = read(src.registry, 'proxy.registry', issues);
  if (text === undefined) return { schools: [], issues, warnings };
  const t = rows(text, src.registry, 'proxy.registry', issues);
  const missing = ['school_id', 'county_code', 'link_type', ...(src.gatewayColumn ? [src.gatewayColumn] : [])].filter((c) => !t.header.includes(c));
  for (const col of missing) {
    issues.push({ path: col === src.gatewayColumn ? 'proxy.gatewayColumn' : 'proxy.registry', message: `${src.registry}: the header has no column ${col}` });
  }
  if (missing.length) return { schools: [], issues, warnings };
  const wanted = src.schools ? new Set(src.schools) : undefined;
  const found = new Set<string>();
  const schools: ProxySchool[] = [];
  for (const { cells, line } of t.rows) {
    const id = cells.get('school_id') ?? '';
    const codes = ['province_code', 'city_code', 'county_code'].map((c) => cells.get(c));
    if (src.region && !codes.includes(src.region)) continue;
    if (wanted && !wanted.has(id)) continue;
    const where = `${src.registry} line ${line}`;
    if (found.has(id)) {
      issues.push({ path: 'proxy.registry', message: `${where}: school ${id} is listed twice` });
      continue;
    }
    found.add(id);
    const lt = cells.get('link_type') ?? '';
    const linkType: LinkType = (LINK_TYPES as readonly string[]).includes(lt) ? (lt as LinkType) : 'other';
    const g = gateways.get(id);
    const fromColumn = src.gatewayColumn ? cells.get(src.gatewayColumn) : undefined;
    const gateway = g?.gateway || fromColumn || '';
    if (!gateway) {
      issues.push({ path: 'proxy', message: `school ${id} (${where}) has no gateway address: add it to ${src.gatewaysFile ?? 'a gatewaysFile'}${src.gatewayColumn ? ` or the registry column ${src.gatewayColumn}` : ''}` });
      continue;
    }
    if (!g && !pingHost.safeParse(gateway).success) {
      issues.push({ path: 'proxy.gatewayColumn', message: `${where}: ${src.gatewayColumn} must be a host name or IP address, got "${gateway}"` });
      continue;
    }
    const snmp = g?.snmp ?? gateway;
    const devices: ProxyDevice[] = snmp === '-' ? [] : [{ device: 'gateway', host: snmp, ...(g?.community ? { community: g.community } : {}) }];
    for (const d of g?.devices ?? []) devices.push({ ...d, ...(g?.community ? { community: g.community } : {}) });
    schools.push({ id, linkType, gateway, extraTargets: g?.targets ?? [], devices });
  }
  for (const id of wanted ?? []) if (!found.has(id)) issues.push({ path: 'proxy.schools', message: `school ${id} is not in ${src.registry}${src.region ? ` under region ${src.region}` : ''}` });
  if (!schools.length && !issues.length) issues.push({ path: 'proxy', message: `no school of ${src.registry} matches${src.region ? ` region ${src.region}` : ''}${wanted ? ' and the schools list' : ''}` });
  // One gateways file may serve several proxies of a city: a school watched by another is no problem here.
  for (const [id, g] of gateways) if (!found.has(id)) warnings.push(`${src.gatewaysFile} line ${g.line}: school ${id} is not among the watched schools; its row is not used`);
  return { schools, issues, warnings };
}
