/**
 * The cycle's schedules. `cronTask` runs a node-cron expression (validated and expanded by node-cron's
 * `parse`) on a timer to its next match, computed with the Date object's local-time fields.
 *
 * Why not node-cron's own scheduler: it reads the time of day through `Intl.DateTimeFormat`, whose first
 * use pages ICU locale and time-zone data and ICU code of the node binary into the agent's RSS for good:
 * 6.4 MB measured (ICU data 0.4 -> 5.4 MB, code +1.3 MB), a tenth of the agent's 64 MB budget; the Date
 * getters used here touch 0.5 MB. Expressions with node-cron's day tokens (`L`, `W`, `#`) still run on
 * node-cron's scheduler, which implements them.
 */
import cron, { parse } from 'node-cron';

/** A running schedule, shaped like node-cron's task. */
export interface CycleTask {
  stop(): unknown;
  /** True while a run is under way. */
  isBusy(): boolean;
  destroy(): unknown;
}

/** A fixed-interval schedule; never overlaps itself. */
export function intervalTask(everyMs: number, fn: () => Promise<void>): CycleTask {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void fn().finally(() => (busy = false));
  }, everyMs);
  return { stop: () => clearInterval(timer), isBusy: () => busy, destroy: () => clearInterval(timer) };
}

/** The values each field of an expression allows, as node-cron's `parse` expands them. */
export interface CronFields {
  second: readonly number[];
  minute: readonly number[];
  hour: readonly number[];
  /** 1–31. */
  dayOfMonth: readonly number[];
  /** 1–12. */
  month: readonly number[];
  /** 0–6, Sunday 0. */
  dayOfWeek: readonly number[];
}

/** The expanded fields of an expression; undefined when it uses `L`, `W` or `#`. Throws for an invalid one. */
export function cronFields(expression: string): CronFields | undefined {
  const f = parse(expression) as Record<keyof CronFields, (number | string)[]>;
  const numeric = (v: (number | string)[]): v is number[] => v.every((x) => typeof x === 'number');
  if (!(numeric(f.second) && numeric(f.minute) && numeric(f.hour) && numeric(f.dayOfMonth) && numeric(f.month) && numeric(f.dayOfWeek))) return undefined;
  return f as CronFields;
}

/** node-cron searches this far ahead for a match, and so does `nextCronMatch`. */
const MAX_DAYS = 366 * 100;

/**
 * The first local time strictly after `afterMs` (ms since the epoch) whose second, minute, hour,
 * day of month, month and day of week are all allowed (node-cron's rule: every field must match);
 * undefined when none comes within 100 years. A local time that a daylight-saving change skips never matches.
 */
export function nextCronMatch(fields: CronFields, afterMs: number): number | undefined {
  const has = (list: readonly number[], v: number) => list.includes(v);
  let t = new Date(Math.floor(afterMs / 1000) * 1000 + 1000);
  /** The next candidate: the local time given, or `stepMs` on where a repeated (daylight-saving) hour made it go back. */
  const forward = (next: Date, stepMs: number) => (next.getTime() > t.getTime() ? next : new Date(t.getTime() + stepMs));
  const limit = afterMs + MAX_DAYS * 86_400_000;
  while (t.getTime() <= limit) {
    const [y, mo, d, h, mi] = [t.getFullYear(), t.getMonth(), t.getDate(), t.getHours(), t.getMinutes()];
    // Each miss moves to the start of the next unit of that field, so a year takes a few thousand steps.
    if (!has(fields.month, mo + 1)) {
      t = forward(new Date(y, mo + 1, 1), 3_600_000);
    } else if (!has(fields.dayOfMonth, d) || !has(fields.dayOfWeek, t.getDay())) {
      t = forward(new Date(y, mo, d + 1), 3_600_000);
    } else if (!has(fields.hour, h)) t = forward(new Date(y, mo, d, h + 1), 60_000);
    else if (!has(fields.minute, mi)) t = forward(new Date(y, mo, d, h, mi + 1), 1000);
    else if (!has(fields.second, t.getSeconds())) t = new Date(t.getTime() + 1000);
    else return t.getTime();
  }
  return undefined;
}

/** Options of `cronTask`. */
export interface CronTaskOptions {
  /** node-cron expression (5 fields, or 6 with seconds, or a nickname such as `@hourly`). */
  expression: string;
  run: () => Promise<void>;
  /** Each run starts after a random delay below this, ms (0: none). */
  maxRandomDelayMs?: number;
  /** Random number in [0, 1) (tests). */
  random?: () => number;
}

/** setTimeout's longest delay; a later match is waited for in several steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Runs `run` at each match of the expression, after up to `maxRandomDelayMs` of random delay; a match
 * that comes while a run (or its delay) is under way is skipped, so runs never overlap. `stop()` cancels
 * a run still waiting out its delay; one under way finishes (`isBusy()`).
 */
export function cronTask(options: CronTaskOptions): CycleTask {
  const fields = cronFields(options.expression);
  if (!fields) return cron.schedule(options.expression, options.run, { noOverlap: true, maxRandomDelay: options.maxRandomDelayMs ?? 0 });
  const random = options.random ?? Math.random;
  let timer: NodeJS.Timeout | undefined;
  let delay: NodeJS.Timeout | undefined;
  let pending = false;
  let running = false;
  let stopped = false;
  const arm = (afterMs: number) => {
    const next = nextCronMatch(fields, afterMs);
    if (next === undefined || stopped) return;
    const wait = next - Date.now();
    if (wait > MAX_TIMER_MS) {
      timer = setTimeout(() => arm(afterMs), MAX_TIMER_MS);
      return;
    }
    timer = setTimeout(() => fire(next), Math.max(0, wait));
  };
  const fire = (due: number) => {
    // A timer may fire a little early: wait for the due second itself.
    if (Date.now() < due) {
      timer = setTimeout(() => fire(due), due - Date.now());
      return;
    }
    arm(Math.max(due, Date.now()));
    if (pending || running) return;
    pending = true;
    delay = setTimeout(
      () => {
        delay = undefined;
        pending = false;
        if (stopped) return;
        running = true;
        void options
          .run()
          .catch(() => undefined)
          .finally(() => (running = false));
      },
      Math.floor(random() * (options.maxRandomDelayMs ?? 0)),
    );
  };
  arm(Date.now());
  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    clearTimeout(delay);
    pending = false;
  };
  return { stop, isBusy: () => running, destroy: stop };
}
