/**
 * Alerts at national level, from the roll-ups: a province whose roll-ups stopped (stale), and a
 * province whose online share stays below a target. Two kinds of their own (the school rules engine
 * judges schools, which a hub never sees); delivery reuses the collector's Alertmanager client, with
 * the same labels and annotations as a province's region alerts.
 */
import type { Logger } from 'pino';
import type { Alert } from '../../alerts/alert.js';
import { AlertmanagerClient } from '../../alerts/alertmanager.js';
import type { RollupStore } from '../store.js';
import { feedsByProvince, isStale, provinceKey, regionName } from './rows.js';
import type { HubAlertsSettings } from './settings.js';

export type HubAlertKind = 'province_stale' | 'province_online';

export const HUB_ALERTNAMES: Record<HubAlertKind, string> = {
  province_stale: 'CampuslinkProvinceStale',
  province_online: 'CampuslinkProvinceOnline',
};

/** One alert of the hub (the fields of a province's alert that Alertmanager and the console read). */
export interface HubAlert {
  key: string;
  kind: HubAlertKind;
  severity: 'warning' | 'critical';
  labels: Record<string, string>;
  summaryEn: string;
  summaryZh: string;
  consoleUrl: string;
  startsAtMs: number;
  endsAtMs?: number;
  /** What the summaries say, as values (the console words them in its language). */
  facts: { asOf: number; receivedAt?: number; valuePct?: number; thresholdPct?: number; forMin?: number };
}

export interface HubAlertsOptions {
  store: RollupStore;
  settings: HubAlertsSettings;
  staleAfterMs: number;
  /** Base URL of the hub's console, for the alerts' links. */
  consoleBase: string;
  now: () => number;
  log: Logger;
}

const pct = (x: number): string => `${(Math.round(x * 10) / 10).toFixed(1)} %`;
const iso = (ms: number): string => new Date(ms).toISOString();
const MAX_RESOLVED = 200;

/** Evaluates the two rules; keeps the firing alerts and the last resolved ones (bounded: provinces are few). */
export class HubAlerts {
  private readonly firing = new Map<string, HubAlert>();
  private readonly resolved: HubAlert[] = [];
  /** Since when each province's online share has been below the target (judged on fresh roll-ups only). */
  private readonly belowSince = new Map<string, number>();
  private readonly am: AlertmanagerClient;

  constructor(private readonly opts: HubAlertsOptions) {
    this.am = new AlertmanagerClient({ urls: opts.settings.alertmanagerUrls, resendIntervalMs: 60_000, resolvedResendMs: 15 * 60_000, maxAlertsPerPost: 100, timeoutMs: 10_000, now: opts.now, log: opts.log });
  }

  /** Firing alerts, newest first. */
  active(): HubAlert[] {
    return [...this.firing.values()].sort((a, b) => b.startsAtMs - a.startsAtMs);
  }

  /** Alerts resolved recently, newest first. */
  recentlyResolved(): HubAlert[] {
    return [...this.resolved].reverse();
  }

  /** One evaluation; sends what changed to Alertmanager. Never throws. */
  async evaluate(): Promise<{ fired: HubAlert[]; resolved: HubAlert[] }> {
    const nowMs = this.opts.now();
    const want = new Map<string, HubAlert>();
    const feeds = feedsByProvince(this.opts.store);
    const { settings } = this.opts;
    for (const p of this.opts.store.children('')) {
      const feed = feeds.get(provinceKey(p.region));
      const name = regionName(p.region, p.name);
      const labels = (kind: HubAlertKind, severity: string) => ({ alertname: HUB_ALERTNAMES[kind], rule: kind, severity, kind, region: p.region, region_name: name, level: 'province', province: p.region });
      const link = `${this.opts.consoleBase}/?region=${p.region}`;
      if (isStale(feed, nowMs, this.opts.staleAfterMs)) {
        this.belowSince.delete(p.region);
        if (!settings.stale) continue;
        const key = `province_stale|${p.region}`;
        const since = feed?.receivedAt ?? p.receivedAt;
        want.set(key, this.firing.get(key) ?? {
          key, kind: 'province_stale', severity: 'critical', labels: labels('province_stale', 'critical'), consoleUrl: link, startsAtMs: nowMs, facts: { asOf: p.asOf, receivedAt: since },
          summaryEn: `${name} (${p.region}): no roll-up since ${iso(since)}; its figures are as of ${iso(p.asOf)} and shown as stale`,
          summaryZh: `${name}（${p.region}）：自 ${iso(since)} 起未收到汇总数据；其数字截至 ${iso(p.asOf)}，显示为过期`,
        });
        continue;
      }
      const share = p.registered ? (100 * p.online) / p.registered : 100;
      if (p.registered < settings.minSchools || share >= settings.onlineBelowPct) {
        this.belowSince.delete(p.region);
        continue;
      }
      const since = this.belowSince.get(p.region) ?? p.asOf;
      this.belowSince.set(p.region, since);
      // Judged on the data's own times: below since the first such roll-up, up to the newest one.
      if (p.asOf - since < settings.forMin * 60_000) continue;
      const key = `province_online|${p.region}`;
      want.set(key, this.firing.get(key) ?? {
        key, kind: 'province_online', severity: 'warning', labels: labels('province_online', 'warning'), consoleUrl: link, startsAtMs: nowMs, facts: { asOf: p.asOf, valuePct: share, thresholdPct: settings.onlineBelowPct, forMin: settings.forMin },
        summaryEn: `${name} (${p.region}): ${pct(share)} of schools online, below ${pct(settings.onlineBelowPct)} for ${settings.forMin} min`,
        summaryZh: `${name}（${p.region}）：学校在线率 ${pct(share)}，连续 ${settings.forMin} 分钟低于 ${pct(settings.onlineBelowPct)}`,
      });
    }
    // Provinces that left the store take their streaks with them.
    for (const code of this.belowSince.keys()) if (!this.opts.store.latest(code)) this.belowSince.delete(code);
    const fired = [...want.values()].filter((a) => !this.firing.has(a.key));
    const resolved: HubAlert[] = [];
    for (const [key, a] of this.firing) {
      if (want.has(key)) continue;
      this.firing.delete(key);
      const done = { ...a, endsAtMs: nowMs };
      resolved.push(done);
      this.resolved.push(done);
    }
    for (const a of fired) this.firing.set(a.key, a);
    if (this.resolved.length > MAX_RESOLVED) this.resolved.splice(0, this.resolved.length - MAX_RESOLVED);
    if (fired.length || resolved.length) this.opts.log.info({ fired: fired.map((a) => a.key), resolved: resolved.map((a) => a.key) }, 'national alerts changed');
    try {
      await this.am.changed(fired as unknown as Alert[], resolved as unknown as Alert[]);
    } catch (e) {
      this.opts.log.warn({ code: 'COL_ERR_ALERT_DELIVERY', err: String(e) }, 'national alerts not delivered; the next re-send carries them');
    }
    return { fired, resolved };
  }

  /** The periodic re-send to Alertmanager (firing ones keep their endsAt in the future). */
  async resend(): Promise<void> {
    await this.am.resend(this.firing.values() as unknown as Iterable<Alert>).catch(() => undefined);
  }
}

/** An alert as the API answers it. */
export function alertJson(a: HubAlert) {
  return { key: a.key, kind: a.kind, severity: a.severity, labels: a.labels, summary: a.summaryEn, summaryZh: a.summaryZh, consoleUrl: a.consoleUrl, facts: { asOf: iso(a.facts.asOf), ...(a.facts.receivedAt !== undefined ? { receivedAt: iso(a.facts.receivedAt) } : {}), ...(a.facts.valuePct !== undefined ? { valuePct: a.facts.valuePct, thresholdPct: a.facts.thresholdPct, forMin: a.facts.forMin } : {}) }, startsAt: iso(a.startsAtMs), endsAt: a.endsAtMs === undefined ? null : iso(a.endsAtMs) };
}
