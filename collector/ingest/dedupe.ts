/**
 * Which sequences of each agent the collector already holds, surviving restarts: a per-agent
 * high-water mark (every sequence up to it is held) plus a bounded set of sequences above it.
 * Stored as an append-only JSON-lines log under `stateDir`, fsynced per accepted batch and compacted
 * at start. A repeated report is acknowledged without being written again; should the state ever lose
 * a sequence (crash between the write and this record), the replay rewrites identical points, which
 * InfluxDB overwrites.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

interface AgentState {
  hwm: number;
  recent: Set<number>;
}

export interface DedupeStoreOptions {
  /** Path of the log file, e.g. `<stateDir>/dedupe.log`. */
  path: string;
  /** Most sequences kept above the high-water mark per agent; the lowest are forgotten first. */
  maxRecentPerAgent?: number;
}

const key = (school: string, agent: string) => `${school}/${agent}`;

export class DedupeStore {
  private readonly agents = new Map<string, AgentState>();
  private fd: number;
  private readonly maxRecent: number;

  constructor(private readonly opts: DedupeStoreOptions) {
    this.maxRecent = opts.maxRecentPerAgent ?? 100_000;
    mkdirSync(dirname(opts.path), { recursive: true });
    if (existsSync(opts.path)) {
      for (const line of readFileSync(opts.path, 'utf8').split('\n')) {
        if (!line) continue;
        try {
          const e = JSON.parse(line) as { s: string; a: string; h?: number; q?: number[] };
          this.apply(e.s, e.a, e.q ?? [], e.h ?? 0);
        } catch {
          /* a line torn by a crash: its batch was not acknowledged, the agent sends it again */
        }
      }
    }
    this.compact();
    this.fd = openSync(opts.path, 'a', 0o600);
  }

  private state(school: string, agent: string): AgentState {
    const k = key(school, agent);
    let s = this.agents.get(k);
    if (!s) this.agents.set(k, (s = { hwm: 0, recent: new Set() }));
    return s;
  }

  private apply(school: string, agent: string, seqs: readonly number[], hwm = 0): void {
    const s = this.state(school, agent);
    s.hwm = Math.max(s.hwm, hwm);
    for (const q of seqs) if (q > s.hwm) s.recent.add(q);
    while (s.recent.has(s.hwm + 1)) s.recent.delete(++s.hwm);
    if (s.recent.size > this.maxRecent) {
      const sorted = [...s.recent].sort((a, b) => a - b);
      for (const q of sorted.slice(0, s.recent.size - this.maxRecent)) s.recent.delete(q);
    }
  }

  /** Whether the collector already holds this sequence. */
  has(school: string, agent: string, seq: number): boolean {
    const s = this.agents.get(key(school, agent));
    return !!s && (seq <= s.hwm || s.recent.has(seq));
  }

  /** Every sequence up to this one is held. */
  heldThrough(school: string, agent: string): number {
    return this.agents.get(key(school, agent))?.hwm ?? 0;
  }

  /** Records sequences as held, durably (call after the sink confirmed them, before acknowledging). */
  record(school: string, agent: string, seqs: readonly number[]): void {
    if (!seqs.length) return;
    writeSync(this.fd, `${JSON.stringify({ s: school, a: agent, q: seqs })}\n`);
    fsyncSync(this.fd);
    this.apply(school, agent, seqs);
  }

  private compact(): void {
    const lines = [...this.agents].map(([k, s]) => {
      const [school, agent] = k.split('/') as [string, string];
      return JSON.stringify({ s: school, a: agent, h: s.hwm, q: [...s.recent].sort((a, b) => a - b) });
    });
    const tmp = `${this.opts.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    writeSync(fd, lines.length ? `${lines.join('\n')}\n` : '');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.opts.path);
  }

  close(): void {
    closeSync(this.fd);
  }
}
