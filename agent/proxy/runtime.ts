/**
 * The county proxy put together: per cycle every school is probed (bounded concurrency, per-school
 * deadline), gets one report (`agentKind: "proxy"`, its own `seq`, the proxy's one epoch), spooled on disk
 * with group commit; then every school with reports waiting is uploaded, one batch per school, over the
 * one shared HTTP/2 session. A school's failure is its own: a refused school (403, out of the proxy's
 * scope) pauses only that school; an unreachable collector pauses the round (backoff), nothing is lost.
 */
import { resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Measurement, Report } from '../../protocol/index.js';
import { collectReport } from '../cycle.js';
import { flushSpool, type FlushResult } from '../delivery.js';
import { EnrollError } from '../identity/enroll.js';
import { mapWithConcurrency } from '../probes/ping/pool.js';
import { createLimiter, type Limiter } from '../probes/snmp/limit.js';
import { cronTask, intervalTask } from '../schedule.js';
import { AnchoredClock, ClockStore } from '../state/clock.js';
import { EpochStore } from '../state/epoch.js';
import type { AgentStats } from '../state/stats.js';
import { Backoff } from '../transport/backoff.js';
import { errandSecureContext } from '../transport/once.js';
import { AuthPause } from '../transport/policy.js';
import { CollectorPool, type BatchSender } from '../transport/pool.js';
import { AGENT_VERSION } from '../version.js';
import type { ProxyConfig } from './config.js';
import { SchoolCounters } from './counters.js';
import { createBatchPinger, type BatchPinger } from './fping.js';
import { ProxyIdentity } from './identity.js';
import { createSchoolProbes, type SchoolProbeSettings, type SchoolProbes } from './school.js';
import { ProxySpool } from './spool.js';
import { createTurns, type Turns } from './turns.js';
import { PROXY_SPOOL_WARN_HOURS } from './sizing.js';
import type { AppendResult } from '../spool/spool.js';

/** Segment size of the proxy spool: about one cycle of 2,000 schools. */
export const PROXY_SEGMENT_BYTES = 16 * 1024 * 1024;

/** Times a school's upload refused over budget (429 COL_ERR_BUDGET_EXCEEDED) waits its Retry-After and is tried again within a round. */
export const BUDGET_RETRIES = 2;

/**
 * Longest Retry-After one upload waits within a round, ms (the collector's default is 5 s); a longer one pauses the
 * school until a later round. BUDGET_RETRIES × this stays under the unit's TimeoutStopSec (30 s) for a stop mid-round.
 */
export const MAX_BUDGET_WAIT_MS = 10_000;

/** A 429 over a budget (the proxy token's in-flight share, a school's rate): about one upload, not the collector. */
function isBudgetRefusal(e: NonNullable<FlushResult['stoppedBy']>): boolean {
  return e.status === 429 && /COL_ERR_BUDGET_EXCEEDED/.test(e.message);
}

/** Waits `ms`, or less when `signal` aborts (a stop does not wait out a Retry-After). */
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((done) => {
    if (signal.aborted) return done();
    const timer = setTimeout(finish, ms);
    function finish() {
      clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      done();
    }
    signal.addEventListener('abort', finish, { once: true });
  });

/** Schools started and reports built back to back before the event loop may turn, ms (well under the 50 ms a task may take). */
export const REPORT_SLICE_MS = 10;

export interface ProxyRuntimeOptions {
  config: Readonly<ProxyConfig>;
  log: Logger;
  /** Injected wall clock, ms. */
  now?: () => number;
  /** Sender instead of the configured collector (tests, benchmark). */
  sender?: BatchSender;
  pinger?: BatchPinger;
  createSnmpClient?: SchoolProbeSettings['createSnmpClient'];
  /** Cycles every this many ms instead of on the cron schedule. */
  cycleEveryMs?: number;
}

/** What one cycle did. */
export interface ProxyCycleSummary {
  schools: number;
  /** Schools whose deadline cut something off. */
  late: number;
  /** Schools whose report could not be stored (spool disk failing). */
  failed: number;
  durationMs: number;
  /** Most schools probed at once. */
  maxInFlight: number;
}

/** What one upload round did. */
export interface ProxyFlushSummary {
  acked: number;
  quarantined: number;
  /** Schools left for later: paused (out of scope) or not reached because the collector failed. */
  deferred: number;
  /** Why the round stopped early, if it did. */
  stoppedBy?: string;
}

export interface ProxyRunHandle {
  stop(): Promise<void>;
}

export class ProxyRuntime {
  readonly spool: ProxySpool;
  readonly identity: ProxyIdentity;
  private readonly epochs: EpochStore;
  private readonly clock: ClockStore;
  private readonly counters: SchoolCounters;
  private readonly probes: SchoolProbes[];
  private readonly schoolLimiter: Limiter;
  /** Starting schools and building their reports, one at a time, the event loop let go round every REPORT_SLICE_MS. */
  private readonly reportTurns: Turns = createTurns({ sliceMs: REPORT_SLICE_MS });
  private readonly now: () => number;
  private readonly startedAtMs: number;
  private readonly backoff: Backoff;
  private readonly authPause: AuthPause;
  /** Schools the collector refused (403): until when each waits. */
  private readonly schoolPause = new Map<string, { untilMs: number; why: string; waitMs: number }>();
  private readonly lastCollectedAt = new Map<string, number>();
  private sender?: BatchSender;
  private inFlight = 0;
  /** Aborted by stop(): an upload round under way ends at its next wait instead of sleeping out a Retry-After. */
  private readonly stopping = new AbortController();

  constructor(private readonly opts: ProxyRuntimeOptions) {
    const c = opts.config;
    const stateDir = resolve(c.stateDir);
    mkdirSync(stateDir, { recursive: true });
    const wallNow = opts.now ?? Date.now;
    const wall = new AnchoredClock({ wallNow, monoNow: opts.now ? opts.now : () => performance.now() });
    this.now = wall.now;
    this.startedAtMs = this.now();
    this.spool = new ProxySpool({ dir: resolve(c.spool.dir), maxSpoolBytes: c.spool.maxSpoolBytes, maxSpoolBytesPerSchool: c.spoolBytesPerSchool, minFreeBytes: c.spool.minFreeBytes, segmentBytes: Math.min(PROXY_SEGMENT_BYTES, Math.max(64 * 1024, Math.floor(c.spool.maxSpoolBytes / 4))), log: opts.log, onDropped: (school, seqs) => this.counters.add(school, { droppedReports: seqs.length }) });
    this.counters = new SchoolCounters(stateDir, opts.log);
    this.epochs = new EpochStore(stateDir, { legacyState: false, log: opts.log, now: wallNow });
    if (this.epochs.started) opts.log.info({ epoch: this.epochs.epoch }, 'proxy: new state epoch: the collector counts every school of this proxy afresh');
    this.clock = new ClockStore(stateDir, { log: opts.log, now: wallNow });
    this.identity = new ProxyIdentity({ stateDir, configAgent: c.agentId, ...(c.collector.token && { configToken: c.collector.token }), log: opts.log });
    this.backoff = new Backoff({ baseMs: c.collector.backoffBaseMs, maxMs: c.collector.backoffMaxMs });
    this.authPause = new AuthPause({ minMs: c.auth.retryMinMs, maxMs: c.auth.retryMaxMs });
    this.schoolLimiter = createLimiter(c.proxy.concurrency);
    const p = c.proxy;
    const settings: SchoolProbeSettings = {
      pinger: opts.pinger ?? createBatchPinger({ command: p.ping.command, maxTargetsPerRun: p.ping.maxTargetsPerRun, maxRuns: p.ping.maxRuns, packetIntervalMs: p.ping.packetIntervalMs }),
      snmpLimiter: createLimiter(p.snmp.concurrency),
      hops: p.hops,
      ping: { ...(p.ping.count !== undefined && { count: p.ping.count }), ...(p.ping.intervalMs !== undefined && { intervalMs: p.ping.intervalMs }), ...(p.ping.timeoutMs !== undefined && { timeoutMs: p.ping.timeoutMs }) },
      snmp: p.snmp,
      ...(opts.createSnmpClient && { createSnmpClient: opts.createSnmpClient }),
    };
    this.probes = c.schools.map((s) => createSchoolProbes(s, settings));
    this.sender = opts.sender;
    for (const w of c.fileWarnings) opts.log.warn(w);
    const { hours, defaulted } = c.spoolSizing;
    const holds = { spoolBytes: c.spool.maxSpoolBytes, spoolDefaulted: defaulted, spoolHours: hours === undefined ? 'unknown (schedule with L, W or #)' : Number(hours.toFixed(1)) };
    opts.log.info({ schools: this.probes.length, waiting: this.spool.waitingReports(), agent: this.identity.current().agent, ...holds }, `proxy started; its spool holds ${hours === undefined ? 'an unknown number of' : hours.toFixed(1)} hours of all ${this.probes.length} schools' reports`);
    if (hours !== undefined && hours < PROXY_SPOOL_WARN_HOURS) opts.log.warn(holds, `the spool holds only ${hours.toFixed(1)} hours of all schools' reports: a longer collector outage drops the oldest; raise spool.maxSpoolBytes (on a disk with the room)`);
  }

  get epoch(): string | undefined {
    return this.epochs.epoch;
  }

  /** One school: probe, build the report, store it. Never rejects (a failed store is logged and counted). */
  private async cycleSchool(p: SchoolProbes, summary: ProxyCycleSummary): Promise<void> {
    const id = p.school.id;
    this.inFlight++;
    summary.maxInFlight = Math.max(summary.maxInFlight, this.inFlight);
    try {
      const log = this.opts.log;
      // Starting a school's probes (timers, pings queued, SNMP sockets) and building its report are CPU work,
      // taken in turns (turns.ts) so 500 schools starting at once do not hold the event loop; the probing
      // itself waits on the network outside them.
      let startedAt = 0;
      const { probing } = await this.reportTurns.run(() => {
        startedAt = this.now();
        return { probing: p.collect({ now: this.now, log, deadlineAtMs: startedAt + this.opts.config.proxy.schoolDeadlineMs }) };
      });
      const probed = await probing.catch((e: unknown) => {
        // collect() never rejects; should it, the school still gets its report (the proxy's health alone).
        log.error({ code: 'AGT_ERR_PROBE_FAILED', school: id, err: String(e) }, "school's probes threw; its measurements are missing from this cycle");
        return { measurements: [] as Measurement[], late: [] as string[] };
      });
      const late = probed.late;
      const { stored } = await this.reportTurns.run(() => this.buildAndStore(id, probed.measurements, startedAt));
      if (late.length) {
        summary.late++;
        log.info({ school: id, late }, 'school deadline passed: what had not finished is recorded as failed');
      }
      const { dropped } = await stored;
      if (dropped.length) log.debug({ school: id, dropped: dropped.length }, 'spool made room');
    } catch (e) {
      summary.failed++;
      this.opts.log.error({ code: 'AGT_ERR_SPOOL_IO', school: id, err: String(e) }, 'proxy: school report not stored; the next cycle tries again');
    } finally {
      this.inFlight--;
    }
  }

  /** Builds one school's report from what its probes measured and hands it to the spool (the promise of its storing). */
  private async buildAndStore(id: string, measurements: Measurement[], startedAtMs: number): Promise<{ stored: Promise<AppendResult> }> {
    const log = this.opts.log;
    const school = { name: 'school', collect: async () => measurements };
    // collectReport() stamps collectedAt with its first reading of the clock: that is when the probing began.
    let began: number | undefined = startedAtMs;
    const now = () => {
      const t = began ?? this.now();
      began = undefined;
      return t;
    };
    const built = await collectReport({
      probes: [school],
      school: id,
      agent: this.identity.current().agent,
      ...(this.epoch && { epoch: this.epoch }),
      seq: this.spool.lastSeq(id) + 1,
      now,
      log,
      spool: this.spool.stats(id),
      counters: this.counters.get(id),
      startedAtMs: this.startedAtMs,
      clockOffsetMs: this.clock.get()?.offsetMs,
      previousCollectedAt: this.lastCollectedAt.get(id),
    });
    // The contract's top-level field (docs/protocol.md); the full agent sends none (absent = full).
    const report: Report = { ...built, agentKind: 'proxy' };
    this.lastCollectedAt.set(id, report.collectedAt - (report.clockOffsetMs ?? 0));
    return { stored: this.spool.append(report) };
  }

  /** One cycle over every school; resolves when every school's report is stored. */
  async cycle(): Promise<ProxyCycleSummary> {
    const t0 = this.now();
    const summary: ProxyCycleSummary = { schools: this.probes.length, late: 0, failed: 0, durationMs: 0, maxInFlight: 0 };
    await Promise.all(this.probes.map((p) => this.schoolLimiter.run(() => this.cycleSchool(p, summary))));
    summary.durationMs = this.now() - t0;
    await this.counters.save();
    this.opts.log.info({ ...summary, waiting: this.spool.waitingReports() }, 'proxy cycle done');
    return summary;
  }

  private getSender(): BatchSender | undefined {
    if (this.sender) return this.sender;
    const token = this.identity.current().token;
    if (!token) return undefined;
    const c = this.opts.config.collector;
    this.sender = new CollectorPool({ urls: [c.url, ...c.failoverUrls], token, timeoutMs: c.timeoutMs, gzip: c.gzip, dictionary: c.dictionary, http2: c.http2, tls: c.tls, version: AGENT_VERSION, now: this.now, log: this.opts.log });
    return this.sender;
  }

  /** Enrolls with `enrollCode` when there is no credential yet; returns why sending waits, if it does. */
  private async enrollIfNeeded(): Promise<string | undefined> {
    const code = this.opts.config.enrollCode;
    if (this.identity.enrolled || !code || this.opts.sender) return undefined;
    const c = this.opts.config.collector;
    try {
      const secureContext = errandSecureContext(c);
      await this.identity.enroll({ url: c.url, code, timeoutMs: c.timeoutMs, ...(secureContext && { secureContext }) });
    } catch (e) {
      if (!(e instanceof EnrollError)) throw e;
      if (!e.retryable) this.authPause.refused(`enrollment failed: ${e.message}`, this.now());
      this.opts.log.error({ code: 'AGT_ERR_ENROLL_FAILED', err: e.message }, 'proxy enrollment failed; reports stay in the spool');
      return e.message;
    }
    if (this.sender instanceof CollectorPool) this.sender.close();
    this.sender = undefined;
    return undefined;
  }

  /** One school's upload; returns its result (stoppedBy set when the collector failed or refused). */
  private async flushSchool(school: string, sender: BatchSender): Promise<FlushResult> {
    const { agent, token } = this.identity.current();
    return flushSpool({
      spool: this.spool.view(school),
      sender: { send: (reports, o) => sender.send(reports, o?.token ? o : token ? { token } : {}) },
      // Reports collected before enrollment (under the config's agent id) travel as the enrolled proxy.
      ...(token && { route: (r: Report) => ({ kind: 'send' as const, token, school: r.school, agent, current: true }) }),
      maxBatchReports: this.opts.config.collector.maxBatchReports,
      liveAfterSeq: 0,
      backlogBytesPerSec: Infinity,
      onAck: (up) => {
        this.clock.observe({ serverTimeMs: up.ack.serverTime, sentAtMs: up.sentAtMs, answeredAtMs: up.answeredAtMs });
        if (up.ack.newToken) this.identity.rotate(up.ack.newToken);
      },
      stats: { add: (d: { droppedReports?: number; sentBytes?: number }) => (this.counters.add(school, d), true) } as unknown as AgentStats,
      now: this.now,
      log: this.opts.log.child({ school }),
    });
  }

  /** One upload round over every school with reports waiting. */
  async flush(): Promise<ProxyFlushSummary> {
    const out: ProxyFlushSummary = { acked: 0, quarantined: 0, deferred: 0 };
    this.identity.reload();
    if (this.authPause.paused(this.now())) return { ...out, deferred: this.spool.waitingSchools().length, stoppedBy: this.authPause.why ?? 'paused' };
    const waitingWhy = await this.enrollIfNeeded();
    const sender = this.getSender();
    if (waitingWhy || !sender) {
      const why = waitingWhy ?? 'collector.token is not set and the proxy is not enrolled (enrollCode, campuslink-agent enroll --code …)';
      this.opts.log.error({ code: 'AGT_ERR_AUTH_REJECTED', waiting: this.spool.waitingReports() }, `proxy not sending: ${why}`);
      return { ...out, deferred: this.spool.waitingSchools().length, stoppedBy: why };
    }
    let stop: string | undefined;
    const now = this.now();
    const schools = this.spool.waitingSchools().filter((s) => {
      const p = this.schoolPause.get(s);
      if (p && p.untilMs > now) {
        out.deferred++;
        return false;
      }
      return true;
    });
    await mapWithConcurrency(schools, this.opts.config.proxy.uploadConcurrency, async (school) => {
      if (stop) {
        out.deferred++;
        return;
      }
      try {
        let e: FlushResult['stoppedBy'];
        for (let attempt = 0; ; attempt++) {
          const r = await this.flushSchool(school, sender);
          out.acked += r.acked.length;
          out.quarantined += r.quarantined.length;
          e = r.stoppedBy;
          // Over the proxy's in-flight share (or this school's budget): only this upload waits, the round goes on.
          if (!e || !isBudgetRefusal(e) || attempt >= BUDGET_RETRIES || stop || (e.retryAfterMs ?? 1000) > MAX_BUDGET_WAIT_MS) break;
          await sleep(e.retryAfterMs ?? 1000, this.stopping.signal);
          if (this.stopping.signal.aborted) break;
        }
        if (!e) {
          this.schoolPause.delete(school);
          return;
        }
        if (isBudgetRefusal(e)) {
          const waitMs = e.retryAfterMs ?? 1000;
          this.schoolPause.set(school, { untilMs: this.now() + waitMs, why: e.message, waitMs });
          this.opts.log.warn({ code: 'COL_ERR_BUDGET_EXCEEDED', school, retryInMs: waitMs }, 'collector still over budget for this school after its Retry-After; its reports stay in the spool, the other schools go on');
          out.deferred++;
          return;
        }
        if (e.action === 'stop-and-alert' && e.status === 403 && /COL_ERR_PROXY_SCOPE/.test(e.message)) {
          // Outside the proxy's scope: this school waits (registry changes apply without re-enrolment), the others go on.
          const prev = this.schoolPause.get(school);
          const waitMs = Math.min(this.opts.config.auth.retryMaxMs, prev ? prev.waitMs * 2 : this.opts.config.auth.retryMinMs);
          this.schoolPause.set(school, { untilMs: this.now() + waitMs, why: e.message, waitMs });
          this.opts.log.error({ code: 'COL_ERR_PROXY_SCOPE', school, retryInMs: waitMs }, 'collector refused this school for the proxy (out of scope); its reports stay in the spool');
          out.deferred++;
          return;
        }
        if (e.action === 'stop-and-alert') this.authPause.refused(`collector refused the proxy's token (${e.message})`, this.now());
        stop = e.message;
        if (e.action === 'keep-and-back-off') this.pendingRetryAfterMs = e.retryAfterMs;
        out.deferred++;
      } catch (e) {
        stop = String(e);
        out.deferred++;
      }
    });
    if (stop) out.stoppedBy = stop;
    else if (out.acked) this.authPause.clear();
    await this.counters.save();
    this.opts.log.info({ ...out, waiting: this.spool.waitingReports() }, 'proxy upload round done');
    return out;
  }

  private pendingRetryAfterMs: number | undefined;

  /** One cycle then one upload round. */
  async once(): Promise<{ cycle: ProxyCycleSummary; flush: ProxyFlushSummary }> {
    const cycle = await this.cycle();
    return { cycle, flush: await this.flush() };
  }

  /** Cycles on the schedule; an upload round after each cycle and, after a failure, on backoff. */
  run(): ProxyRunHandle {
    const c = this.opts.config;
    let stopped = false;
    let wake: (() => void) | undefined;
    let wanted = this.spool.waitingReports() > 0;
    const kick = () => {
      wanted = true;
      wake?.();
    };
    const onCycle = async () => {
      try {
        await this.cycle();
        kick();
      } catch (e) {
        this.opts.log.error({ code: 'AGT_ERR_SPOOL_IO', err: String(e) }, 'proxy cycle failed');
      }
    };
    const task = this.opts.cycleEveryMs ? intervalTask(this.opts.cycleEveryMs, onCycle) : cronTask({ expression: c.schedule, run: onCycle, maxRandomDelayMs: c.jitterMs });
    const loop = (async () => {
      let blockedUntil = 0;
      while (!stopped) {
        const wait = wanted ? Math.max(0, blockedUntil - Date.now()) : undefined;
        if (wait === undefined || wait > 0) {
          await new Promise<void>((r) => {
            wake = r;
            if (wait !== undefined) setTimeout(r, wait).unref();
          });
          wake = undefined;
          continue;
        }
        wanted = false;
        try {
          const r = await this.flush();
          if (this.authPause.paused(this.now())) {
            blockedUntil = Date.now() + (this.authPause.until - this.now());
            wanted = true;
          } else if (r.stoppedBy) {
            blockedUntil = Date.now() + this.backoff.next(this.pendingRetryAfterMs);
            this.pendingRetryAfterMs = undefined;
            wanted = true;
          } else {
            this.backoff.reset();
            blockedUntil = 0;
          }
        } catch (e) {
          this.opts.log.error({ code: 'AGT_ERR_COLLECTOR_UNAVAILABLE', err: String(e) }, 'proxy upload round failed');
          blockedUntil = Date.now() + this.backoff.next();
          wanted = true;
        }
      }
    })();
    this.opts.log.info({ schedule: c.schedule, schools: this.probes.length, concurrency: c.proxy.concurrency, schoolDeadlineMs: c.proxy.schoolDeadlineMs }, 'proxy running');
    return {
      stop: async () => {
        this.stopping.abort();
        await task.stop();
        while (task.isBusy()) await new Promise((r) => setTimeout(r, 50));
        await task.destroy();
        stopped = true;
        wake?.();
        await loop;
      },
    };
  }

  async close(): Promise<void> {
    await this.counters.save();
    await this.spool.close();
    if (this.sender instanceof CollectorPool) this.sender.close();
  }
}
