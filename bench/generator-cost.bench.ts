/**
 * The province soak's load generator alone: its CPU per batch sent, this tree's generator against an
 * older one (its peer, `--peer-ref`, default the merge base with main) in the same run, interleaved.
 *
 *   npx tsx bench/generator-cost.bench.ts [--schools 20000] [--sessions N] [--rounds 2] [--warmup-s 15] [--window-s 60] [--peer-ref REF]
 *     [--render-ahead 0] [--peer-preconnect 1]
 *
 * Each generator runs as its own process (bench/fleet/generator-main.ts of its tree, as the soak forks
 * it) against a stand-in collector in another process (bench/fleet/ack-server.ts: decodes every body with
 * the protocol's decodeBatch and acknowledges it; closes sessions unused for 60 s and idle for 15 min, as
 * the collector's listener does). Both open each session on its first upload, as the soak drives them
 * (`--peer-preconnect 1` opens the peer's all before the load, for a peer from before session 7); this
 * tree's generator renders its bodies ahead of the send as the soak has it do (`--render-ahead 0`: each
 * when sent). Sessions default to the 60,000-school soak's share: 18,500 for 60,000 schools. The figure is
 * the generator process's own CPU (process.cpuUsage, user + system) over the window ÷ batches it sent in
 * it; the ratio is peer ÷ this tree (> 1: this tree is cheaper). The fleet's schedule is the soak's:
 * 1/2/4 reports a batch, 781 batches/s at 60,000 schools.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { makeFleet, offeredBatchesPerSec } from './fleet/fleet.js';
import { GeneratorClient, type GeneratorStats } from './fleet/generator-client.js';
import { peerGeneratorScript } from './fleet/peer-tree.js';
import type { BenchResult } from './snmp-poll.bench.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] as string) : def;
}

/** Starts the stand-in collector; resolves with its port and a function that stops it and returns its counts. */
async function ackServer(): Promise<{ port: number; stop: () => Promise<string> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/fleet/ack-server.ts')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  while (!out.includes('\n')) {
    if (child.exitCode !== null) throw new Error(`ack server exited (${child.exitCode})`);
    await sleep(50);
  }
  const port = (JSON.parse(out.split('\n')[0] as string) as { port: number }).port;
  return {
    port,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
      return out.split('\n')[1] ?? '';
    },
  };
}

interface RunFigures {
  usPerBatch: number;
  batchesPerSec: number;
  failures: string;
  sessions: string;
  server: string;
}

/** One generator against a fresh stand-in collector: CPU per batch over the window. */
async function runOne(script: string, peer: boolean, o: { schools: number; sessions: number; warmupS: number; windowS: number; dir: string; renderAhead: boolean; peerPreconnect: boolean }): Promise<RunFigures> {
  const srv = await ackServer();
  const tokensFile = join(o.dir, 'tokens.txt');
  writeFileSync(tokensFile, `${Array.from({ length: o.schools }, (_, i) => `clat_${String(i).padStart(40, '0')}`).join('\n')}\n`);
  // Sequences of six digits: every body comes from a template, as in a seeded soak.
  // This tree's generator renders every body of the run ahead, as the soak drives it (an older one ignores the field).
  const renderAheadMs = peer || !o.renderAhead ? 0 : (o.warmupS + o.windowS + 60) * 1000;
  const job = { url: `http://127.0.0.1:${srv.port}`, schools: o.schools, tokensFile, lastSeq: Array.from({ length: o.schools }, () => 100_000), liveStartMs: Date.now() + 2000, sessions: o.sessions, renderAheadMs };
  const gen = await GeneratorClient.start(job, join(o.dir, 'job.json'), script);
  let f: Omit<RunFigures, 'server'>;
  let server: string;
  try {
    if (peer && o.peerPreconnect) await gen.connect(3000);
    const startedAt = Date.now();
    await gen.begin(startedAt);
    await sleep(o.warmupS * 1000);
    const s0: GeneratorStats = await gen.stats();
    await sleep(o.windowS * 1000);
    const s1: GeneratorStats = await gen.stats();
    const batches = s1.counters.batchesSent - s0.counters.batchesSent;
    const c = s1.counters as GeneratorStats['counters'] & { sessionsClosedByCollector?: number; sessionsDropped?: number };
    f = {
      usPerBatch: ((s1.cpuUserMs + s1.cpuSystemMs - s0.cpuUserMs - s0.cpuSystemMs) * 1000) / batches,
      batchesPerSec: batches / o.windowS,
      failures: JSON.stringify(c.failures),
      sessions: `opened ${c.sessionsOpened}, open ${c.sessionsOpen}${c.sessionsClosedByCollector !== undefined ? `, closed by the collector ${c.sessionsClosedByCollector}` : ''}`,
    };
  } finally {
    await gen.stop();
    server = await srv.stop();
  }
  return { ...f, server };
}

/** Median (the mean of the middle two of an even count). */
function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Runs the benchmark. */
export async function run(): Promise<BenchResult> {
  const schools = Number(arg('schools', '20000'));
  const sessions = Number(arg('sessions', String(Math.max(1, Math.round((schools * 18_500) / 60_000)))));
  const rounds = Number(arg('rounds', '2'));
  const warmupS = Number(arg('warmup-s', '15'));
  const windowS = Number(arg('window-s', '60'));
  const renderAhead = arg('render-ahead', '1') !== '0';
  const peerPreconnect = arg('peer-preconnect', '0') !== '0';
  const ref = arg('peer-ref', execFileSync('git', ['-C', ROOT, 'merge-base', 'HEAD', 'main'], { encoding: 'utf8' }).trim());
  const dir = mkdtempSync(join(tmpdir(), 'gen-cost-'));
  const load: string[] = [];
  try {
    const peerScript = peerGeneratorScript(ROOT, ref, join(dir, 'peer'));
    const ours = join(ROOT, 'bench/fleet/generator-main.ts');
    const o = { schools, sessions, warmupS, windowS, dir, renderAhead, peerPreconnect };
    console.log(`generator cost: ${schools} schools on ${sessions} sessions, ${offeredBatchesPerSec(makeFleet(schools)).toFixed(0)} batches/s; peer ${ref.slice(0, 12)}; ${rounds} rounds of ${warmupS} s + ${windowS} s each; load average ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
    const peerUs: number[] = [];
    const oursUs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // Interleaved, the order alternating, so a change in the box's load falls on both.
      for (const which of r % 2 === 0 ? (['peer', 'ours'] as const) : (['ours', 'peer'] as const)) {
        const f = await runOne(which === 'peer' ? peerScript : ours, which === 'peer', o);
        const la = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
        load.push(la);
        (which === 'peer' ? peerUs : oursUs).push(f.usPerBatch);
        console.log(`  round ${r + 1} ${which}: ${f.usPerBatch.toFixed(0)} µs CPU per batch sent, ${f.batchesPerSec.toFixed(0)} batches/s; sessions ${f.sessions}; failures ${f.failures}; stand-in collector ${f.server}; load ${la}`);
      }
    }
    const ratio = median(peerUs) / median(oursUs);
    // Each round's own ratio: the two runs of a round saw the most similar load.
    const paired = peerUs.map((p, i) => (p / (oursUs[i] as number)).toFixed(2)).join(', ');
    const spread = (xs: number[]) => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`;
    return {
      name: `generator CPU per batch sent, ${schools} schools`,
      figures: { schools, sessions, peer_ref: ref.slice(0, 12), peer_us_per_batch_median: Math.round(median(peerUs)), peer_us_per_batch_range: spread(peerUs), this_us_per_batch_median: Math.round(median(oursUs)), this_us_per_batch_range: spread(oursUs), ratio_by_round: paired, load_averages: load.join('; ') },
      ratio,
      goal: 'peer ÷ this > 1 (this tree cheaper)',
      pass: ratio > 1,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().then(
    (r) => {
      console.log(`${r.pass ? 'PASS' : 'MISS'} ${r.name}: ratio ${r.ratio.toFixed(2)} (goal: ${r.goal})`);
      for (const [k, v] of Object.entries(r.figures)) console.log(`       ${k}: ${v}`);
      process.exit(r.pass ? 0 : 1);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
