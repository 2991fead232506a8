/**
 * The embedded influxd's cache snapshot size at province cardinality, A/B in the same run:
 *
 *   npx tsx bench/fleet/influxd-cache.bench.ts [--schools 20000] [--rounds 6] [--pairs 2] [--a-mib 25] [--b-mib 256]
 *
 * Each trial starts a fresh influxd with the generated config (collector/sink/influxd.ts) and one
 * `cache-snapshot-memory-size`, creates `--schools` × 22 series (one point each; not measured), then
 * writes `--rounds` more minutes of every series (one point per series per simulated minute, 5,000 lines a
 * write, 2 writes in flight, as the collector's sink does), and measures influxd's CPU time per point (all
 * threads, from /proc: what survives a loaded box), points/s, TSM files and bytes on disk, RSS, and the time
 * to be ready again after a SIGKILL (WAL replay of what the cache held). Trials alternate A, B, A, B….
 * The ratio is B's median CPU per point ÷ A's.
 */
import http from 'node:http';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startInfluxd } from '../../collector/sink/influxd.js';
import { cpuMs, rssBytes } from './procstat.js';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i > 0 ? Number(process.argv[i + 1]) : def;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
};

/** A school's 22 series as line-protocol heads (measurement and tags) and a field set maker. */
function schoolSeries(i: number): { head: string; fields: (t: number) => string }[] {
  const tags = `agent=gw-${i},city=${3201 + (i % 13)},county=${320100 + (i % 97)},province=32,school=${3200000000 + i}`;
  const out: { head: string; fields: (t: number) => string }[] = [];
  for (const target of ['internet', 'dns', 'peer', 'edu', 'gateway']) out.push({ head: `ping,${tags},target=${target}`, fields: (t) => `loss_pct=${t % 3},rtt_ms=${20 + (t % 17)},jitter_ms=${t % 5}` });
  for (const iface of ['wan', 'lan', 'wlan0', 'wlan1']) out.push({ head: `iface,${tags},iface=${iface},role=${iface === 'wan' ? 'wan' : 'lan'}`, fields: (t) => `rx_bps=${1e6 + t},tx_bps=${5e5 + t},errors=0` });
  out.push({ head: `sys,${tags}`, fields: (t) => `cpu_pct=${t % 100},mem_pct=${40 + (t % 20)},uptime_s=${t}` });
  for (let k = 0; k < 9; k++) out.push({ head: `inventory,${tags},class=c${k}`, fields: (t) => `count=${k + (t % 2)}` });
  out.push({ head: `modem,${tags}`, fields: (t) => `rsrp_dbm=${-90 - (t % 10)}` });
  out.push({ head: `agent,${tags},version=1.4.0`, fields: () => 'up=1' });
  out.push({ head: `report,${tags}`, fields: (t) => `seq=${t},measurements=22` });
  return out;
}

function post(url: string, body: Buffer, agent: http.Agent): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/write?db=bench&precision=ms`, { method: 'POST', agent, headers: { 'content-length': body.length } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`write answered ${res.statusCode}: ${text.slice(0, 300)}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Writes one simulated minute of every series, 5,000 lines a write, 2 in flight. */
async function writeRound(url: string, agent: http.Agent, schools: number, round: number, baseMs: number): Promise<number> {
  const t = baseMs + round * 60_000;
  let lines: string[] = [];
  let points = 0;
  const inFlight = new Set<Promise<void>>();
  const flush = async () => {
    const body = Buffer.from(lines.join('\n'));
    points += lines.length;
    lines = [];
    // A loaded box makes influxd answer 500 "timeout" now and then: the same write again (it overwrites itself).
    const send = async (): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await post(url, body, agent);
        } catch (e) {
          if (attempt >= 5) throw e;
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    };
    const p = send().finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= 2) await Promise.race(inFlight);
  };
  for (let i = 0; i < schools; i++) {
    for (const s of schoolSeries(i)) lines.push(`${s.head} ${s.fields(round + i)} ${t + (i % 60_000)}`);
    if (lines.length >= 5000) await flush();
  }
  if (lines.length) await flush();
  await Promise.all(inFlight);
  return points;
}

function tsmFiles(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith('.tsm')) {
        files++;
        bytes += statSync(join(d, e.name)).size;
      }
    }
  };
  walk(dir);
  return { files, bytes };
}

interface Trial {
  mib: number;
  cpuUsPerPoint: number;
  pointsPerSec: number;
  tsmFiles: number;
  tsmMiB: number;
  rssMiB: number;
  killRestartMs: number;
}

async function trial(o: { mib: number; schools: number; rounds: number }): Promise<Trial> {
  const dir = mkdtempSync(join(tmpdir(), 'campuslink-influxd-cache-'));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  let h = await startInfluxd({ dataDir: dir, cacheSnapshotBytes: o.mib * 2 ** 20, readyTimeoutMs: 120_000 });
  try {
    await new Promise<void>((res, rej) => http.request(`${h.url}/query?q=${encodeURIComponent('CREATE DATABASE bench')}`, { method: 'POST' }, (r) => (r.resume(), r.on('end', res))).on('error', rej).end());
    const baseMs = Date.now() - (o.rounds + 2) * 60_000;
    await writeRound(h.url, agent, o.schools, 0, baseMs);
    const cpu0 = cpuMs(h.pid);
    const t0 = performance.now();
    let points = 0;
    for (let r = 1; r <= o.rounds; r++) points += await writeRound(h.url, agent, o.schools, r, baseMs);
    const wallS = (performance.now() - t0) / 1000;
    // The compactions a round started run on: count them until influxd is idle for a second.
    for (let last = cpuMs(h.pid); ; ) {
      await new Promise((r) => setTimeout(r, 1000));
      const now = cpuMs(h.pid);
      if (now - last < 100) break;
      last = now;
    }
    const cpu = cpuMs(h.pid) - cpu0;
    const rss = rssBytes(h.pid);
    const tsm = tsmFiles(join(dir, 'data'));
    process.kill(h.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    const tr = performance.now();
    h = await startInfluxd({ dataDir: dir, cacheSnapshotBytes: o.mib * 2 ** 20, readyTimeoutMs: 300_000 });
    const killRestartMs = performance.now() - tr;
    return { mib: o.mib, cpuUsPerPoint: (cpu * 1000) / points, pointsPerSec: points / wallS, tsmFiles: tsm.files, tsmMiB: tsm.bytes / 2 ** 20, rssMiB: rss / 2 ** 20, killRestartMs };
  } finally {
    agent.destroy();
    await h.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

/** Runs the A/B. */
export async function run(): Promise<{ ratio: number; trials: Trial[] }> {
  const schools = arg('schools', 20_000);
  const rounds = arg('rounds', 6);
  const pairs = arg('pairs', 2);
  const a = arg('a-mib', 25);
  const b = arg('b-mib', 256);
  console.log(`influxd cache snapshot A/B: ${schools} schools × 22 series, ${rounds} measured rounds, ${pairs} pairs, A ${a} MiB vs B ${b} MiB; load average ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const trials: Trial[] = [];
  for (let p = 0; p < pairs; p++) {
    for (const mib of [a, b]) {
      const t = await trial({ mib, schools, rounds });
      trials.push(t);
      console.log(`  ${mib} MiB: ${t.cpuUsPerPoint.toFixed(1)} µs CPU/point, ${Math.round(t.pointsPerSec)} points/s, ${t.tsmFiles} TSM files ${t.tsmMiB.toFixed(0)} MiB, RSS ${t.rssMiB.toFixed(0)} MiB, ready after SIGKILL ${(t.killRestartMs / 1000).toFixed(1)} s`);
    }
  }
  const of = (mib: number, f: (t: Trial) => number) => trials.filter((t) => t.mib === mib).map(f);
  const ratio = median(of(b, (t) => t.cpuUsPerPoint)) / median(of(a, (t) => t.cpuUsPerPoint));
  for (const mib of [a, b]) {
    const cpu = of(mib, (t) => t.cpuUsPerPoint);
    console.log(`${mib} MiB: median ${median(cpu).toFixed(1)} µs CPU/point (${Math.min(...cpu).toFixed(1)}–${Math.max(...cpu).toFixed(1)}), ${Math.round(median(of(mib, (t) => t.pointsPerSec)))} points/s, TSM ${median(of(mib, (t) => t.tsmMiB)).toFixed(0)} MiB in ${median(of(mib, (t) => t.tsmFiles))} files, RSS ${median(of(mib, (t) => t.rssMiB)).toFixed(0)} MiB, ready after SIGKILL ${(median(of(mib, (t) => t.killRestartMs)) / 1000).toFixed(1)} s`);
  }
  console.log(`ratio B/A of influxd CPU per point: ${ratio.toFixed(2)}; load average at end ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  return { ratio, trials };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
