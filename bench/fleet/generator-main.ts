/**
 * The load generator as its own process (forked by bench/province-soak.bench.ts with an IPC channel),
 * so its CPU and memory are measured apart from the collector's. Reads its job from the JSON file named
 * in argv[2]; answers the parent's messages: connect, start, stats, latency, stop.
 */
import { readFileSync } from 'node:fs';
import { cheapAsyncBind } from './cheap-bind.js';
import { makeFleet } from './fleet.js';
import { LoadGenerator } from './generator.js';
import { trustCa } from './tls-trust.js';

/** The job file the parent writes. */
export interface GeneratorJob {
  url: string;
  schools: number;
  tokensFile: string;
  lastSeq: number[];
  liveStartMs: number;
  /** HTTP/2 sessions (default one per school). */
  sessions?: number;
  /** Render bodies this far ahead of their send, ms (LoadGenerator renderAheadMs; default 0: when sent). */
  renderAheadMs?: number;
  /** false: keep node's own AsyncResource.prototype.bind (cheap-bind.ts), for an A/B. */
  cheapAsyncBind?: boolean;
  /** With an https: url: the CA its certificate chains to. */
  caFile?: string;
}

/** Messages from the parent. */
export type GeneratorRequest =
  | { id: number; op: 'connect'; perSec: number }
  | { id: number; op: 'start'; liveStartMs: number }
  | { id: number; op: 'stats' }
  | { id: number; op: 'latency'; fromMs: number; toMs: number }
  | { id: number; op: 'stop' };

const job = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as GeneratorJob;
if (job.cheapAsyncBind !== false) cheapAsyncBind();
if (job.caFile) trustCa(job.caFile);
const tokens = readFileSync(job.tokensFile, 'utf8').split('\n').filter(Boolean);
const gen = new LoadGenerator({ url: job.url, fleet: makeFleet(job.schools), tokens, lastSeq: job.lastSeq, liveStartMs: job.liveStartMs, ...(job.sessions && { sessions: job.sessions }), ...(job.renderAheadMs && { renderAheadMs: job.renderAheadMs }) });
const cpu0 = process.cpuUsage();

const reply = (id: number, result: unknown) => process.send?.({ id, result });
process.on('message', (m: GeneratorRequest) => {
  try {
    switch (m.op) {
      case 'connect':
        gen.connectAll(m.perSec).then(() => reply(m.id, gen.counters), (e: Error) => reply(m.id, { error: e.message }));
        return;
      case 'start':
        gen.start(m.liveStartMs);
        return reply(m.id, true);
      case 'stats': {
        const cpu = process.cpuUsage(cpu0);
        return reply(m.id, { counters: gen.counters, firstFailure: gen.firstFailure, cpuUserMs: cpu.user / 1000, cpuSystemMs: cpu.system / 1000, loopDelayMaxMs: gen.loopDelay.max / 1e6, loopDelayP99Ms: gen.loopDelay.percentile(99) / 1e6, rssBytes: rssOrNaN(), renderAheadBytes: gen.renderAheadBytes });
      }
      case 'latency':
        return reply(m.id, gen.latency(m.fromMs, m.toMs));
      case 'stop':
        gen.stop();
        reply(m.id, true);
        setTimeout(() => process.exit(0), 200);
        return;
    }
  } catch (e) {
    reply(m.id, { error: (e as Error).message });
  }
});
process.on('disconnect', () => process.exit(0));
process.send?.({ id: 0, result: 'ready' });

/** The generator's RSS; NaN when it cannot be read (reading /proc needs a descriptor, and the generator may hold all of them). */
function rssOrNaN(): number {
  try {
    return process.memoryUsage.rss();
  } catch {
    return Number.NaN;
  }
}
