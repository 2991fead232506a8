/** The agent's moving parts put together: probes, sequence, spool, delivery, schedule. */
import { resolve } from 'node:path';
import cron from 'node-cron';
import type { Logger } from 'pino';
import type { Report } from '../protocol/index.js';
import type { AgentConfig } from './config.js';
import { collectReport } from './cycle.js';
import { flushSpool, type FlushResult } from './delivery.js';
import { buildProbes } from './probes/build.js';
import type { Probe } from './probes/probe.js';
import { DirSpool } from './spool/dir-spool.js';
import type { Spool } from './spool/spool.js';
import { SequenceStore } from './state/sequence.js';
import { AgentStats } from './state/stats.js';
import { AGENT_VERSION } from './version.js';

export interface AgentRuntimeOptions {
  config: Readonly<AgentConfig>;
  log: Logger;
  /** Injected clock, ms since the epoch. */
  now?: () => number;
  /** Probes to use instead of those the config describes (tests). */
  probes?: Probe[];
}

/** Result of `once()`. */
export interface OnceResult {
  report: Report;
  flush?: FlushResult;
  /** Whether the collector acknowledged this cycle's report. */
  delivered: boolean;
}

export class AgentRuntime {
  readonly spool: Spool;
  private readonly seq: SequenceStore;
  private readonly stats: AgentStats;
  private readonly probes: Probe[];
  private readonly now: () => number;
  private readonly startedAtMs: number;
  /** Set after a 401/403: sending stops until the agent is restarted with a valid token. */
  private authFailure?: string;

  constructor(private readonly opts: AgentRuntimeOptions) {
    const stateDir = resolve(opts.config.stateDir);
    this.now = opts.now ?? Date.now;
    this.startedAtMs = this.now();
    this.spool = new DirSpool(resolve(opts.config.spool.dir));
    this.seq = new SequenceStore(stateDir);
    this.stats = new AgentStats(stateDir);
    this.probes = opts.probes ?? buildProbes({ config: opts.config, stateDir });
  }

  /** Runs the probes and returns the report without storing it or consuming a sequence number. */
  async preview(): Promise<Report> {
    return this.collect(this.seq.current() + 1);
  }

  private async collect(seq: number): Promise<Report> {
    return collectReport({
      probes: this.probes,
      school: this.opts.config.school,
      agent: this.opts.config.agentId,
      seq,
      now: this.now,
      log: this.opts.log,
      spool: await this.spool.stats(),
      counters: this.stats.get(),
      startedAtMs: this.startedAtMs,
    });
  }

  /** Collects one report and stores it durably in the spool. */
  async cycle(): Promise<Report> {
    const report = await this.collect(this.seq.next());
    await this.spool.append(report);
    this.opts.log.info({ seq: report.seq, measurements: report.measurements.length }, 'report collected');
    return report;
  }

  /** Sends what the spool holds; a no-op after an authentication failure. */
  async flush(): Promise<FlushResult> {
    const token = this.opts.config.collector.token;
    if (!token || this.authFailure) {
      const why = this.authFailure ?? 'collector.token (CAMPUSLINK_TOKEN) is not set';
      this.opts.log.error({ code: 'AGT_ERR_AUTH_REJECTED' }, `not sending: ${why}; reports stay in the spool`);
      return { acked: [], quarantined: [] };
    }
    const result = await flushSpool({
      spool: this.spool,
      uploader: { url: this.opts.config.collector.url, token, timeoutMs: this.opts.config.collector.timeoutMs, gzip: this.opts.config.collector.gzip, version: AGENT_VERSION },
      maxBatchReports: this.opts.config.collector.maxBatchReports,
      stats: this.stats,
      now: this.now,
      log: this.opts.log,
    });
    const e = result.stoppedBy;
    if (e?.action === 'stop-and-alert') {
      this.authFailure = `collector refused the token (${e.message})`;
      this.opts.log.error({ code: 'AGT_ERR_AUTH_REJECTED', status: e.status }, `${this.authFailure}; sending stops until the token is fixed and the agent restarted; reports stay in the spool`);
    } else if (e) {
      this.opts.log.warn({ code: 'AGT_ERR_COLLECTOR_UNAVAILABLE', status: e.status, retryAfterMs: e.retryAfterMs, err: e.message }, 'delivery paused; reports stay in the spool');
    }
    if (result.acked.length) this.opts.log.info({ acked: result.acked.length }, 'reports delivered');
    return result;
  }

  /** One cycle and one delivery attempt; `delivered` says whether this cycle's report was acknowledged. */
  async once(): Promise<OnceResult> {
    const report = await this.cycle();
    const flush = await this.flush();
    return { report, flush, delivered: flush.acked.includes(report.seq) };
  }

  /** Runs cycles on the configured cron schedule until `stop()`. */
  run(): { stop(): Promise<void> } {
    const { schedule, jitterMs } = this.opts.config;
    const task = cron.schedule(
      schedule,
      async () => {
        try {
          await this.once();
        } catch (e) {
          // A cycle that fails (e.g. the spool disk is full) is logged; the schedule goes on.
          this.opts.log.error({ code: 'AGT_ERR_SPOOL_IO', err: String(e) }, 'cycle failed');
        }
      },
      { noOverlap: true, maxRandomDelay: jitterMs, name: 'campuslink-cycle' },
    );
    this.opts.log.info({ schedule, jitterMs, probes: this.probes.map((p) => p.name) }, 'agent running');
    return {
      stop: async () => {
        await task.stop();
        // Let a cycle that is under way finish, so its report is in the spool.
        while (task.isBusy()) await new Promise((r) => setTimeout(r, 50));
        await task.destroy();
      },
    };
  }
}
