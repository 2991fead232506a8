/**
 * What a county proxy's disk and heap must hold for the schools it watches, decided when its config is loaded:
 * the spool's default size from the schools and the schedule (a full agent's 64 MiB holds ~3 minutes of 2,000
 * schools), a spool that cannot hold one cycle of them refused, and a V8 heap too small for them refused before
 * it could crash-loop under systemd. Figures measured by bench/proxy.bench.ts (docs/benchmarks.md, County proxy).
 */
import { freeBytesAt, SPOOL_FREE_SHARE } from '../spool/config.js';
import { cronFields, nextCronMatch } from '../schedule.js';

/**
 * Spool bytes of one school's report, framed: 5 ping targets and a 48-port gateway take 13.8 KB (median of
 * 10,494 reports of bench/proxy.bench.ts, largest 13,941 bytes). Schools with more devices take more.
 */
export const PROXY_REPORT_BYTES = 14 * 1024;

/** Hours of all schools' reports the default spool is sized for: a collector outage of a whole day and night. */
export const DEFAULT_PROXY_SPOOL_HOURS = 24;

/** Below this many hours the proxy warns at start: a collector outage overnight would drop reports. */
export const PROXY_SPOOL_WARN_HOURS = 6;

/** Live heap of one watched school (2,000 schools held ~100 MB live at the cycle's peak). */
export const PROXY_HEAP_BYTES_PER_SCHOOL = 50 * 1024;

/** Heap of the process itself (code, the registry, buffers) besides the schools. */
export const PROXY_HEAP_BASE_BYTES = 64 * 1024 * 1024;

/**
 * Heap of one spooled report's index entry (segment, offset, sizes in its school's map): 98.7 bytes, measured with
 * 1,000,000 entries over 2,000 schools (heapUsed after a full GC). A day of 2,000 schools is 2.9 million reports.
 */
export const PROXY_SPOOL_INDEX_BYTES_PER_REPORT = 100;

/** V8 needs room above what is live to collect garbage without a full GC every few ms (it ran at ~1.4×). */
export const PROXY_HEAP_MARGIN = 1.5;

const MIB = 1024 * 1024;
const HOUR_MS = 3_600_000;

/**
 * Cycles an hour of a cron schedule, averaged over the next week (a schedule of school hours or school days
 * only counts those; a day would read 0 for a weekday schedule loaded on a Saturday); 60 for `* * * * *`.
 * Undefined for an expression `cronFields` cannot expand (L, W, #) or one with no match in the week.
 */
export function cyclesPerHour(schedule: string, fromMs: number = Date.now()): number | undefined {
  const fields = cronFields(schedule);
  if (!fields) return undefined;
  const weekMs = 7 * 24 * HOUR_MS;
  let n = 0;
  let t = fromMs;
  // A schedule of every second would take 604,800 steps: past MAX_STEPS the rate so far stands for the week.
  const MAX_STEPS = 100_000;
  for (;;) {
    const next = nextCronMatch(fields, t);
    if (next === undefined || next > fromMs + weekMs) break;
    n++;
    t = next;
    if (n >= MAX_STEPS) return n / ((t - fromMs) / HOUR_MS);
  }
  return n > 0 ? n / (weekMs / HOUR_MS) : undefined;
}

/** Options of `proxySpoolSizing`. */
export interface ProxySpoolSizingOptions {
  schools: number;
  /** The configured limit, if any. */
  maxSpoolBytes?: number;
  dir: string;
  minFreeBytes: number;
  schedule: string;
  /** Free bytes of the spool's filesystem (default: read now; undefined when unreadable). */
  freeBytes?: number | undefined;
  /** V8's heap limit: the default spool is also held to what its in-memory index leaves room for (unset: no such cap). */
  heapLimitBytes?: number;
  now?: number;
}

/** The spool's limit and what it holds. */
export interface ProxySpoolSizing {
  maxSpoolBytes: number;
  /** Whether the limit is the default (sized here) rather than configured. */
  defaulted: boolean;
  /** Bytes of one cycle of every school. */
  cycleBytes: number;
  /** Hours of all the schools' reports the limit holds (undefined when the schedule's rate is unknown). */
  hours: number | undefined;
  /** The limit holds less than one cycle of all schools: reports would be lost at once in an outage. */
  problem?: string;
}

/**
 * The proxy's spool limit: the configured one, else DEFAULT_PROXY_SPOOL_HOURS of every school's reports at the
 * schedule's rate, capped by half the free space of the spool's filesystem above minFreeBytes (the full agent's
 * share; the full agent's 1-64 MiB bounds do not apply) and by the heap its index may take. A limit below one
 * cycle of all schools is a problem.
 */
export function proxySpoolSizing(o: ProxySpoolSizingOptions): ProxySpoolSizing {
  const cycleBytes = Math.max(1, o.schools) * PROXY_REPORT_BYTES;
  const perHour = cyclesPerHour(o.schedule, o.now);
  const hourBytes = perHour === undefined ? undefined : cycleBytes * perHour;
  const free = 'freeBytes' in o ? o.freeBytes : freeBytesAt(o.dir);
  const share = free === undefined ? undefined : Math.floor(Math.max(0, free - o.minFreeBytes) * SPOOL_FREE_SHARE);
  const wanted = Math.ceil((hourBytes ?? cycleBytes * 60) * DEFAULT_PROXY_SPOOL_HOURS);
  const heapRoom = o.heapLimitBytes === undefined ? Infinity : Math.floor((o.heapLimitBytes - proxyHeapBytes(o.schools, 0)) / (PROXY_SPOOL_INDEX_BYTES_PER_REPORT * PROXY_HEAP_MARGIN)) * PROXY_REPORT_BYTES;
  const defaulted = o.maxSpoolBytes === undefined;
  const maxSpoolBytes = o.maxSpoolBytes ?? Math.max(64 * 1024, Math.min(wanted, share ?? Infinity, heapRoom));
  const hours = hourBytes ? maxSpoolBytes / hourBytes : undefined;
  const out: ProxySpoolSizing = { maxSpoolBytes, defaulted, cycleBytes, hours };
  if (maxSpoolBytes < cycleBytes) {
    const why = defaulted
      ? `the default (${fmtMiB(maxSpoolBytes)}: at most half the free space of ${o.dir}'s filesystem above spool.minFreeBytes, and what the heap leaves for its index) `
      : `spool.maxSpoolBytes ${maxSpoolBytes} (${fmtMiB(maxSpoolBytes)}) `;
    out.problem = `${why}holds less than one cycle of the ${o.schools} schools (${o.schools} × ~${PROXY_REPORT_BYTES / 1024} KiB = ${fmtMiB(cycleBytes)}): every report would be dropped in the first collector outage; give the spool at least ${cycleBytes} bytes, better ${DEFAULT_PROXY_SPOOL_HOURS} hours (${hourBytes ? Math.ceil(hourBytes * DEFAULT_PROXY_SPOOL_HOURS) : '?'} bytes), on a disk with the room`;
  }
  return out;
}

/**
 * Why the V8 heap is too small for the schools, or undefined when it is large enough. A proxy that runs out of
 * heap dies mid-cycle and systemd restarts it into the same death every 10 s; refusing at start says what to change.
 */
export function proxyHeapProblem(schools: number, heapLimitBytes: number, spoolBytes = 0): string | undefined {
  const reports = Math.ceil(spoolBytes / PROXY_REPORT_BYTES);
  const needed = proxyHeapBytes(schools, reports);
  if (heapLimitBytes >= needed) return undefined;
  const mib = Math.ceil(needed / (128 * MIB)) * 128;
  return (
    `the V8 heap limit (${Math.round(heapLimitBytes / MIB)} MiB) is too small for ${schools} schools${reports ? ` and a spool of ${fmtMiB(spoolBytes)}` : ''}: they need about ${Math.ceil(needed / MIB)} MiB ` +
    `((${PROXY_HEAP_BASE_BYTES / MIB} MiB + ${PROXY_HEAP_BYTES_PER_SCHOOL / 1024} KiB a school${reports ? ` + ${PROXY_SPOOL_INDEX_BYTES_PER_REPORT} bytes for each of the spool's ~${reports} reports` : ''}) × ${PROXY_HEAP_MARGIN} for the garbage collector); ` +
    `the proxy would run out of heap mid-cycle and restart in a loop. Start node with --max-old-space-size=${mib} ` +
    `(campuslink-proxy.service: the ExecStart= line's --max-old-space-size=512, and MemoryMax= to at least ${Math.max(768, mib + 256)}M)${reports ? ', or lower spool.maxSpoolBytes' : ''}, or watch fewer schools with this proxy`
  );
}

/** Heap bytes a proxy of this many schools needs, with this many reports spooled. */
export function proxyHeapBytes(schools: number, spooledReports: number): number {
  return Math.ceil(PROXY_HEAP_BASE_BYTES + (schools * PROXY_HEAP_BYTES_PER_SCHOOL + spooledReports * PROXY_SPOOL_INDEX_BYTES_PER_REPORT) * PROXY_HEAP_MARGIN);
}

function fmtMiB(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}
