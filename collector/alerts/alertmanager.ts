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

/** Sends alerts to every configured Alertmanager. */
export class AlertmanagerClient {
  /** Resolved alerts still being re-sent. */
  private readonly resolved = new Map<string, Alert>();
  private readonly auth: string | undefined;

  constructor(private readonly opts: AlertmanagerOptions) {
    this.auth = opts.username !== undefined ? `Basic ${Buffer.from(`${opts.username}:${opts.password ?? ''}`).toString('base64')}` : undefined;
  }

  get enabled(): boolean {
    return this.opts.urls.length > 0;
  }

  /** Resolved alerts waiting for re-sends (a queue depth). */
  get resolvedBacklog(): number {
    return this.resolved.size;
  }

  /** Sends what a sweep changed at once (new alerts and resolutions). */
  async changed(fired: readonly Alert[], resolved: readonly Alert[]): Promise<void> {
    if (!this.enabled) return;
    for (const a of resolved) this.resolved.set(a.key, a);
    for (const a of fired) this.resolved.delete(a.key);
    if (fired.length === 0 && resolved.length === 0) return;
    await this.send([...fired, ...resolved]);
  }

  /** The periodic re-send of everything firing and recently resolved. */
  async resend(active: Iterable<Alert>): Promise<void> {
    if (!this.enabled) return;
    const nowMs = this.opts.now();
    for (const [k, a] of this.resolved) if (nowMs - (a.endsAtMs ?? nowMs) > this.opts.resolvedResendMs) this.resolved.delete(k);
    await this.send([...active, ...this.resolved.values()]);
  }

  private async send(alerts: readonly Alert[]): Promise<void> {
    const nowMs = this.opts.now();
    const firingEnd = nowMs + 4 * this.opts.resendIntervalMs;
    for (let i = 0; i < alerts.length; i += this.opts.maxAlertsPerPost) {
      const body = JSON.stringify(alerts.slice(i, i + this.opts.maxAlertsPerPost).map((a) => postable(a, a.endsAtMs ?? firingEnd)));
      await Promise.all(this.opts.urls.map((u) => this.post(u, body)));
      await yieldNow();
    }
  }

  private async post(base: string, body: string): Promise<void> {
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
      this.opts.metrics?.alertNotifications.inc({ receiver: 'alertmanager', result: 'ok' });
    } catch (e) {
      this.opts.metrics?.alertNotifications.inc({ receiver: 'alertmanager', result: 'error' });
      // Not lost: the next re-send carries every firing alert again.
      this.opts.log.warn({ code: 'COL_ERR_ALERT_DELIVERY', url, err: String((e as Error).message ?? e), retryable: true, retryAfterMs: this.opts.resendIntervalMs }, 'alerts not delivered to Alertmanager; the next re-send carries them again');
    }
  }
}
