/**
 * `npm run demo`: the collector with its embedded InfluxDB, and 20 agents for the first 20 schools of the
 * example registry. Each agent polls its own simulated gateway (net-snmp's agent, one process, distinct
 * loopback ports) and pings loopback. Stops cleanly on Ctrl-C or after --duration.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { InfluxDB } from 'influx';
import { loadRegistry } from '../collector/registry/load.js';
import { startGatewayFleet } from '../sim/gateway.js';

const ROOT = resolve(import.meta.dirname, '..');
const DIST = join(ROOT, 'dist');

function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new Error(`--duration: expected e.g. 90s, 5m or 1h, got "${s}"`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * unit;
}

function bin(name: 'agent' | 'collector'): string {
  const p = join(DIST, name, 'cli.js');
  if (!existsSync(p)) throw new Error(`${p} is missing: run "npm run build" first (bash scripts/demo.sh does it for you)`);
  return p;
}

function run(args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((res, rej) => {
    const c = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => (code === 0 ? res(out) : rej(new Error(`${args.join(' ')} exited ${code}\n${err}`))));
  });
}

function startCollector(env: Record<string, string>): Promise<{ child: ChildProcess; url: string; influxUrl: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [bin('collector'), 'serve'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http\S+)/.exec(out);
      const influx = /writing to InfluxDB (http\S+)/.exec(out);
      if (m?.[1] && influx?.[1]) res({ child, url: m[1], influxUrl: influx[1] });
    });
    child.on('exit', (code) => rej(new Error(`collector exited ${code} before it was ready:\n${err}`)));
  });
}

async function main(): Promise<void> {
  const opts = new Command('demo')
    .option('--duration <d>', 'stop after this long (e.g. 90s, 5m); default: until Ctrl-C')
    .option('--schools <n>', 'number of schools (agents)', '20')
    .option('--interval <seconds>', 'collection cycle of the demo agents, in seconds', '10')
    .option('--state-dir <dir>', 'where the demo keeps its state (wiped at start)', '.state/demo')
    .parse(process.argv)
    .opts<{ duration?: string; schools: string; interval: string; stateDir: string }>();
  const schools = Number(opts.schools);
  const interval = Number(opts.interval);
  const stateDir = resolve(ROOT, opts.stateDir);
  rmSync(stateDir, { recursive: true, force: true });

  const registryPath = join(ROOT, 'config/schools.example.csv');
  const registry = loadRegistry(registryPath);
  const ids = [...registry.schools.keys()].slice(0, schools);
  if (ids.length < schools) throw new Error(`the example registry has only ${ids.length} schools`);

  const fleet = await startGatewayFleet({ count: schools, host: '127.0.0.1' });
  const collectorEnv = {
    CAMPUSLINK_STATE_DIR: join(stateDir, 'collector'),
    CAMPUSLINK_REGISTRY: registryPath,
    CAMPUSLINK_LISTEN: '127.0.0.1:0',
    CAMPUSLINK_INFLUX_URL: '',
    CAMPUSLINK_LOG_LEVEL: 'warn',
  };
  const collector = await startCollector(collectorEnv);

  const agents: ChildProcess[] = [];
  let stopping = false;
  let status: NodeJS.Timeout | undefined;
  const stop = async (why: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    clearInterval(status);
    process.stdout.write(`\n${why}: stopping agents, collector and gateways…\n`);
    await Promise.all(agents.map((a) => new Promise((r) => (a.exitCode !== null ? r(null) : (a.once('exit', r), a.kill('SIGTERM'))))));
    await new Promise((r) => (collector.child.exitCode !== null ? r(null) : (collector.child.once('exit', r), collector.child.kill('SIGTERM'))));
    await fleet.stop();
    process.stdout.write(exitCode ? 'demo stopped after a failure.\n' : 'demo stopped cleanly.\n');
    process.exit(exitCode);
  };
  for (const [i, id] of ids.entries()) {
    const token = (await run([bin('collector'), 'token', 'issue', '--school', id], collectorEnv)).trim().split('\n').pop() as string;
    const gw = fleet.gateways[i];
    if (!gw) throw new Error('gateway fleet is smaller than the number of schools');
    const school = registry.get(id);
    const env = {
      CAMPUSLINK_SCHOOL: id,
      CAMPUSLINK_AGENT_ID: `demo-${i + 1}`,
      CAMPUSLINK_TOKEN: token,
      CAMPUSLINK_COLLECTOR_URL: collector.url,
      CAMPUSLINK_LINK_TYPE: school?.linkType ?? 'fiber',
      // Satellite and cellular schools batch uploads for minutes by default; the demo shows every school at once.
      CAMPUSLINK_COLLECTOR_UPLOAD_INTERVAL_MS: String(interval * 1000),
      CAMPUSLINK_SCHEDULE: `*/${interval} * * * * *`,
      CAMPUSLINK_JITTER_MS: String(Math.min(2000, interval * 200)),
      CAMPUSLINK_SPOOL_DIR: join(stateDir, `agent-${i + 1}`, 'spool'),
      CAMPUSLINK_STATE_DIR: join(stateDir, `agent-${i + 1}`),
      CAMPUSLINK_SNMP_HOST: `${gw.host}:${gw.port}`,
      CAMPUSLINK_SNMP_COMMUNITY: gw.community,
      CAMPUSLINK_SNMP_WAN_INTERFACE: gw.interfaces[0]?.name ?? 'ge-0/0/0',
      CAMPUSLINK_TARGETS: '[{host: 127.0.0.1, role: gateway, count: 3, intervalMs: 200, timeoutMs: 1000}, {host: 127.0.0.2, role: internet, count: 3, intervalMs: 200, timeoutMs: 1000}]',
      CAMPUSLINK_LOG_LEVEL: 'warn',
    };
    const child = spawn(process.execPath, [bin('agent'), 'run'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('exit', (code) => {
      if (!stopping) void stop(`agent demo-${i + 1} (school ${id}) exited with ${code}`, 1);
    });
    agents.push(child);
  }

  const influx = new URL(collector.influxUrl);
  const client = new InfluxDB({ host: influx.hostname, port: Number(influx.port), database: 'campuslink' });

  process.stdout.write(
    [
      '',
      `campuslink demo: ${schools} schools, one agent each, a ${interval}s cycle.`,
      `  console        ${collector.url}/   (coverage, map, compliance, schools, offline; zh-CN / en)`,
      `  collector      ${collector.url}   (GET /healthz, /readyz; POST /api/v1/reports; GET /api/v1/coverage?level=national)`,
      `  InfluxDB       http://${influx.host}   database "campuslink" (embedded, data under ${join(stateDir, 'collector', 'influxdb')})`,
      `  try            curl -sG http://${influx.host}/query --data-urlencode db=campuslink --data-urlencode "q=SELECT mean(rtt_avg_ms) FROM ping WHERE time > now() - 5m GROUP BY school"`,
      `  stop           Ctrl-C${opts.duration ? ` (or wait ${opts.duration})` : ''}`,
      '',
    ].join('\n') + '\n',
  );

  const started = Date.now();
  status = setInterval(async () => {
    try {
      // One row per school that has written at least one report; `points` counts the measurement points.
      const rows = await client.query<{ school: string; reports: number; points: number }>(
        'SELECT count("seq") AS reports, sum("points") AS points FROM "report" GROUP BY "school"',
      );
      const reports = rows.reduce((n, r) => n + r.reports, 0);
      const points = rows.reduce((n, r) => n + r.points + r.reports, 0);
      process.stdout.write(`t=${Math.round((Date.now() - started) / 1000)}s  schools writing: ${rows.length}/${schools}  reports: ${reports}  points in InfluxDB: ${points}\n`);
    } catch (e) {
      process.stdout.write(`status query failed: ${(e as Error).message}\n`);
    }
  }, Math.max(5, interval) * 1000);

  process.on('SIGINT', () => void stop('Ctrl-C'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  if (opts.duration) setTimeout(() => void stop(`--duration ${opts.duration} reached`), parseDuration(opts.duration));
}

main().catch((e) => {
  process.stderr.write(`demo failed: ${(e as Error).message}\n`);
  process.exit(1);
});
