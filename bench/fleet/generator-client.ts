/** The parent's side of the generator process (generator-main.ts): fork it, ask it things. */
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { GeneratorCounters, LatencySummary } from './generator.js';
import type { GeneratorJob } from './generator-main.js';

/** What `stats` answers. */
export interface GeneratorStats {
  counters: GeneratorCounters;
  firstFailure?: string;
  cpuUserMs: number;
  cpuSystemMs: number;
  loopDelayMaxMs: number;
  loopDelayP99Ms: number;
  rssBytes: number;
  /** Bytes held for bodies rendered ahead (absent from an older generator). */
  renderAheadBytes?: number;
}

export class GeneratorClient {
  private next = 1;
  private readonly waiting = new Map<number, (r: unknown) => void>();

  private constructor(readonly child: ChildProcess) {
    child.on('message', (m: { id: number; result: unknown }) => {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      w?.(m.result);
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  /**
   * Forks the generator with its job and waits until it is ready. `script`: another generator-main.ts
   * speaking the same messages (bench/generator-cost.bench.ts runs an older one beside this one).
   */
  static async start(job: GeneratorJob, jobPath: string, script = fileURLToPath(new URL('./generator-main.ts', import.meta.url))): Promise<GeneratorClient> {
    writeFileSync(jobPath, JSON.stringify(job));
    const child = fork(script, [jobPath], { execArgv: ['--import', 'tsx', '--max-old-space-size=4096'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const c = new GeneratorClient(child);
    await new Promise<void>((resolve, reject) => {
      c.waiting.set(0, () => resolve());
      child.once('exit', (code) => reject(new Error(`generator exited (${code}) before it was ready`)));
    });
    return c;
  }

  private ask<T>(msg: Record<string, unknown>): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, (r) => ((r as { error?: string })?.error ? reject(new Error((r as { error: string }).error)) : resolve(r as T)));
      this.child.send({ ...msg, id });
    });
  }

  connect(perSec: number): Promise<GeneratorCounters> {
    return this.ask({ op: 'connect', perSec });
  }

  begin(liveStartMs: number): Promise<boolean> {
    return this.ask({ op: 'start', liveStartMs });
  }

  stats(): Promise<GeneratorStats> {
    return this.ask({ op: 'stats' });
  }

  latency(fromMs: number, toMs: number): Promise<LatencySummary> {
    return this.ask({ op: 'latency', fromMs, toMs });
  }

  async stop(): Promise<void> {
    await this.ask({ op: 'stop' }).catch(() => undefined);
    await new Promise((r) => (this.child.exitCode !== null ? r(undefined) : this.child.once('exit', r)));
  }
}
