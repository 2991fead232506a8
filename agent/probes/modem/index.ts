/**
 * The satellite modem probe: reads the OIDs of one modem profile with GETs and emits one `modem`
 * measurement (tags device, profile). A field the firmware does not expose is skipped and reported
 * once; a modem that does not answer is recorded as data (`result_code`, `errors`), never thrown.
 */
import type { Logger } from 'pino';
import { SNMP_RESULT, type Measurement } from '../../../protocol/index.js';
import type { Probe, ProbeContext } from '../probe.js';
import {
  createNetSnmpClient,
  isException,
  SnmpError,
  deviceClientOptions,
  varbindNumber,
  type NetSnmpClientOptions,
  type SnmpClient,
  type SnmpV3Credentials,
  type SnmpVarbind,
  type SnmpVersion,
} from '../snmp/client.js';
import type { Limiter } from '../snmp/limit.js';
import { fieldOid, type ModemFieldSpec, type ModemProfile } from './profile.js';

export { resolveModemProfile, parseModemProfile, modemProfileSchema, BUNDLED_PROFILES_DIR, type ModemProfile, type ModemFieldSpec } from './profile.js';

/** Options of `createModemProbe`. */
export interface ModemProbeOptions {
  /** The `device` tag, e.g. `vsat`. */
  device: string;
  /** Address of the modem's (or the hub NMS proxy's) SNMP agent; `host:port` accepted. */
  host: string;
  port?: number;
  community?: string;
  version?: SnmpVersion;
  v3?: SnmpV3Credentials;
  timeoutMs?: number;
  retries?: number;
  /** The loaded profile (`resolveModemProfile`). */
  profile: ModemProfile;
  /** Replaces `{index}` in the profile's OIDs. */
  index?: string;
  /** OIDs per GET request (default 16). */
  maxOidsPerRequest?: number;
  /** Shared bound on devices polled at once. */
  limiter?: Limiter;
  /** Client factory (tests); default `createNetSnmpClient`. The probe closes the client. */
  createClient?: (options: NetSnmpClientOptions) => SnmpClient;
}

/** Counters of what the probe has seen since it was created. */
export interface ModemProbeStats {
  polls: number;
  failures: number;
  timeouts: number;
  /** Fields reported missing at least once (each logged once). */
  missingFields: string[];
}

/** The probe returned by `createModemProbe`. */
export interface ModemProbe extends Probe {
  readonly device: string;
  readonly stats: Readonly<ModemProbeStats>;
}

/** A numeric reading of a varbind: numbers as they are, OctetStrings holding a decimal number parsed. */
function rawNumber(vb: SnmpVarbind): number | undefined {
  const n = varbindNumber(vb);
  if (n !== undefined) return n;
  if (vb.type === 'OctetString') {
    const m = /^\s*([-+]?\d+(?:\.\d+)?)/.exec(vb.value.toString('utf8'));
    if (m) return Number(m[1]);
  }
  return undefined;
}

/** Converts one varbind by its field spec; `undefined` with a reason when it yields no value. */
export function convertModemValue(spec: ModemFieldSpec, vb: SnmpVarbind | undefined): { value: number } | { missing: string } {
  if (!vb || isException(vb) || vb.type === 'Null') return { missing: vb ? vb.type : 'no varbind' };
  const raw = rawNumber(vb);
  if (raw === undefined) return { missing: `not a number (${vb.type})` };
  if (spec.type === 'number') {
    // toPrecision drops binary noise of the scaling (1137 × 0.01 = 11.370000000000001).
    const v = Number((raw * spec.scale + spec.offset).toPrecision(12));
    return Number.isFinite(v) ? { value: v } : { missing: 'not finite' };
  }
  const mapped = spec.map[String(Math.trunc(raw))];
  return mapped === undefined ? { missing: `value ${raw} not in the profile's map` } : { value: mapped };
}

/** Creates the modem probe of one device. `collect()` never throws. */
export function createModemProbe(options: ModemProbeOptions): ModemProbe {
  const { device, profile } = options;
  if (device.length < 1 || device.length > 256 || /[\n\r\t]/.test(device)) throw new TypeError(`modem probe: device must be 1-256 characters without tabs or line breaks, got ${JSON.stringify(device)}`);
  const oids = profile.fields.map((f) => fieldOid(f, options.index));
  const { clientOptions, target } = deviceClientOptions(options);
  const makeClient = options.createClient ?? createNetSnmpClient;
  const chunk = Math.max(1, Math.floor(options.maxOidsPerRequest ?? 16));
  const stats = { polls: 0, failures: 0, timeouts: 0 };
  const reported = new Set<string>();
  let failing = false;
  let chain: Promise<unknown> = Promise.resolve();

  /** GETs every OID; under v1 a noSuchName fails a whole request, so a failed chunk is retried OID by OID. */
  async function read(client: SnmpClient): Promise<(SnmpVarbind | undefined)[]> {
    const out: (SnmpVarbind | undefined)[] = [];
    for (let i = 0; i < oids.length; i += chunk) {
      const part = oids.slice(i, i + chunk);
      try {
        const vbs = await client.get(part);
        part.forEach((_, k) => out.push(vbs[k]));
      } catch (e) {
        if (!(e instanceof SnmpError) || e.kind === 'timeout' || part.length === 1) throw e;
        for (const oid of part) {
          try {
            out.push((await client.get([oid]))[0]);
          } catch (e1) {
            if (e1 instanceof SnmpError && e1.kind === 'timeout') throw e1;
            out.push(undefined);
          }
        }
      }
    }
    return out;
  }

  function reportMissing(log: Logger, spec: ModemFieldSpec, why: string): void {
    if (reported.has(spec.field)) return;
    reported.add(spec.field);
    const entry = { device, profile: profile.name, field: spec.field, oid: fieldOid(spec, options.index), why };
    if (spec.optional) log.info(entry, 'modem does not expose an optional field; skipped (reported once)');
    else log.warn(entry, 'modem does not expose a profile field; skipped (reported once)');
  }

  async function poll(ctx: ProbeContext): Promise<Measurement[]> {
    stats.polls++;
    const fields: Record<string, number> = {};
    let client: SnmpClient | undefined;
    try {
      client = makeClient(clientOptions);
      const vbs = await read(client);
      let missing = 0;
      profile.fields.forEach((spec, i) => {
        const r = convertModemValue(spec, vbs[i]);
        if ('value' in r) fields[spec.field] = r.value;
        else {
          missing++;
          reportMissing(ctx.log, spec, r.missing);
        }
      });
      if (failing) ctx.log.info({ device, target }, 'modem answers again');
      failing = false;
      return [{ name: 'modem', tags: { device, profile: profile.name }, fields: { ...fields, result_code: SNMP_RESULT.ok, errors: 0, missing_fields: missing } }];
    } catch (e) {
      const err = e instanceof SnmpError ? e : new SnmpError('error', (e as Error)?.message ?? String(e), { cause: e });
      stats.failures++;
      if (err.kind === 'timeout') stats.timeouts++;
      const code = err.kind === 'timeout' ? SNMP_RESULT.timeout : SNMP_RESULT.error;
      if (!failing) ctx.log.warn({ device, target, code, err: err.message }, 'modem poll failed');
      else ctx.log.debug({ device, target, code, err: err.message }, 'modem poll failed again');
      failing = true;
      return [{ name: 'modem', tags: { device, profile: profile.name }, fields: { result_code: code, errors: 1 } }];
    } finally {
      client?.close();
    }
  }

  return {
    name: `modem:${device}`,
    device,
    get stats() {
      return { ...stats, missingFields: [...reported] };
    },
    collect(ctx) {
      const limiter = options.limiter;
      const p = chain.then(() => (limiter ? limiter.run(() => poll(ctx)) : poll(ctx)));
      chain = p.catch(() => undefined);
      return p;
    },
  };
}
