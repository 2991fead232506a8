/**
 * Delivery to Prometheus Alertmanager through its v2 API (`POST /api/v2/alerts`), the way Prometheus
 * does it: every firing alert is sent again every `resendIntervalMs` with `endsAt` = now + 4 × that
 * (so Alertmanager resolves it by itself if the collector dies), and a resolved alert is sent with
 * `endsAt` = the time it resolved, again for `resolvedResendMs`. Grouping, silences, inhibition and
 * the receivers (email, webhooks) are Alertmanager's job.
 */
import type { Logger } from 'pino';
import type { CollectorMetrics } from '../metrics/registry.js';
import type { Alert } from './alert.js';

export interface AlertmanagerOptions {
  urls: readonly string[];
  resendIntervalMs: number;
  resolvedResendMs: number;
  maxAlertsPerPost: number;
  timeoutMs: number;
  username?: string;
  password?: string;
  /** Most resolved alerts kept for re-sends (the oldest go first). Default 300,000. */
  maxResolved?: number;
  now: () => number;
  log: Logger;
  metrics?: CollectorMetrics;
}

/** The v2 API's postable alert. */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
}

/** One alert as Alertmanager takes it. */
export function postable(a: Alert, endsAtMs: number): PostableAlert {
  return {
    labels: { ...a.labels },
    annotations: { summary: a.summaryEn, summary_zh: a.summaryZh, console_url: a.consoleUrl },
    startsAt: new Date(a.startsAtMs).toISOString(),
    endsAt: new Date(endsAtMs).toISOString(),
    generatorURL: a.consoleUrl,
  };
}

const yieldNow = (): Promise<void> => new Promise((r) => setImmediate(r));
/** Backoff of an Alertmanager that failed: first wait, most, ms. */
const BACKOFF_FIRST_MS = 5_000;
const BACKOFF_MAX_MS = 5 * 60_000;

/**
 * Sends alerts to every configured Alertmanager. Nothing here holds up the sweep: `changed()` only
 * queues (one queue entry per alert key, so the queue is bounded by the alerts that exist) and one
 * sender at a time drains it. An Alertmanager that fails (down, refusing, slower than `timeoutMs`)
 * is skipped for the rest of that send and then backs off (5 s doubling to 5 min) for changes; the
 * periodic re-send always tries it, and carries every firing and recently resolved alert again, so
 * what it missed is not lost.
 */
export class AlertmanagerClient {
  /** Resolved alerts still being re-sent (oldest first; at most `maxResolved`). */
  private readonly resolved = new Map<string, Alert>();
  private readonly auth: string | undefined;
  /** Changes not yet sent, by key (a newer change of the same alert replaces an older one). */
  private queued = new Map<string, Alert>();
  private draining: Promise<void> | undefined;
  /** Per Alertmanager URL: consecutive failures and the time before which changes skip it. */
  private readonly health = new Map<string, { failures: number; untilMs: number }>();

  constructor(private readonly opts: AlertmanagerOptions) {
    this.auth = opts.username !== undefined ? `Basic ${Buffer.from(`${opts.username}:${opts.password ?? ''}`).toString('base64')}` : undefined;
  }

  get enabled(): boolean {
    return this.opts.urls.length > 0;
  }

  /** Changes not yet sent (a queue depth). */
  get backlog(): number {
    return this.queued.size;
  }

  /** Resolved alerts still being re-sent. */
  get resolvedBacklog(): number {
    return this.resolved.size;
  }

  /** Queues what a sweep changed (new alerts and resolutions) and returns at once; `idle()` settles the sending. */
  changed(fired: readonly Alert[], resolved: readonly Alert[]): void {
    if (!this.enabled || (fired.length === 0 && resolved.length === 0)) return;
    for (const a of resolved) {
      this.resolved.delete(a.key);
      this.resolved.set(a.key, a);
      this.queued.set(a.key, a);
    }
    for (const a of fired) {
      this.resolved.delete(a.key);
      this.queued.set(a.key, a);
    }
    const max = this.opts.maxResolved ?? 300_000;
    for (const k of this.resolved.keys()) {
      if (this.resolved.size <= max) break;
      this.resolved.delete(k);
    }
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
  }

  /** Settles the sends queued so far (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    while (this.queued.size > 0) {
      const batch = [...this.queued.values()];
      this.queued = new Map();
      const nowMs = this.opts.now();
      await this.send(batch, this.opts.urls.filter((u) => (this.health.get(u)?.untilMs ?? 0) <= nowMs));
    }
  }

  /** The periodic re-send of everything firing and recently resolved, to every Alertmanager. */
  async resend(active: Iterable<Alert>): Promise<void> {
    if (!this.enabled) return;
    const nowMs = this.opts.now();
    for (const [k, a] of this.resolved) if (nowMs - (a.endsAtMs ?? nowMs) > this.opts.resolvedResendMs) this.resolved.delete(k);
    await this.send([...active, ...this.resolved.values()], this.opts.urls);
  }

  private async send(alerts: readonly Alert[], urls: readonly string[]): Promise<void> {
    const nowMs = this.opts.now();
    const firingEnd = nowMs + 4 * this.opts.resendIntervalMs;
    let live = [...urls];
    for (let i = 0; i < alerts.length && live.length > 0; i += this.opts.maxAlertsPerPost) {
      const body = JSON.stringify(alerts.slice(i, i + this.opts.maxAlertsPerPost).map((a) => postable(a, a.endsAtMs ?? firingEnd)));
      const ok = await Promise.all(live.map((u) => this.post(u, body)));
      // A failed Alertmanager gets none of the remaining posts of this send: 60 posts × a 10 s timeout would tie the sender up for 10 minutes.
      live = live.filter((_, k) => ok[k]);
      await yieldNow();
    }
  }

  private async post(base: string, body: string): Promise<boolean> {
    const url = `${base.replace(/\/+$/, '')}/api/v2/alerts`;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(this.auth ? { authorization: this.auth } : {}) },
        body,
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`answered ${res.status}: ${text.slice(0, 200)}`);
      this.health.delete(base);
      this.opts.metrics?.alertNotifications.inc({ receiver: 'alertmanager', result: 'ok' });
      return true;
    } catch (e) {
      this.opts.metrics?.alertNotifications.inc({ receiver: 'alertmanager', result: 'error' });
      const h = this.health.get(base) ?? { failures: 0, untilMs: 0 };
      h.failures++;
      const backoffMs = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (h.failures - 1));
      h.untilMs = this.opts.now() + backoffMs;
      this.health.set(base, h);
      // Not lost: the next re-send carries every firing and recently resolved alert again.
      this.opts.log.warn({ code: 'COL_ERR_ALERT_DELIVERY', url, err: String((e as Error).message ?? e), failures: h.failures, retryable: true, retryAfterMs: Math.min(backoffMs, this.opts.resendIntervalMs) }, 'alerts not delivered to Alertmanager; the next re-send carries them again');
      return false;
    }
  }
}
