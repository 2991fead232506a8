/**
 * `npm run demo`: the collector with its embedded InfluxDB, and 20 agents for the first 20 schools of the
 * example registry. Each agent polls its own simulated gateway (net-snmp's agent, one process, distinct
 * loopback ports) and pings loopback. Stops cleanly on Ctrl-C or after --duration; arguments are checked
 * before anything starts, and every child is stopped whatever moment the demo is stopped at.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CommanderError } from 'commander';
import { InfluxDB } from 'influx';
import { loadRegistry } from '../collector/registry/load.js';
import { startGatewayFleet, type GatewayFleet } from '../sim/gateway.js';
import { parseDemoArgs, type DemoArgs } from './demo-args.js';
import { runNationalDemo } from './demo-national.js';
import { ChildGroup } from './processes.js';

/** The repository root: the nearest directory with package.json, from scripts/ and from dist/scripts/ alike. */
function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

const ROOT = findRoot(import.meta.dirname);
const REGISTRY = join(ROOT, 'config/schools.example.csv');
const children = new ChildGroup();
let fleet: GatewayFleet | undefined;
let status: NodeJS.Timeout | undefined;
let stopping: Promise<never> | undefined;

function bin(name: 'agent' | 'collector'): string {
  const p = join(ROOT, 'dist', name, 'cli.js');
  if (!existsSync(p)) throw new Error(`${p} is missing: run "npm run build" first (bash scripts/demo.sh does it for you)`);
  return p;
}

/** Stops everything started so far, at whatever stage the demo is, then exits. */
function stop(why: string, exitCode = 0): Promise<never> {
  stopping ??= (async () => {
    clearInterval(status);
    process.stdout.write(`\n${why}: stopping agents, collector and gateways…\n`);
    await children.stopAll();
    await fleet?.stop();
    process.stdout.write(exitCode ? 'demo stopped after a failure.\n' : 'demo stopped cleanly.\n');
    process.exit(exitCode);
  })();
  return stopping;
}

function run(args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((res, rej) => {
    const c = children.spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout?.on('data', (d) => (out += d));
    c.stderr?.on('data', (d) => (err += d));
    c.on('error', rej);
    c.on('close', (code) => (code === 0 ? res(out) : rej(new Error(`${args.join(' ')} exited ${code}\n${err}`))));
  });
}

/** `tolerateExit`: the national demo's provinces may be killed on purpose (to show "stale" on the hub). */
function startCollector(env: Record<string, string>, tolerateExit = false): Promise<{ child: ChildProcess; url: string; influxUrl: string }> {
  return new Promise((res, rej) => {
    const child = children.spawn(process.execPath, [bin('collector'), 'serve'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr?.on('data', (d) => (err += d));
    child.stdout?.on('data', (d) => {
      out += d;
      const m = /listening on (http\S+)/.exec(out);
      const influx = /writing to InfluxDB (http\S+)/.exec(out);
      if (m?.[1] && influx?.[1]) res({ child, url: m[1], influxUrl: influx[1] });
    });
    child.on('error', rej);
    child.on('exit', (code) => {
      rej(new Error(`collector exited ${code} before it was ready:\n${err}`));
      if (tolerateExit && out.includes('listening on')) {
        if (!stopping) process.stdout.write(`a provincial collector (${env.CAMPUSLINK_LISTEN}) exited with ${code}: the hub shows its province stale\n`);
        return;
      }
      if (!stopping) process.stderr.write(`collector exited ${code}${out.includes('listening on') ? '' : ' before it was ready'}:\n${err.slice(-4000)}\n`);
      if (!stopping) void stop(`the collector exited with ${code}`, 1);
    });
  });
}

/** The environment of the demo agent for school `id`, number `i`. */
function agentEnv(a: { id: string; i: number; token: string; collectorUrl: string; linkType: string; args: DemoArgs; stateDir: string; gw: GatewayFleet['gateways'][number] }): Record<string, string> {
  const { intervalS } = a.args;
  const dir = join(a.stateDir, `agent-${a.i + 1}`);
  return {
    CAMPUSLINK_SCHOOL: a.id,
    CAMPUSLINK_AGENT_ID: `demo-${a.i + 1}`,
    CAMPUSLINK_TOKEN: a.token,
    CAMPUSLINK_COLLECTOR_URL: a.collectorUrl,
    CAMPUSLINK_LINK_TYPE: a.linkType,
    // Satellite and cellular schools batch uploads for minutes by default; the demo shows every school at once.
    CAMPUSLINK_COLLECTOR_UPLOAD_INTERVAL_MS: String(intervalS * 1000),
    CAMPUSLINK_SCHEDULE: `*/${intervalS} * * * * *`,
    CAMPUSLINK_JITTER_MS: String(Math.min(2000, intervalS * 200)),
    CAMPUSLINK_SPOOL_DIR: join(dir, 'spool'),
    CAMPUSLINK_STATE_DIR: dir,
    CAMPUSLINK_SNMP_HOST: `${a.gw.host}:${a.gw.port}`,
    CAMPUSLINK_SNMP_COMMUNITY: a.gw.community,
    CAMPUSLINK_SNMP_WAN_INTERFACE: a.gw.interfaces[0]?.name ?? 'ge-0/0/0',
    CAMPUSLINK_TARGETS: '[{host: 127.0.0.1, role: gateway, count: 3, intervalMs: 200, timeoutMs: 1000}, {host: 127.0.0.2, role: internet, count: 3, intervalMs: 200, timeoutMs: 1000}]',
    CAMPUSLINK_LOG_LEVEL: 'warn',
  };
}

/** Every few seconds: how many of the demo's schools have written a report, and how much. */
function startStatus(a: { influxUrl: string; ids: readonly string[]; intervalS: number }): NodeJS.Timeout {
  const influx = new URL(a.influxUrl);
  const client = new InfluxDB({ host: influx.hostname, port: Number(influx.port), database: 'campuslink' });
  const ours = new Set(a.ids);
  const started = Date.now();
  return setInterval(async () => {
    try {
      const rows = await client.query<{ school: string; reports: number; points: number }>('SELECT count("seq") AS reports, sum("points") AS points FROM "report" GROUP BY "school"');
      // Distinct schools of this demo: a series split in two (or a school of an earlier run) is not counted twice.
      const writing = new Set(rows.map((r) => r.school).filter((s) => ours.has(s)));
      const reports = rows.reduce((n, r) => n + r.reports, 0);
      const points = rows.reduce((n, r) => n + r.points + r.reports, 0);
      process.stdout.write(`t=${Math.round((Date.now() - started) / 1000)}s  schools writing: ${writing.size}/${a.ids.length}  reports: ${reports}  points in InfluxDB: ${points}\n`);
    } catch (e) {
      process.stdout.write(`status query failed: ${(e as Error).message}\n`);
    }
  }, Math.max(5, a.intervalS) * 1000);
}

async function main(): Promise<void> {
  // Handlers first: a signal at any later moment stops what has been started so far.
  process.on('SIGINT', () => void stop('Ctrl-C'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  const registry = loadRegistry(REGISTRY);
  let args: DemoArgs;
  try {
    args = parseDemoArgs(process.argv.slice(2), { maxSchools: registry.schools.size });
  } catch (e) {
    if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
    process.stderr.write(`demo: ${(e as Error).message}\nnothing was started; see npm run demo -- --help\n`);
    process.exit(2);
  }
  const ids = [...registry.schools.keys()].slice(0, args.schools);
  bin('agent');
  bin('collector');
  const stateDir = resolve(ROOT, args.stateDir);
  rmSync(stateDir, { recursive: true, force: true });
  if (args.national) {
    status = await runNationalDemo({
      args, root: ROOT, registry, registryPath: REGISTRY, stateDir, children, bin, run,
      startCollector: (env) => startCollector(env, env.CAMPUSLINK_ROLE !== 'national'),
      startFleet: async (count) => (fleet = await startGatewayFleet({ count, host: '127.0.0.1' })),
      agentEnv, stop, stopping: () => stopping !== undefined,
    });
    if (args.durationMs !== undefined) setTimeout(() => void stop(`--duration ${args.duration} reached`), args.durationMs);
    return;
  }

  fleet = await startGatewayFleet({ count: args.schools, host: '127.0.0.1' });
  if (stopping) return;
  const collectorEnv = {
    CAMPUSLINK_STATE_DIR: join(stateDir, 'collector'),
    CAMPUSLINK_REGISTRY: REGISTRY,
    CAMPUSLINK_LISTEN: '127.0.0.1:0',
    CAMPUSLINK_INFLUX_URL: '',
    CAMPUSLINK_LOG_LEVEL: 'warn',
  };
  const collector = await startCollector(collectorEnv);

  for (const [i, id] of ids.entries()) {
    const token = (await run([bin('collector'), 'token', 'issue', '--school', id], collectorEnv)).trim().split('\n').pop() as string;
    const gw = fleet.gateways[i];
    if (!gw) throw new Error('gateway fleet is smaller than the number of schools');
    const env = agentEnv({ id, i, token, collectorUrl: collector.url, linkType: registry.get(id)?.linkType ?? 'fiber', args, stateDir, gw });
    const child = children.spawn(process.execPath, [bin('agent'), 'run'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('exit', (code) => {
      if (!stopping) void stop(`agent demo-${i + 1} (school ${id}) exited with ${code}`, 1);
    });
  }

  const influx = new URL(collector.influxUrl);
  process.stdout.write(
    [
      '',
      `campuslink demo: ${args.schools} schools, one agent each, a ${args.intervalS}s cycle.`,
      `  console        ${collector.url}/   (coverage, map, compliance, schools, offline; zh-CN / en)`,
      `  collector      ${collector.url}   (GET /healthz, /readyz; POST /api/v1/reports; GET /api/v1/coverage?level=national)`,
      `  InfluxDB       http://${influx.host}   database "campuslink" (embedded, data under ${join(stateDir, 'collector', 'influxdb')})`,
      `  try            curl -sG http://${influx.host}/query --data-urlencode db=campuslink --data-urlencode "q=SELECT mean(rtt_avg_ms) FROM ping WHERE time > now() - 5m GROUP BY school"`,
      `  stop           Ctrl-C${args.duration ? ` (or wait ${args.duration})` : ''}`,
      '',
    ].join('\n') + '\n',
  );
  status = startStatus({ influxUrl: collector.influxUrl, ids, intervalS: args.intervalS });
  if (args.durationMs !== undefined) setTimeout(() => void stop(`--duration ${args.duration} reached`), args.durationMs);
}

main().catch((e: unknown) => {
  if (stopping) return;
  process.stderr.write(`demo failed: ${(e as Error).message}\n`);
  void stop('start-up failed', 1);
});
