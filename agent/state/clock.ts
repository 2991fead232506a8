/**
 * The agent's clocks.
 *
 * - `ClockStore`: its offset against the collector (`serverTime` in every ack) and the clock steps it saw,
 *   stored in `<stateDir>/clock.json` so a restarted agent with a wrong clock corrects its first report too,
 *   and so reports spooled before a step are corrected when they are sent, also after a restart.
 * - `AnchoredClock`: wall time read from a monotonic clock anchored to the last wall time taken as good, so
 *   a step of the wall clock (NTP at last reachable, an operator's `date -s`) never bends the times of a
 *   running cycle, and is noticed: `check()` returns the step, which the store records.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { writeFileDurable } from '../../protocol/durable.js';
import { readIfExists, setAside } from './damaged.js';

export interface ClockOffset {
  /** Collector time minus agent time, ms. */
  offsetMs: number;
  /** Agent time of the measurement, ms since the epoch. */
  measuredAtMs: number;
}

/** A step of the agent's wall clock: reports of `epoch` up to `uptoSeq` were stamped `deltaMs` off. */
export interface ClockStep {
  epoch: string;
  uptoSeq: number;
  deltaMs: number;
}

interface ClockFile {
  offsetMs?: number;
  measuredAtMs?: number;
  steps?: ClockStep[];
}

/** Steps remembered: a backlog older than this many steps is sent as stamped (and judged by the collector). */
export const MAX_CLOCK_STEPS = 16;
/** An offset that moves more than this from the trusted one needs confirming, ms. */
export const OFFSET_JUMP_MS = 120_000;
/** Consecutive agreeing observations that confirm a jumped offset. */
export const OFFSET_CONFIRMATIONS = 3;
/** An exchange slower than this gives no offset: its midpoint could be off by half of it, ms. */
export const MAX_OFFSET_RTT_MS = 30_000;

export interface ClockStoreOptions {
  log?: Logger;
  now?: () => number;
}

export class ClockStore {
  private readonly path: string;
  private value: ClockOffset | undefined;
  private steps: ClockStep[] = [];
  /** A jumped offset awaiting confirmation: its value and how many observations agreed. */
  private candidate?: { offsetMs: number; seen: number };

  constructor(stateDir: string, private readonly opts: ClockStoreOptions = {}) {
    this.path = join(stateDir, 'clock.json');
    let text: string | undefined;
    try {
      text = readIfExists(() => readFileSync(this.path, 'utf8'));
      if (text === undefined) return;
      const v = JSON.parse(text) as ClockFile;
      if (typeof v !== 'object' || v === null) throw new Error('not an object');
      if (Number.isFinite(v.offsetMs) && Number.isFinite(v.measuredAtMs)) this.value = { offsetMs: v.offsetMs as number, measuredAtMs: v.measuredAtMs as number };
      if (Array.isArray(v.steps)) this.steps = v.steps.filter((s) => typeof s?.epoch === 'string' && Number.isSafeInteger(s.uptoSeq) && Number.isFinite(s.deltaMs)).slice(-MAX_CLOCK_STEPS);
    } catch (e) {
      setAside({ path: this.path, problem: String((e as Error).message ?? e), instead: 'the clock offset is measured again from the next ack', log: opts.log, now: opts.now });
    }
  }

  get(): ClockOffset | undefined {
    return this.value;
  }

  private save(): void {
    try {
      writeFileDurable(this.path, JSON.stringify({ ...this.value, steps: this.steps }));
    } catch {
      // A full disk: kept in memory; written at the next change. Never fail the ack or cycle it came with.
    }
  }

  /**
   * Records an offset from one exchange: the server's time against the midpoint of the request.
   * Persisted only when it moved by more than a second, to spare the disk. An exchange slower than
   * `MAX_OFFSET_RTT_MS` is ignored; an offset that jumps more than `OFFSET_JUMP_MS` from the trusted one (a
   * failover collector with a wrong clock, a proxy's cached answer) is trusted only once
   * `OFFSET_CONFIRMATIONS` observations in a row agree on it. Returns the offset now trusted.
   */
  observe(opts: { serverTimeMs: number; sentAtMs: number; answeredAtMs: number }): ClockOffset | undefined {
    if (!Number.isFinite(opts.serverTimeMs) || opts.answeredAtMs - opts.sentAtMs > MAX_OFFSET_RTT_MS || opts.answeredAtMs < opts.sentAtMs) return this.value;
    const offsetMs = Math.round(opts.serverTimeMs - (opts.sentAtMs + opts.answeredAtMs) / 2);
    if (this.value && Math.abs(this.value.offsetMs - offsetMs) > OFFSET_JUMP_MS) {
      const c = this.candidate;
      this.candidate = c && Math.abs(c.offsetMs - offsetMs) <= 5000 ? { offsetMs, seen: c.seen + 1 } : { offsetMs, seen: 1 };
      if (this.candidate.seen < OFFSET_CONFIRMATIONS) {
        if (this.candidate.seen === 1) this.opts.log?.warn({ code: 'AGT_ERR_CLOCK_STEP', trustedOffsetMs: this.value.offsetMs, offsetMs }, 'collector time jumped; not trusted until confirmed');
        return this.value;
      }
    }
    this.candidate = undefined;
    const next = { offsetMs, measuredAtMs: opts.answeredAtMs };
    const moved = !this.value || Math.abs(this.value.offsetMs - offsetMs) > 1000;
    this.value = next;
    if (moved) this.save();
    return next;
  }

  /**
   * Records a step of the local clock by `deltaMs` (new minus expected), taken after report `uptoSeq` of
   * `epoch`: reports up to it are corrected by the step when they are sent, and the offset measured before
   * the step is moved by it (the collector's time did not step).
   */
  recordStep(step: ClockStep): void {
    const last = this.steps.at(-1);
    if (last && last.epoch === step.epoch && last.uptoSeq === step.uptoSeq) last.deltaMs += step.deltaMs;
    else this.steps.push({ ...step });
    if (this.steps.length > MAX_CLOCK_STEPS) this.steps.splice(0, this.steps.length - MAX_CLOCK_STEPS);
    if (this.value) this.value = { offsetMs: this.value.offsetMs - step.deltaMs, measuredAtMs: this.value.measuredAtMs + step.deltaMs };
    this.save();
  }

  /** The correction a report stamped before steps needs: the sum of the steps taken after it, ms. */
  correctionFor(epoch: string, seq: number): number {
    let ms = 0;
    for (const s of this.steps) if (s.epoch === epoch && seq <= s.uptoSeq) ms += s.deltaMs;
    return ms;
  }
}

export interface AnchoredClockOptions {
  /** The wall clock, ms since the epoch. */
  wallNow: () => number;
  /** A monotonic clock, ms (performance.now()). */
  monoNow: () => number;
  /** A difference between the two larger than this is a step, ms. Default 5000. */
  stepThresholdMs?: number;
  /**
   * Time since boot including suspension, ms (Linux `/proc/uptime`), or undefined where unknown. The
   * monotonic clock stops while a machine or VM is suspended; when this clock agrees with the wall clock,
   * the difference was a suspension, not a step.
   */
  bootNow?: () => number | undefined;
}

/** `/proc/uptime` in ms (time since boot, suspension included); undefined where there is none. */
export function procUptimeMs(): number | undefined {
  try {
    const s = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return Number.isFinite(s) ? s * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** Wall time from a monotonic clock, anchored to the wall clock at start and at each step `check()` finds. */
export class AnchoredClock {
  private anchorWall: number;
  private anchorMono: number;
  private anchorBoot: number | undefined;
  private readonly threshold: number;

  constructor(private readonly opts: AnchoredClockOptions) {
    this.threshold = opts.stepThresholdMs ?? 5000;
    this.anchorWall = opts.wallNow();
    this.anchorMono = opts.monoNow();
    this.anchorBoot = opts.bootNow?.();
  }

  /** Now, ms since the epoch, unaffected by wall-clock steps since the last `check()`. */
  readonly now = (): number => Math.round(this.anchorWall + (this.opts.monoNow() - this.anchorMono));

  /**
   * Compares the wall clock with the anchored time; a difference beyond the threshold is a step: the clock
   * re-anchors to the wall (taken as corrected: NTP stepped it) and returns the step (ms, new minus
   * expected), else 0. Small drift is folded in silently.
   */
  check(): number {
    const wall = this.opts.wallNow();
    const mono = this.opts.monoNow();
    const boot = this.opts.bootNow?.();
    const step = wall - (this.anchorWall + (mono - this.anchorMono));
    const suspended = boot !== undefined && this.anchorBoot !== undefined && Math.abs(wall - this.anchorWall - (boot - this.anchorBoot)) <= this.threshold;
    this.anchorWall = wall;
    this.anchorMono = mono;
    this.anchorBoot = boot;
    return Math.abs(step) > this.threshold && !suspended ? Math.round(step) : 0;
  }
}
