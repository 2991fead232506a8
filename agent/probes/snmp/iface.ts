/**
 * The interface probe: polls one SNMP device (a school gateway) for its system group and IF-MIB
 * interface tables, and turns counter readings into `sys` and `iface` measurements.
 *
 * One `collect()` = one GET of sysDescr/sysUpTime, one walk of the needed ifTable columns, one walk of
 * the needed ifXTable columns. Rates need two polls; the previous reading lives in memory and in a
 * JSON file under `stateDir`, so the first poll after an agent restart already has rates.
 */
import type { Logger } from 'pino';
import { SNMP_RESULT, type IfaceRole, type Measurement } from '../../../protocol/index.js';
import type { Probe, ProbeContext } from '../probe.js';
import { cleanText, tagText, truncateText } from '../sanitize.js';
import {
  createNetSnmpClient,
  SnmpError,
  deviceClientOptions,
  varbindNumber,
  varbindString,
  type NetSnmpClientOptions,
  type SnmpClient,
  type SnmpTable,
  type SnmpV3Credentials,
  type SnmpVarbind,
  type SnmpVersion,
} from './client.js';
import type { Limiter } from './limit.js';
import { inferWanInterface, type WanInference } from './wan.js';
import { DEFAULT_MAX_INTERVAL_MS, ifaceDeltas, pollInterval, type IfaceReading } from './counters.js';
import { IF_COL, IF_ENTRY, IF_TYPE, IFX_COL, IFX_ENTRY, SYS } from './oids.js';
import { loadState, saveState, stateFilePath, type DeviceState } from './state.js';

/** Options of `createIfaceProbe`. */
export interface IfaceProbeOptions {
  /** Device name, the `device` tag (e.g. `gateway`). 1–256 characters, no tabs or line breaks. */
  device: string;
  /** Address of the device's SNMP agent; `host:port` and `[v6]:port` are accepted too. */
  host: string;
  /** UDP port (default: the one in `host`, else 161). */
  port?: number;
  /** Community string (default `public`). */
  community?: string;
  /** `'2c'` (default), `'3'` or `'1'`. v1 has no 64-bit counters. */
  version?: SnmpVersion;
  /** USM user, required for version `'3'`. */
  v3?: SnmpV3Credentials;
  /** Per-request timeout, ms (default 2000). */
  timeoutMs?: number;
  /** Re-sends of an unanswered request (default 1). */
  retries?: number;
  /**
   * The uplink: its ifName, ifDescr or ifIndex. That interface gets `role=wan`. Unset: inferred from
   * the device's default route (see `wan.ts`), looked up again every `wanRecheckMs`.
   */
  wanInterface?: string | number;
  /** How often an inferred WAN interface is looked up again, ms (default 1 h). */
  wanRecheckMs?: number;
  /** Shared bound on devices polled at once (default: none). */
  limiter?: Limiter;
  /** Directory of the counter state file (`snmp-<device>.json`). Without it, state is kept in memory only. */
  stateDir?: string;
  /** Readings further apart than this yield no rates, only a new baseline, ms (default 30 min). */
  maxIntervalMs?: number;
  /** `max-repetitions` of the GetBulk requests (client default 25). */
  maxRepetitions?: number;
  /** Read ifXTable (ifName, 64-bit counters, ifHighSpeed); default true. */
  useIfXTable?: boolean;
  /** Client factory (tests); default `createNetSnmpClient`. Called once per poll; the probe closes the client. */
  createClient?: (options: NetSnmpClientOptions) => SnmpClient;
}

/** Counters of what the probe has seen since it was created. */
export interface IfaceProbeStats {
  /** Polls run. */
  polls: number;
  /** Polls that failed (no answer, or an SNMP error). */
  failures: number;
  /** Of those, polls that failed because the device did not answer in time. */
  timeouts: number;
  /** Counter deltas discarded as implausible (above line rate × 1.1). */
  implausible: number;
  /** Interface readings marked `counter_reset = 1` (reboot, or a counter that went backwards). */
  resets: number;
  /** 32-bit counter wraps handled. */
  wraps: number;
  /** State files that could not be written. */
  stateWriteErrors: number;
}

/** The probe returned by `createIfaceProbe`. */
export interface IfaceProbe extends Probe {
  readonly device: string;
  /** A snapshot of the probe's counters. */
  readonly stats: Readonly<IfaceProbeStats>;
}

type SysFields = Extract<Measurement, { name: 'sys' }>['fields'];
type IfaceFields = Extract<Measurement, { name: 'iface' }>['fields'];

const IF_COLUMNS = [
  IF_COL.ifDescr,
  IF_COL.ifType,
  IF_COL.ifSpeed,
  IF_COL.ifOperStatus,
  IF_COL.ifInOctets,
  IF_COL.ifInDiscards,
  IF_COL.ifInErrors,
  IF_COL.ifOutOctets,
  IF_COL.ifOutDiscards,
  IF_COL.ifOutErrors,
] as const;
const IFX_COLUMNS = [IFX_COL.ifName, IFX_COL.ifHCInOctets, IFX_COL.ifHCOutOctets, IFX_COL.ifHighSpeed] as const;
/** ifSpeed's "more than this, see ifHighSpeed" value. */
const IF_SPEED_SATURATED = 4294967295;
const MAX_DESCR = 1024;
const MAX_TAG = 256;

/** Makes a device string usable as a tag value (see sanitize.ts); '' when nothing usable is left. */
function tagSafe(s: string): string {
  return tagText(s, MAX_TAG) ?? '';
}

function validDevice(device: string): boolean {
  return device.length >= 1 && device.length <= MAX_TAG && !/[\n\r\t]/.test(device);
}

/** Counter32 → bigint; anything else (missing, exception) → undefined. */
function counter32(vb: SnmpVarbind | undefined): bigint | undefined {
  return vb?.type === 'Counter32' ? BigInt(vb.value) : undefined;
}

/** One interface as read in one poll. */
interface IfaceRow {
  ifIndex: number;
  name: string;
  role: IfaceRole;
  operUp: boolean;
  speedBps: number | undefined;
  reading: IfaceReading | undefined;
}

/** The role of an interface: `wan` for the configured uplink, `lan` for Ethernet and Wi-Fi ports, else `other`. */
export function ifaceRole(
  iface: { ifIndex: number; ifName?: string | undefined; ifDescr?: string | undefined; ifType?: number | undefined },
  wanInterface: string | number | undefined,
): IfaceRole {
  if (wanInterface !== undefined) {
    const w = String(wanInterface);
    if (w === String(iface.ifIndex) || w === iface.ifName || w === iface.ifDescr) return 'wan';
  }
  if (iface.ifType === IF_TYPE.ethernetCsmacd || iface.ifType === IF_TYPE.ieee80211) return 'lan';
  return 'other';
}

/** Builds the interface list from the two tables. Loopbacks are skipped; duplicate names get `#ifIndex`. */
function parseIfaces(ifRows: SnmpTable, ifxRows: SnmpTable, wanInterface: string | number | undefined): IfaceRow[] {
  const out: IfaceRow[] = [];
  const seen = new Set<string>();
  const indexes = [...ifRows.keys()].filter((k) => /^\d+$/.test(k)).sort((a, b) => Number(a) - Number(b));
  for (const key of indexes) {
    const row = ifRows.get(key);
    if (!row) continue;
    const ifIndex = Number(key);
    const ifType = varbindNumber(row.get(IF_COL.ifType));
    if (ifType === IF_TYPE.softwareLoopback) continue;
    const x = ifxRows.get(key);
    const ifName = varbindString(x?.get(IFX_COL.ifName));
    const ifDescr = varbindString(row.get(IF_COL.ifDescr));
    let name = tagSafe(ifName ?? '') || tagSafe(ifDescr ?? '') || `if${ifIndex}`;
    if (seen.has(name)) name = `${truncateText(name, MAX_TAG - 12)}#${ifIndex}`;
    seen.add(name);

    const highSpeed = varbindNumber(x?.get(IFX_COL.ifHighSpeed));
    const ifSpeed = varbindNumber(row.get(IF_COL.ifSpeed));
    let speedBps: number | undefined;
    if (highSpeed !== undefined && highSpeed > 0) speedBps = highSpeed * 1e6;
    else if (ifSpeed !== undefined && ifSpeed > 0 && !(ifSpeed === IF_SPEED_SATURATED && highSpeed === undefined)) speedBps = ifSpeed;

    const hcIn = x?.get(IFX_COL.ifHCInOctets);
    const hcOut = x?.get(IFX_COL.ifHCOutOctets);
    const errs = {
      inErrors: counter32(row.get(IF_COL.ifInErrors)),
      outErrors: counter32(row.get(IF_COL.ifOutErrors)),
      inDiscards: counter32(row.get(IF_COL.ifInDiscards)),
      outDiscards: counter32(row.get(IF_COL.ifOutDiscards)),
    };
    let reading: IfaceReading | undefined;
    if (hcIn?.type === 'Counter64' && hcOut?.type === 'Counter64') {
      reading = { bits: 64, inOctets: hcIn.value, outOctets: hcOut.value, ...errs };
    } else {
      const in32 = counter32(row.get(IF_COL.ifInOctets));
      const out32 = counter32(row.get(IF_COL.ifOutOctets));
      if (in32 !== undefined && out32 !== undefined) reading = { bits: 32, inOctets: in32, outOctets: out32, ...errs };
    }
    out.push({
      ifIndex,
      name,
      role: ifaceRole({ ifIndex, ifName, ifDescr, ifType }, wanInterface),
      operUp: varbindNumber(row.get(IF_COL.ifOperStatus)) === 1,
      speedBps,
      reading,
    });
  }
  return out;
}

/**
 * Creates the interface probe of one device. `collect()` never throws: a device that does not answer
 * yields one `sys` measurement with `result_code` 2 (timeout) or 3 (error) and `errors`, and no `iface`.
 * Concurrent `collect()` calls run one after the other.
 */
export function createIfaceProbe(options: IfaceProbeOptions): IfaceProbe {
  const { device } = options;
  if (!validDevice(device)) throw new TypeError(`SNMP probe: device must be 1-256 characters without tabs or line breaks, got ${JSON.stringify(device)}`);
  const { clientOptions, target } = deviceClientOptions(options);
  const makeClient = options.createClient ?? createNetSnmpClient;
  const maxIntervalMs = options.maxIntervalMs ?? DEFAULT_MAX_INTERVAL_MS;
  const useIfX = options.useIfXTable ?? true;
  const stateFile = options.stateDir !== undefined ? stateFilePath(options.stateDir, device) : undefined;

  const stats: IfaceProbeStats = { polls: 0, failures: 0, timeouts: 0, implausible: 0, resets: 0, wraps: 0, stateWriteErrors: 0 };
  let state: DeviceState | undefined;
  let stateLoaded = false;
  let lastCode: number = SNMP_RESULT.ok;
  let chain: Promise<unknown> = Promise.resolve();
  const wanRecheckMs = options.wanRecheckMs ?? 3_600_000;
  let wan: { inference: WanInference | undefined; atMs: number } | undefined;

  async function ensureState(log: Logger): Promise<void> {
    if (stateLoaded) return;
    stateLoaded = true;
    if (!stateFile) return;
    try {
      const s = await loadState(stateFile);
      if (s && (s.device !== device || s.target !== target)) {
        log.info({ device, file: stateFile, was: s.target, now: target }, 'SNMP state file belongs to another target; starting from a new baseline');
      } else if (s) {
        state = s;
      }
    } catch (e) {
      log.warn({ device, file: stateFile, err: (e as Error).message }, 'SNMP state file unreadable; starting from a new baseline');
    }
  }

  function sysMeasurement(fields: SysFields): Measurement {
    return { name: 'sys', tags: { device }, fields };
  }

  async function poll(ctx: ProbeContext): Promise<Measurement[]> {
    const log = ctx.log;
    stats.polls++;
    await ensureState(log);
    const t0 = ctx.now();
    let descr: string | undefined;
    let uptimeTicks: number | undefined;
    let ifRows: SnmpTable = new Map();
    let ifxRows: SnmpTable = new Map();
    let failure: SnmpError | undefined;
    let client: SnmpClient | undefined;
    try {
      client = makeClient(clientOptions);
      const [d, u] = await client.get([SYS.sysDescr, SYS.sysUpTime]);
      descr = varbindString(d);
      if (u?.type !== 'TimeTicks') throw new SnmpError('error', `sysUpTime.0 of ${target} is missing or not TimeTicks (${u?.type ?? 'no varbind'})`);
      uptimeTicks = u.value;
      // Both tables at once: two round trips in flight instead of one after the other.
      const c = client;
      [ifRows, ifxRows] = await Promise.all([c.table(IF_ENTRY, IF_COLUMNS), useIfX ? c.table(IFX_ENTRY, IFX_COLUMNS) : Promise.resolve<SnmpTable>(new Map())]);
      if (options.wanInterface === undefined && (!wan || t0 - wan.atMs >= wanRecheckMs || t0 < wan.atMs)) {
        const inference = await inferWanInterface(c);
        if (inference?.ifIndex !== wan?.inference?.ifIndex || !wan) {
          if (inference) log.info({ device, target, ifIndex: inference.ifIndex, source: inference.source }, 'SNMP WAN interface inferred from the default route');
          else log.info({ device, target }, 'SNMP device shows no default route; no interface gets role=wan (set wanInterface)');
        }
        wan = { inference, atMs: t0 };
      }
    } catch (e) {
      failure = e instanceof SnmpError ? e : new SnmpError('error', (e as Error)?.message ?? String(e), { cause: e });
    } finally {
      client?.close();
    }
    const t1 = ctx.now();

    const sysFields: SysFields = { result_code: SNMP_RESULT.ok, errors: 0 };
    if (uptimeTicks !== undefined) sysFields.uptime_s = uptimeTicks / 100;
    if (descr !== undefined) sysFields.descr = cleanText(descr, MAX_DESCR);

    if (failure || uptimeTicks === undefined) {
      const timeout = failure?.kind === 'timeout';
      stats.failures++;
      if (timeout) stats.timeouts++;
      sysFields.result_code = timeout ? SNMP_RESULT.timeout : SNMP_RESULT.error;
      sysFields.errors = 1;
      const msg = failure?.message ?? 'no sysUpTime';
      if (lastCode === SNMP_RESULT.ok) log.warn({ device, target, code: sysFields.result_code, err: msg }, 'SNMP poll failed');
      else log.debug({ device, target, code: sysFields.result_code, err: msg }, 'SNMP poll failed again');
      lastCode = sysFields.result_code;
      return [sysMeasurement(sysFields)];
    }
    if (lastCode !== SNMP_RESULT.ok) log.info({ device, target }, 'SNMP device answers again');
    lastCode = SNMP_RESULT.ok;

    const atMs = Math.round((t0 + t1) / 2);
    const ifaces = parseIfaces(ifRows, ifxRows, options.wanInterface ?? wan?.inference?.ifIndex);
    const interval = state ? pollInterval(state, { atMs, uptimeTicks }, maxIntervalMs) : undefined;
    if (interval?.kind === 'reboot') log.info({ device, target }, 'SNMP device rebooted since the last poll; counters marked reset');

    const out: Measurement[] = [sysMeasurement(sysFields)];
    const next: DeviceState = { device, target, atMs, uptimeTicks, ifaces: new Map() };
    for (const i of ifaces) {
      const fields: IfaceFields = { oper_up: i.operUp ? 1 : 0 };
      if (i.speedBps !== undefined) fields.speed_bps = i.speedBps;
      if (i.reading) {
        const before = state?.ifaces.get(i.ifIndex);
        const prev = before && before.name === i.name ? before.reading : undefined;
        if (interval && prev) {
          const d = ifaceDeltas(prev, i.reading, interval, i.speedBps);
          Object.assign(fields, d.fields);
          stats.wraps += d.wraps;
          if (d.fields.counter_reset) stats.resets++;
          if (d.resets.length > 0) log.info({ device, ifname: i.name, counters: d.resets }, 'SNMP counter went backwards; marked reset');
          for (const bad of d.implausible) {
            stats.implausible++;
            log.warn(
              { device, ifname: i.name, counter: bad.counter, delta: bad.delta.toString(), perSec: bad.perSec, maxPerSec: bad.maxPerSec, speedBps: i.speedBps, implausibleTotal: stats.implausible },
              'SNMP counter delta above line rate discarded as implausible',
            );
          }
        }
        next.ifaces.set(i.ifIndex, { name: i.name, reading: i.reading });
      }
      out.push({ name: 'iface', tags: { device, ifname: i.name, role: i.role }, fields });
    }
    state = next;
    if (stateFile) {
      try {
        await saveState(stateFile, next);
      } catch (e) {
        stats.stateWriteErrors++;
        log.warn({ device, file: stateFile, err: (e as Error).message }, 'SNMP state file not written; rates after a restart will start late');
      }
    }
    return out;
  }

  async function safePoll(ctx: ProbeContext): Promise<Measurement[]> {
    try {
      return await poll(ctx);
    } catch (e) {
      // A bug, not a device failure: still report the poll as failed data.
      stats.failures++;
      ctx.log.error({ device, err: (e as Error)?.stack ?? String(e) }, 'SNMP probe failed unexpectedly');
      return [sysMeasurement({ result_code: SNMP_RESULT.error, errors: 1 })];
    }
  }

  return {
    name: `snmp:${device}`,
    device,
    get stats() {
      return { ...stats };
    },
    collect(ctx) {
      const limiter = options.limiter;
      const p = chain.then(() => (limiter ? limiter.run(() => safePoll(ctx)) : safePoll(ctx)));
      chain = p.catch(() => undefined);
      return p;
    },
  };
}
