/**
 * Seeds a collector state directory the way `days` of a fleet's uploads would leave it, in the JSON
 * formats of the collector before its state database (collector/ingest/dedupe.ts, collector/gaps/,
 * collector/views/liveness/), which a collector with a state database imports once at its first start;
 * tokens through the collector's bulk issue where it has one: one token per school, the dedupe high-water mark of a week's sequences
 * (optionally the uncompacted log of the last hours since a start), each agent's gap-detector state
 * with as many `[seq, collectedAt]` pairs as the detector keeps (5,000, its cap) and the usual
 * interval, the liveness of every school, and a start/stop log with a few restarts. InfluxDB is not
 * seeded (a week of 60,000 schools is ~1.5·10^10 points): the live load creates its series.
 * Large files are written in chunks: nothing here holds a whole file as one string.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import * as tokensModule from '../../collector/auth/tokens.js';
import { TOKEN_PREFIX } from '../../collector/auth/tokens.js';
import { AGENT } from './templates.js';
import { CYCLE_MS, seededLastCollectedAt, type FleetSchool } from './fleet.js';

export interface SeedOptions {
  stateDir: string;
  fleet: readonly FleetSchool[];
  /** Simulated days of uptime before the live load. */
  days: number;
  /** The live load is planned to start at this time, ms: seeded times end just before it (see seededLastCollectedAt). */
  nowMs: number;
  /** `[seq, collectedAt]` pairs per agent in the gap state; default what the detector keeps after `days` (≤ 5000). */
  gapPairs?: number;
  /** Hours of uncompacted dedupe log (one line per batch) since the last start; default 0 (just compacted). */
  dedupeTailHours?: number;
}

/** What was seeded, for the report. */
export interface SeedResult {
  /** Plain tokens, by fleet index (the stateDir holds only their hashes). */
  tokens: string[];
  /** How the tokens were issued. */
  tokensHow: string;
  /** Sequence of each agent's last seeded report, by fleet index; the live load continues after it. */
  lastSeq: number[];
  files: Record<string, { bytes: number }>;
  gapPairs: number;
  dedupeTailLines: number;
  ms: number;
}

/** Appends strings to a file in ~1 MiB writes. */
class ChunkWriter {
  private readonly fd: number;
  private buf: string[] = [];
  private len = 0;

  constructor(path: string) {
    this.fd = openSync(path, 'w', 0o600);
  }

  write(s: string): void {
    this.buf.push(s);
    this.len += s.length;
    if (this.len > 1 << 20) this.flush();
  }

  private flush(): void {
    if (this.buf.length) writeSync(this.fd, this.buf.join(''));
    this.buf = [];
    this.len = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

function seedTokens(path: string, fleet: readonly FleetSchool[], issuedAt: string): string[] {
  const tokens: string[] = [];
  const w = new ChunkWriter(path);
  w.write('{"version":1,"tokens":[');
  fleet.forEach((s, i) => {
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const sha256 = createHash('sha256').update(token, 'utf8').digest('hex');
    tokens.push(token);
    w.write(`${i ? ',' : ''}\n${JSON.stringify({ id: sha256.slice(0, 12), school: s.id, sha256, issuedAt })}`);
  });
  w.write('\n]}\n');
  w.close();
  return tokens;
}

/** The collector's bulk issue (collectors with a state database have one), when it exists. */
type BulkIssue = (opts: { stateDir: string; schools: Iterable<string>; onIssued: (token: string, record: unknown) => void }) => number;

/**
 * Tokens through the collector's own bulk issue when it has one (they land in its state database);
 * else written as the `tokens.json` that `issueToken()` would leave (one write: issuing 60,000 one by
 * one rewrites the whole file each time, hours). Returns the tokens and how they were made.
 */
function issueFleetTokens(stateDir: string, fleet: readonly FleetSchool[], issuedAt: string): { tokens: string[]; how: string } {
  const bulk = (tokensModule as unknown as { issueTokens?: BulkIssue }).issueTokens;
  if (typeof bulk === 'function') {
    const tokens: string[] = [];
    bulk({ stateDir, schools: fleet.map((s) => s.id), onIssued: (t) => tokens.push(t) });
    return { tokens, how: 'issueTokens() (the collector bulk issue, into its state database)' };
  }
  return { tokens: seedTokens(join(stateDir, 'tokens.json'), fleet, issuedAt), how: 'tokens.json in the format issueToken() writes' };
}

/** Runs the seeding. */
export function seedState(opts: SeedOptions): SeedResult {
  const t0 = performance.now();
  const { stateDir, fleet, days } = opts;
  const nowMs = Math.round(opts.nowMs);
  mkdirSync(join(stateDir, 'gaps'), { recursive: true });
  mkdirSync(join(stateDir, 'liveness'), { recursive: true });
  const startMs = Math.round(nowMs - days * 86_400_000);
  const reportsSeeded = Math.max(1, Math.floor((days * 86_400_000) / CYCLE_MS));
  const gapPairs = Math.min(opts.gapPairs ?? 5000, reportsSeeded);
  const lastAt = (s: FleetSchool) => seededLastCollectedAt(s, nowMs);
  const lastSeq = fleet.map(() => reportsSeeded);

  const { tokens, how: tokensHow } = issueFleetTokens(stateDir, fleet, new Date(startMs).toISOString());

  // dedupe.log: the compacted line per agent (what a start leaves), then the tail appended since.
  const tailBatches = (s: FleetSchool) => Math.floor(((opts.dedupeTailHours ?? 0) * 3_600_000) / s.uploadIntervalMs);
  let dedupeTailLines = 0;
  {
    const w = new ChunkWriter(join(stateDir, 'dedupe.log'));
    for (const s of fleet) w.write(`${JSON.stringify({ s: s.id, a: AGENT, h: reportsSeeded - tailBatches(s) * s.reportsPerBatch, q: [] })}\n`);
    const maxTail = Math.max(0, ...fleet.map(tailBatches));
    for (let b = maxTail; b > 0; b--) {
      for (const s of fleet) {
        if (b > tailBatches(s)) continue;
        const first = reportsSeeded - b * s.reportsPerBatch + 1;
        w.write(`${JSON.stringify({ s: s.id, a: AGENT, q: Array.from({ length: s.reportsPerBatch }, (_, j) => first + j) })}\n`);
        dedupeTailLines++;
      }
    }
    w.close();
  }

  // gaps/agents.json: { "<school>/<agent>": AgentGapState } with the newest pairs, oldest first.
  {
    const w = new ChunkWriter(join(stateDir, 'gaps', 'agents.json'));
    w.write('{');
    fleet.forEach((s, i) => {
      const end = lastAt(s);
      const pairs: string[] = [];
      for (let k = gapPairs - 1; k >= 0; k--) pairs.push(`[${reportsSeeded - k},${end - k * CYCLE_MS}]`);
      w.write(`${i ? ',' : ''}${JSON.stringify(`${s.id}/${AGENT}`)}:{"times":[${pairs.join(',')}],"intervalMs":${CYCLE_MS},"checkedSeq":${reportsSeeded}}`);
    });
    w.write('}');
    w.close();
  }

  // liveness/liveness.json: every school reported a cycle ago, internet answering, WAN at 1 Gbit/s.
  {
    const w = new ChunkWriter(join(stateDir, 'liveness', 'liveness.json'));
    w.write(`{"v":1,"savedAtMs":${nowMs - CYCLE_MS},"schools":{`);
    fleet.forEach((s, i) => {
      const at = lastAt(s);
      w.write(`${i ? ',' : ''}"${s.id}":[${at},${at},0,1000000000,${at}]`);
    });
    w.write('}}');
    w.close();
  }

  // gaps/lifelog.json: three restarts of 20 s during the week, then a clean stop just before the live load.
  {
    const downtimes = [1, 3, 5].filter((d) => d < days).map((d) => ({ fromMs: startMs + d * 86_400_000, toMs: startMs + d * 86_400_000 + 20_000 }));
    const w = new ChunkWriter(join(stateDir, 'gaps', 'lifelog.json'));
    w.write(JSON.stringify({ downtimes, aliveAtMs: nowMs - 5000, stopped: true }));
    w.close();
  }

  const files: SeedResult['files'] = {};
  for (const f of ['tokens.json', 'state.db', 'dedupe.log', 'gaps/agents.json', 'liveness/liveness.json', 'gaps/lifelog.json']) {
    if (existsSync(join(stateDir, f))) files[f] = { bytes: statSync(join(stateDir, f)).size };
  }
  return { tokens, tokensHow, lastSeq, files, gapPairs, dedupeTailLines, ms: performance.now() - t0 };
}
