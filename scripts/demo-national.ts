/**
 * `npm run demo -- --national`: a small national deployment on loopback. Two provincial collectors
 * (青海 63 and 宁夏 64, each with its own embedded InfluxDB, the example registry's schools of that
 * province and a few agents) enroll with a national hub (`role: national`, its own InfluxDB) and send it
 * their roll-ups; the hub's console shows the nation → province → city → county, and a school list
 * is a link to the province's console. Stop a province (kill its pid) to watch it turn stale.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Registry } from '../collector/registry/index.js';
import type { GatewayFleet } from '../sim/gateway.js';
import type { DemoArgs } from './demo-args.js';
import type { ChildGroup } from './processes.js';

/** The provinces of the example registry the national demo runs. */
export const DEMO_PROVINCES = [
  { code: '63', name: '青海省' },
  { code: '64', name: '宁夏回族自治区' },
] as const;

/** What the national demo borrows from scripts/demo.ts: its process group and starters. */
export interface NationalDemoDeps {
  args: DemoArgs;
  /** The repository root, the children's working directory. */
  root: string;
  registry: Registry;
  registryPath: string;
  stateDir: string;
  children: ChildGroup;
  bin(name: 'agent' | 'collector'): string;
  run(args: string[], env: Record<string, string>): Promise<string>;
  startCollector(env: Record<string, string>): Promise<{ child: ChildProcess; url: string; influxUrl: string }>;
  startFleet(count: number): Promise<GatewayFleet>;
  agentEnv(a: { id: string; i: number; token: string; collectorUrl: string; linkType: string; args: DemoArgs; stateDir: string; gw: GatewayFleet['gateways'][number] }): Record<string, string>;
  stop(why: string, exitCode?: number): Promise<never>;
  stopping(): boolean;
}

/** A free loopback port (the province must know its console's address before it starts). */
function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** The registry CSV's rows of one province (header kept), written to `file`. */
function splitRegistry(source: string, province: string, file: string): void {
  const lines = readFileSync(source, 'utf8').split(/\r?\n/).filter((l) => l.trim());
  const head = lines[0] as string;
  const col = head.split(',').indexOf('province_code');
  writeFileSync(file, `${[head, ...lines.slice(1).filter((l) => l.split(',')[col] === `${province}0000`)].join('\n')}\n`);
}

/** Every few seconds: the hub's national totals, and which provinces are stale. */
function startHubStatus(hubUrl: string, intervalS: number): NodeJS.Timeout {
  const started = Date.now();
  return setInterval(async () => {
    try {
      const c = (await (await fetch(`${hubUrl}/api/v1/coverage?level=national`)).json()) as { registered: number; online: number; provinces?: { reporting: number; stale: number }; staleProvinces?: { name: string }[] };
      const stale = c.staleProvinces?.length ? `  stale: ${c.staleProvinces.map((p) => p.name).join(', ')}` : '';
      process.stdout.write(`t=${Math.round((Date.now() - started) / 1000)}s  national: ${c.online}/${c.registered} schools online  provinces reporting: ${c.provinces?.reporting ?? 0}${stale}\n`);
    } catch (e) {
      process.stdout.write(`hub status failed: ${(e as Error).message}\n`);
    }
  }, Math.max(5, intervalS) * 1000);
}

/** One province: an enrollment code from the hub, its collector (its schools only), a token and an agent per school. */
async function startProvince(d: NationalDemoDeps, p: { code: string; name: string; ids: readonly string[]; firstAgent: number; hubUrl: string; hubEnv: Record<string, string>; intervalMs: number; fleet: GatewayFleet }): Promise<{ code: string; name: string; url: string; pid: number | undefined; schools: number }> {
  const code = (await d.run([d.bin('collector'), 'enroll', 'issue', '--province', p.code], p.hubEnv)).match(/clke_[A-Za-z0-9_-]+/)?.[0];
  if (!code) throw new Error(`the hub printed no enrollment code for province ${p.code}`);
  const dir = join(d.stateDir, `province-${p.code}`);
  mkdirSync(dir, { recursive: true });
  const registry = join(dir, 'schools.csv');
  splitRegistry(d.registryPath, p.code, registry);
  const port = await freePort();
  const env = {
    CAMPUSLINK_STATE_DIR: join(dir, 'collector'),
    CAMPUSLINK_REGISTRY: registry,
    CAMPUSLINK_LISTEN: `127.0.0.1:${port}`,
    CAMPUSLINK_INFLUX_URL: '',
    CAMPUSLINK_INFLUX_EMBEDDED_PORT: '0',
    CAMPUSLINK_HUB_URL: p.hubUrl,
    CAMPUSLINK_HUB_ENROLL_CODE: code,
    CAMPUSLINK_HUB_INTERVAL_MS: String(p.intervalMs),
    CAMPUSLINK_HUB_MIN_INTERVAL_MS: String(Math.min(p.intervalMs, 5000)),
    CAMPUSLINK_HUB_CONSOLE_URL: `http://127.0.0.1:${port}/console`,
    CAMPUSLINK_LOG_LEVEL: 'warn',
  };
  const col = await d.startCollector(env);
  for (const [j, id] of p.ids.entries()) {
    if (d.stopping()) break;
    const i = p.firstAgent + j;
    const token = (await d.run([d.bin('collector'), 'token', 'issue', '--school', id], env)).trim().split('\n').pop() as string;
    const gw = p.fleet.gateways[i];
    if (!gw) throw new Error('gateway fleet is smaller than the number of schools');
    const aenv = d.agentEnv({ id, i, token, collectorUrl: col.url, linkType: d.registry.get(id)?.linkType ?? 'fiber', args: d.args, stateDir: dir, gw });
    const child = d.children.spawn(process.execPath, [d.bin('agent'), 'run'], { cwd: d.root, env: { ...process.env, ...aenv }, stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('exit', (c) => {
      if (!d.stopping()) void d.stop(`agent demo-${i + 1} (school ${id}) exited with ${c}`, 1);
    });
  }
  return { code: p.code, name: p.name, url: col.url, pid: col.child.pid, schools: p.ids.length };
}

/** Starts the hub, both provinces and their agents; prints where everything is. Returns the status timer. */
export async function runNationalDemo(d: NationalDemoDeps): Promise<NodeJS.Timeout> {
  const { args, stateDir } = d;
  const intervalMs = Math.max(5000, args.intervalS * 1000);
  const hubEnv = {
    CAMPUSLINK_ROLE: 'national',
    CAMPUSLINK_STATE_DIR: join(stateDir, 'hub'),
    CAMPUSLINK_LISTEN: `127.0.0.1:${await freePort()}`,
    CAMPUSLINK_INFLUX_URL: '',
    // Three embedded influxd on one machine: each on a free port.
    CAMPUSLINK_INFLUX_EMBEDDED_PORT: '0',
    // Three missed roll-ups: a province stopped shows stale within half a minute.
    CAMPUSLINK_HUB_STALE_AFTER_MS: String(Math.max(10_000, 3 * intervalMs)),
    CAMPUSLINK_LOG_LEVEL: 'warn',
  };
  const hub = await d.startCollector(hubEnv);
  const perProvince = DEMO_PROVINCES.map((p) => [...d.registry.schools.values()].filter((s) => s.provinceCode === `${p.code}0000`).slice(0, args.schools).map((s) => s.id));
  const fleet = await d.startFleet(perProvince.reduce((n, ids) => n + ids.length, 0));
  // Both provinces start side by side (enrollment, collector, tokens, agents): half the wait on a busy machine.
  const offsets = perProvince.map((_, k) => perProvince.slice(0, k).reduce((n, ids) => n + ids.length, 0));
  const provinces = await Promise.all(DEMO_PROVINCES.map((p, k) => startProvince(d, { ...p, ids: perProvince[k] ?? [], firstAgent: offsets[k] ?? 0, hubUrl: hub.url, hubEnv, intervalMs, fleet })));
  const agent = perProvince.reduce((n, ids) => n + ids.length, 0);
  process.stdout.write(
    [
      '',
      `campuslink national demo: a hub and ${provinces.length} provinces, ${agent} schools with one agent each, a ${args.intervalS}s cycle, a roll-up every ${intervalMs / 1000}s.`,
      `  national hub   ${hub.url}/   (nation → province → city → county, map, national alerts; zh-CN / en)`,
      `                 ${hub.url}/api/v1/coverage?level=national   ${hub.url}/api/v1/hub/feeds`,
      ...provinces.map((p) => `  province ${p.code}    ${p.url}/   (${p.name}: its own console and schools; ${p.schools} agents; collector pid ${p.pid})`),
      `  try            kill ${provinces[0]?.pid ?? '<pid>'}   (that province turns "stale" on the hub within ${Math.round(Math.max(10_000, 3 * intervalMs) / 1000)} s, its last figures kept)`,
      `  stop           Ctrl-C${args.duration ? ` (or wait ${args.duration})` : ''}`,
      '',
    ].join('\n') + '\n',
  );
  return startHubStatus(hub.url, args.intervalS);
}
