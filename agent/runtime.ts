/** The agent's moving parts put together: probes, sequence, spool, delivery, schedules. */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Report } from '../protocol/index.js';
import type { AgentConfig } from './config.js';
import { collectReport } from './cycle.js';
import { cronTask, intervalTask } from './schedule.js';
import { DeliveryLog, HEARTBEAT_EVERY_MS } from './delivery-log.js';
import { flushSpool, type FlushResult } from './delivery.js';
import { EnrollError, enrollAgent } from './identity/enroll.js';
import { AgentIdentity } from './identity/identity.js';
import { buildProbes } from './probes/build.js';
import type { Probe } from './probes/probe.js';
import { SegmentSpool } from './spool/segment-spool.js';
import { AnchoredClock, ClockStore, procUptimeMs } from './state/clock.js';
import { EpochStore } from './state/epoch.js';
import { OutgoingReports } from './state/outgoing.js';
import { SequenceStore } from './state/sequence.js';
import { AgentStats } from './state/stats.js';
import { Backoff } from './transport/backoff.js';
import { AuthPause, deliveryPolicy, type DeliveryPolicy } from './transport/policy.js';
import { errandSecureContext } from './transport/once.js';
import { CollectorPool, type BatchSender } from './transport/pool.js';
import { UploadError } from './transport/uploader.js';
import { AGENT_VERSION } from './version.js';

/** While the agent cannot send (no token, token refused), the reason is logged once and then hourly. */
export const NOT_SENDING_REPEAT_MS = 3_600_000;

export interface AgentRuntimeOptions {
  config: Readonly<AgentConfig>;
  log: Logger;
  /** Injected wall clock, ms since the epoch. */
  now?: () => number;
  /** Injected monotonic clock, ms (default performance.now(); with an injected `now` and none, `now` itself). */
  monoNow?: () => number;
  /** Probes to use instead of those the config describes (tests). */
  probes?: Probe[];
  /** Sender to use instead of the configured collector URLs (tests). */
  sender?: BatchSender;
  /** Run cycles every this many ms instead of on the cron schedule (compressed-time tests). */
  cycleEveryMs?: number;
  /** How often `run()` logs its "agent alive" line (default hourly). */
  heartbeatEveryMs?: number;
}

/** Result of `once()`. */
export interface OnceResult {
  report: Report;
  flush?: FlushResult;
  /** Whether the collector acknowledged this cycle's report. */
  delivered: boolean;
}

/** A running `run()`. */
export interface RunHandle {
  /** Stops both schedules; waits for a cycle and an upload under way to finish. */
  stop(): Promise<void>;
}

export class AgentRuntime {
  readonly spool: SegmentSpool;
  readonly policy: DeliveryPolicy;
  private readonly seq: SequenceStore;
  private readonly stats: AgentStats;
  private readonly clock: ClockStore;
  private readonly epochs: EpochStore;
  /** Clock-step corrections, epoch aliases and clone detection on the way out. */
  private readonly outgoing: OutgoingReports;
  private readonly probes: Probe[];
  private readonly now: () => number;
  private readonly startedAtMs: number;
  /** Local-clock collection time of the last report, so the next is never stamped in the same millisecond. */
  private lastCollectedAt: number | undefined;
  private readonly backoff: Backoff;
  private sender?: BatchSender;
  /** Reports above this sequence are live (collected since the last upload began). */
  private liveMark: number;
  /** Who the agent reports as, with which token (enrolled credential or config). */
  readonly identity: AgentIdentity;
  /** After a 401/403 or a refused enrollment: sending pauses for minutes, then up to an hour; never for good. */
  private readonly authPause: AuthPause;
  /** The last "not sending" line: its reason and when, so it is repeated hourly, not every cycle. */
  private notSendingLogged?: { why: string; atMs: number };
  private readonly deliveryLog: DeliveryLog;
  /** Reports collected since start, for the heartbeat. */
  private collected = 0;

  constructor(private readonly opts: AgentRuntimeOptions) {
    const stateDir = resolve(opts.config.stateDir);
    const wallNow = opts.now ?? Date.now;
    const real = !opts.now && !opts.monoNow;
    const wall = new AnchoredClock({ wallNow, monoNow: opts.monoNow ?? (opts.now ? opts.now : () => performance.now()), bootNow: real ? procUptimeMs : undefined });
    this.now = wall.now;
    this.startedAtMs = this.now();
    const stateOpts = { log: opts.log, now: wallNow };
    this.seq = new SequenceStore(stateDir, stateOpts);
    this.epochs = new EpochStore(stateDir, { ...stateOpts, legacyState: this.seq.existed && !this.seq.damaged, renew: this.seq.damaged });
    if (this.epochs.started) opts.log.info({ epoch: this.epoch, damagedSequence: this.seq.damaged }, 'new state epoch: the collector counts this agent\'s sequences afresh');
    this.stats = new AgentStats(stateDir, stateOpts);
    this.clock = new ClockStore(stateDir, stateOpts);
    const sp = opts.config.spool;
    this.spool = new SegmentSpool({ dir: resolve(sp.dir), maxSpoolBytes: sp.maxSpoolBytes, segmentBytes: sp.segmentBytes, minFreeBytes: sp.minFreeBytes, committedSeq: this.seq.current(), log: opts.log });
    const lost = this.spool.recovery.lost.length;
    if (lost) this.stats.add({ droppedReports: lost });
    this.liveMark = this.spool.lastSeq();
    this.outgoing = new OutgoingReports({ clock: this.clock, wall, epochs: this.epochs, bornAfterSeq: this.spool.lastSeq(), log: opts.log });
    this.policy = deliveryPolicy({ collector: opts.config.collector, linkType: opts.config.linkType });
    this.backoff = new Backoff({ baseMs: opts.config.collector.backoffBaseMs, maxMs: opts.config.collector.backoffMaxMs });
    this.probes = opts.probes ?? buildProbes({ config: opts.config, stateDir });
    this.sender = opts.sender;
    this.deliveryLog = new DeliveryLog({ log: opts.log, now: this.now });
    this.identity = new AgentIdentity(opts.config, stateDir, opts.log);
    this.identity.persistConfigIdentity();
    this.authPause = new AuthPause({ minMs: opts.config.auth.retryMinMs, maxMs: opts.config.auth.retryMaxMs });
    this.deliveryLog.started(this.spool.waiting().length);
  }

  /** Runs the probes and returns the report without storing it or consuming a sequence number. */
  async preview(): Promise<Report> {
    return this.collect(this.nextSeq());
  }

  private nextSeq(): number {
    return Math.max(this.seq.current(), this.spool.lastSeq()) + 1;
  }

  private async collect(seq: number): Promise<Report> {
    return collectReport({
      probes: this.probes,
      school: this.identity.current().school,
      agent: this.identity.current().agent,
      epoch: this.epoch,
      seq,
      now: this.now,
      log: this.opts.log,
      spool: await this.spool.stats(),
      counters: this.stats.get(),
      startedAtMs: this.startedAtMs,
      clockOffsetMs: this.clock.get()?.offsetMs,
      previousCollectedAt: this.lastCollectedAt,
    });
  }

  /** Collects one report and stores it durably in the spool (one fsync), then commits its sequence. */
  async cycle(): Promise<Report> {
    this.checkClock();
    const report = await this.collect(this.nextSeq());
    this.lastCollectedAt = report.collectedAt - (report.clockOffsetMs ?? 0);
    const { dropped } = await this.spool.append(report);
    this.seq.commit(report.seq);
    this.collected++;
    if (dropped.length) {
      this.stats.add({ droppedReports: dropped.length });
      this.opts.log.error({ code: 'AGT_ERR_SPOOL_FULL', dropped: dropped.length, first: dropped[0], last: dropped.at(-1), maxSpoolBytes: this.opts.config.spool.maxSpoolBytes }, 'spool full: oldest reports dropped and counted in agent.dropped_reports');
    }
    this.opts.log.debug({ seq: report.seq, measurements: report.measurements.length }, 'report collected');
    return report;
  }

  /** The state's epoch (undefined: legacy). */
  get epoch(): string | undefined {
    return this.epochs.epoch;
  }

  private checkClock(): void {
    this.outgoing.checkClock(Math.max(this.seq.current(), this.spool.lastSeq()));
  }

  private getSender(): BatchSender | undefined {
    if (this.sender) return this.sender;
    const c = this.opts.config.collector;
    const token = this.identity.current().token;
    if (!token) return undefined;
    this.sender = new CollectorPool({ urls: [c.url, ...c.failoverUrls], token, timeoutMs: c.timeoutMs, gzip: c.gzip, dictionary: c.dictionary, http2: c.http2, tls: c.tls, version: AGENT_VERSION, now: this.now, log: this.opts.log });
    return this.sender;
  }

  /**
   * One upload round: live reports first, then backlog at the capped rate. `yieldTo` lets a
   * running schedule interrupt the backlog for newer live reports.
   */
  /** Logs why nothing is sent: at once when the reason changes, else once an hour. */
  private notSending(why: string, code = 'AGT_ERR_AUTH_REJECTED'): FlushResult {
    const last = this.notSendingLogged;
    if (!last || last.why !== why || this.now() - last.atMs >= NOT_SENDING_REPEAT_MS) {
      this.notSendingLogged = { why, atMs: this.now() };
      const retryAt = this.authPause.until > this.now() ? new Date(this.authPause.until).toISOString() : undefined;
      this.opts.log.error({ code, spooled: this.spool.waiting().length, ...(retryAt && { retryAt }) }, `not sending: ${why}; reports stay in the spool${retryAt ? `; trying again at ${retryAt}, then less often, at least hourly` : ''}`);
    }
    return { acked: [], quarantined: [] };
  }

  /**
   * Exchanges `enrollCode` for a credential when the agent has none of its own yet; undefined when
   * done (or nothing to do), else why sending waits: a refused code pauses like a 401, an unreachable
   * collector backs off like a failed upload.
   */
  private async enrollIfNeeded(): Promise<FlushResult | undefined> {
    const code = this.opts.config.enrollCode;
    if (this.identity.enrolled || !code || this.opts.sender) return undefined;
    const c = this.opts.config.collector;
    try {
      const secureContext = errandSecureContext(c);
      await enrollAgent({ url: c.url, code, stateDir: resolve(this.opts.config.stateDir), timeoutMs: c.timeoutMs, ...(secureContext && { secureContext }), before: this.identity.configIdentity(), log: this.opts.log });
    } catch (e) {
      if (!(e instanceof EnrollError)) throw e;
      if (e.retryable) {
        this.opts.log.error({ code: 'AGT_ERR_ENROLL_FAILED', err: e.message }, 'enrollment failed; trying again with backoff, reports stay in the spool');
        return { acked: [], quarantined: [], stoppedBy: new UploadError(e.message, e.status, 'keep-and-back-off', true) };
      }
      this.authPause.refused(`enrollment failed: ${e.message}`, this.now());
      return this.notSending(this.authPause.why as string, 'AGT_ERR_ENROLL_FAILED');
    }
    this.identity.reload();
    // A pool made with the config token before enrollment would keep it as its default.
    if (this.sender instanceof CollectorPool) this.sender.close();
    this.sender = undefined;
    return undefined;
  }

  async flush(yieldTo?: () => boolean): Promise<FlushResult> {
    this.identity.reload();
    if (this.authPause.paused(this.now())) return this.notSending(this.authPause.why ?? 'the collector refused the token');
    const waiting = await this.enrollIfNeeded();
    if (waiting) return waiting;
    const sender = this.getSender();
    if (!sender) return this.notSending('collector.token (CAMPUSLINK_TOKEN) is not set and there is no enrolled credential (enrollCode, campuslink-agent enroll --code …)');
    const liveAfterSeq = this.liveMark;
    this.liveMark = this.spool.lastSeq();
    this.checkClock();
    const result = await flushSpool({
      spool: this.spool,
      // The token option carries the identity a report was collected under (a moved agent's backlog, a rotated token).
      sender: { send: (reports, sendOpts) => this.outgoing.send(sender, reports, sendOpts) },
      maxBatchReports: this.opts.config.collector.maxBatchReports,
      liveAfterSeq,
      backlogBytesPerSec: this.policy.backlogBytesPerSec,
      yieldTo,
      onAck: (up) => {
        this.clock.observe({ serverTimeMs: up.ack.serverTime, sentAtMs: up.sentAtMs, answeredAtMs: up.answeredAtMs });
        if (up.ack.newToken) this.identity.rotate(up.ack.newToken);
      },
      route: (r) => this.identity.route(r),
      stats: this.stats,
      now: this.now,
      log: this.opts.log,
    });
    const e = result.stoppedBy;
    if (e?.action === 'stop-and-alert') {
      this.authPause.refused(`collector refused the token (${e.message})`, this.now());
      this.notSending(this.authPause.why as string);
    } else if (result.acked.length) {
      this.authPause.clear();
    }
    this.deliveryLog.afterFlush(result, this.spool.waiting().length);
    return result;
  }

  /** One cycle and one delivery attempt; `delivered` says whether this cycle's report was acknowledged. */
  async once(): Promise<OnceResult> {
    const report = await this.cycle();
    const flush = await this.flush();
    return { report, flush, delivered: flush.acked.includes(report.seq) };
  }

  /**
   * Runs collection cycles on the cron schedule and uploads on its own schedule: after every cycle
   * when the upload interval is 0, else every `uploadIntervalMs`; failed uploads back off
   * exponentially with jitter (Retry-After honoured).
   */
  run(): RunHandle {
    const { schedule, jitterMs } = this.opts.config;
    const interval = this.policy.uploadIntervalMs;
    let stopped = false;
    let wanted = false;
    let blockedUntil = 0;
    let wake: (() => void) | undefined;
    let slotFired = false;
    const kick = () => {
      wanted = true;
      wake?.();
    };
    const onCycle = async () => {
      try {
        await this.cycle();
        if (interval === 0) kick();
      } catch (e) {
        // A cycle that fails (e.g. the spool disk is full) is logged; the schedule goes on.
        this.opts.log.error({ code: 'AGT_ERR_SPOOL_IO', err: String(e) }, 'cycle failed');
      }
    };
    const task = this.opts.cycleEveryMs ? intervalTask(this.opts.cycleEveryMs, onCycle) : cronTask({ expression: schedule, run: onCycle, maxRandomDelayMs: jitterMs });
    const slots = interval > 0 ? setInterval(() => ((slotFired = true), kick()), interval) : undefined;
    const liveDue = () => (interval === 0 ? this.spool.lastSeq() > this.liveMark : slotFired);
    const loop = (async () => {
      while (!stopped) {
        const wait = !wanted ? undefined : Math.max(0, blockedUntil - Date.now());
        if (wait === undefined || wait > 0) {
          await new Promise<void>((r) => {
            wake = r;
            if (wait !== undefined) setTimeout(r, wait);
          });
          wake = undefined;
          continue;
        }
        wanted = false;
        slotFired = false;
        try {
          const r = await this.flush(liveDue);
          if (this.authPause.paused(this.now())) {
            // Refused: wake when the pause ends, never stop for good.
            blockedUntil = Date.now() + (this.authPause.until - this.now());
            wanted = true;
          } else if (r.stoppedBy?.action === 'keep-and-back-off') {
            blockedUntil = Date.now() + this.backoff.next(r.stoppedBy.retryAfterMs);
            wanted = true;
          } else if (!r.stoppedBy) {
            this.backoff.reset();
            blockedUntil = 0;
            if (r.yielded) wanted = true;
          }
        } catch (e) {
          this.opts.log.error({ code: 'AGT_ERR_COLLECTOR_UNAVAILABLE', err: String(e) }, 'upload failed');
          blockedUntil = Date.now() + this.backoff.next();
          wanted = true;
        }
      }
    })();
    if (this.spool.waiting().length) kick();
    const heartbeat = setInterval(() => {
      try {
        this.deliveryLog.heartbeat({ waiting: this.spool.waiting().length, collected: this.collected, droppedReports: this.stats.get().droppedReports });
      } catch (e) {
        this.opts.log.error({ err: String(e) }, 'heartbeat failed');
      }
    }, this.opts.heartbeatEveryMs ?? HEARTBEAT_EVERY_MS);
    heartbeat.unref();
    this.opts.log.info({ schedule, jitterMs, uploadIntervalMs: interval, backlogBytesPerSec: this.policy.backlogBytesPerSec, probes: this.probes.map((p) => p.name) }, 'agent running');
    return {
      stop: async () => {
        await task.stop();
        // Let a cycle that is under way finish, so its report is in the spool.
        while (task.isBusy()) await new Promise((r) => setTimeout(r, 50));
        await task.destroy();
        if (slots) clearInterval(slots);
        clearInterval(heartbeat);
        stopped = true;
        wake?.();
        await loop;
      },
    };
  }

  /** Releases files and connections. */
  close(): void {
    this.spool.close();
    if (this.sender instanceof CollectorPool) this.sender.close();
  }
}
