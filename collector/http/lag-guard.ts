/**
 * Sheds uploads while the event loop lags: a bounded-overload guard beside `http.maxInflightRequests`.
 *
 * When the loop has just been held (a long GC, a burst of work, a starved CPU), the uploads that arrived
 * meanwhile all come due at once; decoding and writing every one of them holds the loop again, and the
 * lag feeds itself. While the lag seen in the last second or two exceeds the bound, a new upload is answered
 * 503 `COL_ERR_OVERLOADED` with Retry-After before its body is read: a few microseconds instead of the
 * whole ingest path, and the agents back off.
 *
 * The lag is the lateness of one process-wide timer (every `TICK_MS`), started on first use and unref'd.
 */

const TICK_MS = 50;
/** A lag counts for this long (between one and two of these, by bucket), ms. */
const WINDOW_MS = 1000;

/** The lateness of a timer firing every TICK_MS: its largest value in this bucket of WINDOW_MS and the one before. */
export class LagMonitor {
  private expected = 0;
  private bucket = -1;
  private cur = 0;
  private prev = 0;
  private started = false;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Records a lateness seen at `t` (0 only moves the buckets on). */
  private note(t: number, lateMs: number): void {
    const b = Math.floor(t / WINDOW_MS);
    if (b !== this.bucket) {
      this.prev = b === this.bucket + 1 ? this.cur : 0;
      this.cur = 0;
      this.bucket = b;
    }
    if (lateMs > this.cur) this.cur = lateMs;
  }

  /** One tick at `t`: its lateness against the one expected, and the next one expected TICK_MS later. */
  observe(t: number): void {
    if (this.bucket >= 0) this.note(t, Math.max(0, t - this.expected));
    else this.note(t, 0);
    this.expected = t + TICK_MS;
  }

  private start(): void {
    this.started = true;
    this.observe(this.now());
    const tick = () => {
      this.observe(this.now());
      setTimeout(tick, TICK_MS).unref();
    };
    setTimeout(tick, TICK_MS).unref();
  }

  /** The largest lag of the last one to two seconds, or of the tick overdue right now, ms. Starts the timer on first use (unless observe() was called). */
  recentMaxMs(): number {
    if (!this.started && this.bucket < 0) this.start();
    const t = this.now();
    this.note(t, 0);
    // An overdue tick is lag too: the loop may be held right now by the burst the caller is part of.
    return Math.max(this.cur, this.prev, t - this.expected);
  }
}

let shared: LagMonitor | undefined;

export interface LagGuardOptions {
  /** Lag above which uploads are shed, ms; 0 turns the guard off. */
  maxLagMs: number;
  /** The monitor (tests); default one shared by the process. */
  monitor?: LagMonitor;
}

/** Whether to shed an upload now, and the lag that says so. */
export interface LagGuard {
  /** The recent lag in ms when it is over the bound, else undefined. */
  over(): number | undefined;
}

/** The guard for one ingest handler; all share one monitor timer. */
export function createLagGuard(opts: LagGuardOptions): LagGuard {
  if (!(opts.maxLagMs > 0)) return { over: () => undefined };
  return {
    over() {
      const monitor = opts.monitor ?? (shared ??= new LagMonitor());
      const lag = monitor.recentMaxMs();
      return lag > opts.maxLagMs ? Math.round(lag) : undefined;
    },
  };
}
