/**
 * What held the collector's event loop during the soak's window: its CPU profile's long tasks by entry
 * (long-tasks.ts) and its GC pauses (gc-trace.ts), as figures and a printable report. The soak starts the
 * first collector with `loopCauseFlags()` and reads the files after that process ended.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gcFigures, parseGcTrace } from './gc-trace.js';
import { cpuByModule, formatCpuByModule } from './cpu-by-module.js';
import { formatLongTasks, longTasks, type CpuProfile } from './long-tasks.js';

/** The node flags that make the files: a CPU profile of the main thread into `dir`, and GC lines on stdout. */
export function loopCauseFlags(dir: string): string[] {
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--trace-gc'];
}

/** The main thread's profile of process `pid` in `dir` (`CPU.<date>.<time>.<pid>.0.<seq>.cpuprofile`). */
function mainProfile(dir: string, pid: number): string | undefined {
  if (!existsSync(dir)) return undefined;
  const f = readdirSync(dir).find((n) => new RegExp(`^CPU\\.\\d+\\.\\d+\\.${pid}\\.0\\.\\d+\\.cpuprofile$`).test(n));
  return f && join(dir, f);
}

export interface LoopCauses {
  figures: Record<string, number | string>;
  /** The long-task report, for the console. */
  text: string;
}

/**
 * Reads the profile and GC trace of collector `pid` for the window [fromMs, toMs) (wall clock; the
 * process was spawned at spawnedAtMs: profile and trace count from about then, within ~0.1 s).
 */
export function loopCauses(o: { profileDir: string; logPath: string; pid: number; spawnedAtMs: number; fromMs: number; toMs: number; top?: number; reportsHeld?: number }): LoopCauses {
  const fromMs = o.fromMs - o.spawnedAtMs;
  const toMs = o.toMs - o.spawnedAtMs;
  const figures: Record<string, number | string> = {};
  const gc = gcFigures(parseGcTrace(readFileSync(o.logPath, 'utf8'), o.pid), fromMs, toMs);
  for (const [kind, f] of Object.entries(gc)) {
    const k = kind.toLowerCase().replace(/[^a-z]+/g, '_');
    figures[`gc_${k}_count`] = f.count;
    figures[`gc_${k}_pause_max_ms`] = Math.round(f.maxPauseMs);
    figures[`gc_${k}_pause_total_ms`] = f.totalPauseMs;
    figures[`gc_${k}_pauses_over_50ms`] = f.over50;
  }
  const file = mainProfile(o.profileDir, o.pid);
  if (!file) {
    figures.loop_causes = `no CPU profile of pid ${o.pid} in ${o.profileDir} (the process did not exit cleanly?)`;
    return { figures, text: String(figures.loop_causes) };
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const r = longTasks(profile, { minMs: 50, fromMs, toMs });
  // Main-thread CPU by module (cpu-by-module.ts), per report held in the window when the caller knows how many.
  const modules = cpuByModule(profile, { fromMs, toMs });
  const perReport = (ms: number) => (o.reportsHeld ? Math.round((ms * 1000) / o.reportsHeld) : Math.round(ms));
  figures.collector_main_thread_cpu_by_module = `${o.reportsHeld ? 'µs per report held' : 'ms'}: ${modules.rows
    .slice(0, 12)
    .map((m) => `${m.name} ${perReport(m.ms)}`)
    .join('; ')}`;
  figures.loop_long_tasks = r.tasks.length;
  figures.loop_longest_task_ms = r.tasks[0]?.durationMs ?? 0;
  figures.loop_longest_task_sampled_ms = r.tasks[0]?.cpuMs ?? 0;
  figures.collector_main_thread_busy_pct = r.profileMs ? Math.round((100 * r.busyMs) / r.profileMs) : NaN;
  figures.loop_top_causes = r.byEntry
    .slice(0, o.top ?? 6)
    .map((e) => `${e.entry} ${e.ms} ms in ${e.tasks} (max ${e.maxInTaskMs})`)
    .join('; ');
  figures.loop_longest_runs = r.longestRuns
    .slice(0, o.top ?? 6)
    .map((e) => `${e.entry} ${e.ms} ms (${e.sampledMs} sampled)`)
    .join('; ');
  return { figures, text: `${formatLongTasks(r, 15, 50)}\nmain-thread CPU by module in the window:\n${formatCpuByModule(modules, { reports: o.reportsHeld && Math.round(o.reportsHeld), top: 30 })}` };
}
