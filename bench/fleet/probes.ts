/**
 * Outside views of a running collector for the soak: a /healthz prober (its answer time bounds how
 * long the collector's event loop was blocked, queueing included; a loop-delay figure in the answer is
 * read when the collector exposes one) and a /proc sampler of RSS, CPU and descriptors.
 */
import http from 'node:http';
import https from 'node:https';
import { benchTls } from './tls-trust.js';
import { cpuMs, fdCount, rssBytes, rssParts, threadCpuMs, type RssParts } from './procstat.js';

/**
 * Finds the "max" figure of the event-loop delay in a /healthz answer, in ms: the one of the recent
 * window when the answer has one (e.g. `eventLoop.window.maxMs`), else any (e.g. since start).
 */
export function loopDelayFromHealthz(body: unknown): number | undefined {
  const found: { path: string; ms: number }[] = [];
  const walk = (v: unknown, path: string) => {
    if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`.toLowerCase());
    else if (typeof v === 'number' && /loop/.test(path) && /max/.test(path)) {
      // Nanoseconds (perf_hooks' unit) unless the name says ms.
      found.push({ path, ms: /ms/.test(path) ? v : /ns/.test(path) ? v / 1e6 : v });
    }
  };
  walk(body, '');
  const windowed = found.filter((f) => /window/.test(f.path));
  const pick = windowed.length ? windowed : found;
  return pick.length ? Math.max(...pick.map((f) => f.ms)) : undefined;
}

/** Polls GET /healthz every `everyMs` and keeps answer times. */
export class HealthProbe {
  private timer?: NodeJS.Timeout;
  private agent?: http.Agent;
  private get = http.get;
  private busy = false;
  readonly samples: { atMs: number; ms: number; ok: boolean; loopMaxMs?: number }[] = [];

  constructor(
    private readonly url: string,
    private readonly everyMs = 200,
  ) {}

  start(): void {
    const secure = this.url.startsWith('https:');
    this.agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 1, ...(benchTls.ca && { ca: benchTls.ca }) }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
    if (secure) this.get = https.get;
    this.timer = setInterval(() => this.probe(), this.everyMs);
  }

  private probe(): void {
    // One at a time: a stalled collector shows as one long answer, not a pile of queued ones.
    if (this.busy) return;
    this.busy = true;
    const t0 = performance.now();
    const atMs = Date.now();
    const req = this.get(`${this.url}/healthz`, { agent: this.agent, timeout: 30_000 }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString('utf8')));
      res.on('end', () => {
        let loopMaxMs: number | undefined;
        try {
          loopMaxMs = loopDelayFromHealthz(JSON.parse(text));
        } catch {
          /* not JSON: the answer time still counts */
        }
        this.samples.push({ atMs, ms: performance.now() - t0, ok: res.statusCode === 200, ...(loopMaxMs !== undefined && { loopMaxMs }) });
        this.busy = false;
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => {
      this.samples.push({ atMs, ms: performance.now() - t0, ok: false });
      this.busy = false;
    });
  }

  /**
   * Answer times of probes started in [fromMs, toMs), sorted, how many failed, and the largest
   * loop delay the collector itself reported in them (undefined when its /healthz has none).
   */
  between(fromMs: number, toMs: number): { sorted: number[]; failed: number; reportedLoopMaxMs?: number } {
    const s = this.samples.filter((x) => x.atMs >= fromMs && x.atMs < toMs);
    const reported = s.flatMap((x) => (x.loopMaxMs === undefined ? [] : [x.loopMaxMs]));
    return { sorted: s.filter((x) => x.ok).map((x) => x.ms).sort((a, b) => a - b), failed: s.filter((x) => !x.ok).length, ...(reported.length && { reportedLoopMaxMs: Math.max(...reported) }) };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.agent?.destroy();
  }
}

/** One sample of the processes under test. */
export interface ProcSample {
  atMs: number;
  collectorRss: number;
  influxdRss: number;
  generatorRss: number;
  /** Anonymous and file-backed resident memory (procstat.ts rssParts). */
  collectorRssParts: RssParts;
  influxdRssParts: RssParts;
  collectorCpuMs: number;
  influxdCpuMs: number;
  generatorCpuMs: number;
  collectorFds: number;
  /** A reverse proxy in front of the collector (`--front`), NaN without one. */
  frontRss: number;
  frontCpuMs: number;
  /** The collector's CPU ms by thread name (procstat.ts threadCpuMs). */
  collectorThreadsCpuMs: Record<string, number>;
}

/** Samples /proc of collector, influxd and generator every `everyMs`. */
export class ProcSampler {
  private timer?: NodeJS.Timeout;
  readonly samples: ProcSample[] = [];

  constructor(private readonly pids: { collector: number; influxd?: number; generator: number; front?: number }) {}

  sample(): ProcSample {
    const p = this.pids;
    const s: ProcSample = {
      atMs: Date.now(),
      collectorRss: rssBytes(p.collector),
      influxdRss: p.influxd ? rssBytes(p.influxd) : NaN,
      generatorRss: rssBytes(p.generator),
      collectorRssParts: rssParts(p.collector),
      influxdRssParts: p.influxd ? rssParts(p.influxd) : { anon: NaN, file: NaN, shmem: NaN },
      collectorCpuMs: cpuMs(p.collector),
      influxdCpuMs: p.influxd ? cpuMs(p.influxd) : NaN,
      generatorCpuMs: cpuMs(p.generator),
      collectorFds: fdCount(p.collector),
      frontRss: p.front ? rssBytes(p.front) : NaN,
      frontCpuMs: p.front ? cpuMs(p.front) : NaN,
      collectorThreadsCpuMs: threadCpuMs(p.collector),
    };
    this.samples.push(s);
    return s;
  }

  start(everyMs: number): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The sample nearest to a time. */
  at(ms: number): ProcSample {
    let best = this.samples[0] as ProcSample;
    for (const s of this.samples) if (Math.abs(s.atMs - ms) < Math.abs(best.atMs - ms)) best = s;
    return best;
  }
}

/** CPU µs per unit (e.g. per report held) of each collector thread between two samples, largest first: `main 640, V8 Worker 210, …`. */
export function threadCpuPerUnit(a: ProcSample, b: ProcSample, units: number): string {
  const names = new Set([...Object.keys(a.collectorThreadsCpuMs), ...Object.keys(b.collectorThreadsCpuMs)]);
  return [...names]
    .map((n) => [n, (((b.collectorThreadsCpuMs[n] ?? 0) - (a.collectorThreadsCpuMs[n] ?? 0)) * 1000) / units] as const)
    .filter(([, us]) => us > 0)
    .sort((x, y) => y[1] - x[1])
    .map(([n, us]) => `${n} ${Math.round(us)}`)
    .join(', ');
}

/** Least-squares slope of y over time, per minute. */
export function slopePerMin(points: readonly { atMs: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, p) => a + p.atMs, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.atMs - mx) * (p.y - my);
    den += (p.atMs - mx) ** 2;
  }
  return den ? (num / den) * 60_000 : NaN;
}
