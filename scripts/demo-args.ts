/** The demo's command line, validated in full before anything starts. */
import { Command } from 'commander';

/** What `npm run demo -- …` asked for. */
export interface DemoArgs {
  /** Stop after this many ms; undefined: until Ctrl-C. */
  durationMs?: number;
  /** As typed, for messages. */
  duration?: string;
  schools: number;
  /** Collection cycle of the demo agents, seconds (a divisor-free `*\/N` seconds field: 1–59). */
  intervalS: number;
  stateDir: string;
  /** `--national`: two provinces (青海, 宁夏) with their own collectors and a national hub. */
  national?: boolean;
}

/** Parses `90s`, `5m`, `1h`, `500ms` (a bare number is seconds); throws on anything else or on 0. */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  const ms = m ? Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'] : NaN;
  if (!(ms > 0) || !Number.isFinite(ms) || ms > 2 ** 31 - 1) throw new Error(`--duration: expected e.g. 90s, 5m or 1h, got "${s}"`);
  return ms;
}

function integer(name: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n < min || n > max) throw new Error(`${name}: expected a whole number from ${min} to ${max}, got "${v}"`);
  return n;
}

/**
 * Reads and checks every argument; throws one Error naming each bad one. `maxSchools` is the size
 * of the example registry.
 */
export function parseDemoArgs(argv: readonly string[], opts: { maxSchools: number }): DemoArgs {
  const o = new Command('demo')
    .exitOverride()
    .option('--duration <d>', 'stop after this long (e.g. 90s, 5m); default: until Ctrl-C')
    .option('--schools <n>', 'number of schools (agents); with --national per province, default 3')
    .option('--interval <seconds>', 'collection cycle of the demo agents, in seconds (1-59)', '10')
    .option('--state-dir <dir>', 'where the demo keeps its state (wiped at start)', '.state/demo')
    .option('--national', 'a small national deployment: two provincial collectors (青海, 宁夏) rolling up to a national hub; --schools per province', false)
    .parse([...argv], { from: 'user' })
    .opts<{ duration?: string; schools?: string; interval: string; stateDir: string; national: boolean }>();
  const problems: string[] = [];
  const attempt = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (e) {
      problems.push((e as Error).message);
      return undefined;
    }
  };
  const durationMs = o.duration === undefined ? undefined : attempt(() => parseDuration(o.duration as string));
  // A national demo runs three processes per school less lightly than one collector: a few agents per province.
  const schools = attempt(() => integer('--schools', o.schools ?? (o.national ? '3' : '20'), 1, opts.maxSchools));
  const intervalS = attempt(() => integer('--interval', o.interval, 1, 59));
  if (!o.stateDir.trim() || o.stateDir.trim() === '/') problems.push(`--state-dir: "${o.stateDir}" cannot be wiped`);
  if (problems.length || schools === undefined || intervalS === undefined) throw new Error(problems.join('\n'));
  return { ...(durationMs !== undefined && { durationMs, duration: o.duration }), schools, intervalS, stateDir: o.stateDir, ...(o.national === true && { national: true }) };
}

/** The example registry the demo's schools come from. */
export const DEMO_REGISTRY = 'config/schools.example.csv';

// `tsx scripts/demo-args.ts ARGS…` checks the arguments alone (scripts/demo.sh, before it installs or builds).
if (process.argv[1] && /demo-args\.[jt]s$/.test(process.argv[1])) {
  const { loadRegistry } = await import('../collector/registry/load.js');
  const { join } = await import('node:path');
  try {
    parseDemoArgs(process.argv.slice(2), { maxSchools: loadRegistry(join(import.meta.dirname, '..', DEMO_REGISTRY)).schools.size });
  } catch (e) {
    if ((e as { exitCode?: number }).exitCode === 0) process.exit(0);
    if (!(e as { code?: string }).code?.startsWith('commander.')) process.stderr.write(`demo: ${(e as Error).message}\nnothing was started; see npm run demo -- --help\n`);
    process.exit(2);
  }
}
