/**
 * Counter arithmetic for interface polling, free of I/O so it can be property-tested.
 *
 * Rules:
 * - 64-bit (HC) counters are preferred. A 64-bit counter that went backwards was reset.
 * - A 32-bit counter that went backwards while sysUpTime advanced by less than the time one wrap
 *   takes at line rate wrapped exactly once (delta = cur + 2^32 − prev); with more time than that
 *   the wrap count is unknowable and the reading counts as a reset. With no known speed a single
 *   wrap is assumed.
 * - A device reboot (sysUpTime went backwards, or advanced far less than the wall clock did) resets
 *   every counter: no rate for that interval, `counter_reset = 1`.
 * - A delta implying more than line rate × 1.1 is implausible: discarded, reported so it can be counted.
 * - Emitted rates are clamped to line rate, so no value is ever negative or above line rate.
 *
 * Octet and packet counters are `bigint` throughout.
 */

/** Width of an SNMP counter. */
export type CounterBits = 32 | 64;

/** 2^32, the modulus of Counter32 and TimeTicks. */
export const TWO_32 = 1n << 32n;
const TWO_32_NUM = 2 ** 32;

/** A delta above line rate × this factor is discarded as implausible. */
export const PLAUSIBILITY_FACTOR = 1.1;

/** Smallest frame assumed when bounding packet counters (errors, discards) by line rate, octets. */
export const MIN_FRAME_OCTETS = 64;

/** Slack between the wall clock and sysUpTime before a mismatch counts as a reboot: this many ms… */
export const UPTIME_TOLERANCE_MS = 5000;
/** …or this fraction of the interval, whichever is larger. */
export const UPTIME_TOLERANCE_RATIO = 0.01;

/** Polls further apart than this (default) do not yield rates: the old reading is just replaced. */
export const DEFAULT_MAX_INTERVAL_MS = 30 * 60 * 1000;

/** When a device was read: the injected clock and its sysUpTime (hundredths of a second, 32-bit). */
export interface DeviceReading {
  atMs: number;
  uptimeTicks: number;
}

/** What happened to a device between two polls. */
export type PollInterval =
  /** Both clocks advanced consistently. `wallSec` gives rates, `deviceSec` decides 32-bit wraps. */
  | { kind: 'ok'; wallSec: number; deviceSec: number }
  /** The device rebooted in between: every counter restarted. */
  | { kind: 'reboot' }
  /** No usable interval (wall clock did not advance, or the last reading is too old): re-baseline. */
  | { kind: 'invalid'; reason: 'clock' | 'stale' };

/**
 * Classifies the interval between two readings of one device.
 *
 * sysUpTime itself is a 32-bit TimeTicks that wraps after ~497 days; a decrease that matches the wall
 * clock modulo 2^32 is a wrap, any other decrease is a reboot. An uptime smaller than the wall time
 * since the last poll also means a reboot (the device came back up in between).
 */
export function pollInterval(prev: DeviceReading, cur: DeviceReading, maxIntervalMs: number = DEFAULT_MAX_INTERVAL_MS): PollInterval {
  const wallMs = cur.atMs - prev.atMs;
  if (!(wallMs > 0) || !Number.isFinite(wallMs)) return { kind: 'invalid', reason: 'clock' };
  const tol = Math.max(UPTIME_TOLERANCE_MS, wallMs * UPTIME_TOLERANCE_RATIO);
  let deviceTicks: number;
  if (cur.uptimeTicks >= prev.uptimeTicks) {
    deviceTicks = cur.uptimeTicks - prev.uptimeTicks;
    if (cur.uptimeTicks * 10 + tol < wallMs) return { kind: 'reboot' };
  } else {
    deviceTicks = cur.uptimeTicks + TWO_32_NUM - prev.uptimeTicks;
    if (Math.abs(deviceTicks * 10 - wallMs) > tol) return { kind: 'reboot' };
  }
  if (wallMs > maxIntervalMs) return { kind: 'invalid', reason: 'stale' };
  return { kind: 'ok', wallSec: wallMs / 1000, deviceSec: deviceTicks / 100 };
}

/** The change of one counter over an interval. */
export type CounterDelta =
  | { kind: 'ok'; delta: bigint; wrapped: boolean }
  /** Went backwards and cannot be a single wrap: the counter restarted. */
  | { kind: 'reset' }
  /** Larger than the line rate allows: discarded. `perSec` is the rate it implied. */
  | { kind: 'implausible'; delta: bigint; perSec: number };

/** Input of `counterDelta`. */
export interface CounterDeltaInput {
  prev: bigint;
  cur: bigint;
  bits: CounterBits;
  /** sysUpTime advance, seconds: decides whether a 32-bit decrease can be a single wrap. */
  deviceSec: number;
  /** Measured wall-clock interval, seconds (> 0): rates and the plausibility bound use it. */
  wallSec: number;
  /** Largest possible increase per second (line rate in counter units); undefined or 0 when unknown. */
  maxPerSec?: number | undefined;
}

/** Delta of one counter between two readings, with wrap, reset and plausibility handling. */
export function counterDelta(i: CounterDeltaInput): CounterDelta {
  const mod = i.bits === 64 ? 1n << 64n : TWO_32;
  const prev = ((i.prev % mod) + mod) % mod;
  const cur = ((i.cur % mod) + mod) % mod;
  const max = i.maxPerSec !== undefined && i.maxPerSec > 0 && Number.isFinite(i.maxPerSec) ? i.maxPerSec : undefined;
  let delta: bigint;
  let wrapped = false;
  if (cur >= prev) {
    delta = cur - prev;
  } else if (i.bits === 64) {
    return { kind: 'reset' };
  } else {
    if (max !== undefined && !(i.deviceSec < TWO_32_NUM / max)) return { kind: 'reset' };
    delta = cur + TWO_32 - prev;
    wrapped = true;
  }
  if (max !== undefined) {
    const perSec = Number(delta) / i.wallSec;
    if (!(perSec <= max * PLAUSIBILITY_FACTOR)) return { kind: 'implausible', delta, perSec };
  }
  return { kind: 'ok', delta, wrapped };
}

/** One interface's counters as read in one poll. Errors and discards are Counter32 in IF-MIB. */
export interface IfaceReading {
  /** Width of the octet counters: 64 when ifHCIn/OutOctets were read, else 32. */
  bits: CounterBits;
  inOctets: bigint;
  outOctets: bigint;
  inErrors?: bigint | undefined;
  outErrors?: bigint | undefined;
  inDiscards?: bigint | undefined;
  outDiscards?: bigint | undefined;
}

/** The rate and delta fields of an `iface` measurement. */
export interface IfaceDeltaFields {
  in_bps?: number;
  out_bps?: number;
  in_util_pct?: number;
  out_util_pct?: number;
  in_errors?: number;
  out_errors?: number;
  in_discards?: number;
  out_discards?: number;
  counter_reset?: 1;
}

/** Names of the counters of an `IfaceReading`. */
export type CounterName = 'inOctets' | 'outOctets' | 'inErrors' | 'outErrors' | 'inDiscards' | 'outDiscards';

/** A discarded delta, for the log. */
export interface ImplausibleDelta {
  counter: CounterName;
  delta: bigint;
  /** The rate it implied, counter units per second (octets/s or packets/s). */
  perSec: number;
  /** The bound it broke, same units. */
  maxPerSec: number;
}

/** Result of `ifaceDeltas`: the fields to emit, plus what happened for stats and logs. */
export interface IfaceDeltaOutcome {
  fields: IfaceDeltaFields;
  implausible: ImplausibleDelta[];
  /** Counters that restarted (empty on a reboot, which resets them all; see `fields.counter_reset`). */
  resets: CounterName[];
  wraps: number;
}

const PACKET_COUNTERS = [
  ['inErrors', 'in_errors'],
  ['outErrors', 'out_errors'],
  ['inDiscards', 'in_discards'],
  ['outDiscards', 'out_discards'],
] as const;

/**
 * Fields of one interface from two consecutive readings. `speedBps` undefined or 0 means unknown:
 * rates are then emitted without a plausibility bound and without utilisation.
 */
export function ifaceDeltas(prev: IfaceReading | undefined, cur: IfaceReading, interval: PollInterval, speedBps: number | undefined): IfaceDeltaOutcome {
  const out: IfaceDeltaOutcome = { fields: {}, implausible: [], resets: [], wraps: 0 };
  if (!prev || interval.kind === 'invalid') return out;
  if (interval.kind === 'reboot') {
    out.fields.counter_reset = 1;
    return out;
  }
  const speed = speedBps !== undefined && speedBps > 0 && Number.isFinite(speedBps) ? speedBps : undefined;
  const { wallSec, deviceSec } = interval;

  if (prev.bits === cur.bits) {
    const maxPerSec = speed !== undefined ? speed / 8 : undefined;
    for (const dir of ['in', 'out'] as const) {
      const counter = dir === 'in' ? 'inOctets' : 'outOctets';
      const d = counterDelta({ prev: prev[counter], cur: cur[counter], bits: cur.bits, deviceSec, wallSec, maxPerSec });
      if (d.kind === 'reset') {
        out.resets.push(counter);
        out.fields.counter_reset = 1;
      } else if (d.kind === 'implausible') {
        out.implausible.push({ counter, delta: d.delta, perSec: d.perSec, maxPerSec: (maxPerSec ?? 0) * PLAUSIBILITY_FACTOR });
      } else {
        if (d.wrapped) out.wraps++;
        let bps = (Number(d.delta) * 8) / wallSec;
        if (speed !== undefined) bps = Math.min(bps, speed);
        // Whole bits per second and hundredths of a percent: finer digits are noise from the poll timing,
        // and they cost bytes on metered satellite links (every report carries them).
        out.fields[`${dir}_bps`] = Math.round(bps);
        if (speed !== undefined) out.fields[`${dir}_util_pct`] = Math.round(Math.min(100, (bps / speed) * 100) * 100) / 100;
      }
    }
  }

  const maxPps = speed !== undefined ? speed / 8 / MIN_FRAME_OCTETS : undefined;
  for (const [counter, field] of PACKET_COUNTERS) {
    const p = prev[counter];
    const c = cur[counter];
    if (p === undefined || c === undefined) continue;
    const d = counterDelta({ prev: p, cur: c, bits: 32, deviceSec, wallSec, maxPerSec: maxPps });
    if (d.kind === 'reset') {
      out.resets.push(counter);
      out.fields.counter_reset = 1;
    } else if (d.kind === 'implausible') {
      out.implausible.push({ counter, delta: d.delta, perSec: d.perSec, maxPerSec: (maxPps ?? 0) * PLAUSIBILITY_FACTOR });
    } else {
      if (d.wrapped) out.wraps++;
      out.fields[field] = Number(d.delta);
    }
  }
  return out;
}
