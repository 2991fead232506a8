/**
 * Direct receivers for operators without Alertmanager: WeCom (企业微信), DingTalk (钉钉, with its
 * "加签" signing) and Feishu (飞书, with "签名校验") group robots, and a generic JSON webhook in
 * Alertmanager's webhook format. Each receiver gathers changes for `groupWaitS`, then sends ONE
 * message listing them by region (a storm of 500 schools going dark is one message), at most one
 * per `minIntervalS` (the robots allow 20 a minute). A refused or failed send keeps the changes and
 * tries again later; nothing is dropped but what is superseded (fired and resolved before sending).
 */
import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type { CollectorMetrics } from '../metrics/registry.js';
import type { Alert } from './alert.js';
import { postable } from './alertmanager.js';
import type { ReceiverSettings } from './settings.js';

const SEVERITY_RANK = { info: 0, warning: 1, critical: 2 } as const;
/** Bytes of message text each robot takes (WeCom markdown 4096; DingTalk and Feishu bodies 20 KB). */
const TEXT_LIMIT: Record<ReceiverSettings['type'], number> = { wecom: 4000, dingtalk: 18_000, feishu: 18_000, webhook: Infinity };
const MAX_RETRY_MS = 10 * 60_000;

/** DingTalk's signature: base64(HMAC-SHA256(key = secret, `${timestampMs}\n${secret}`)). */
export function dingtalkSign(secret: string, timestampMs: number): string {
  return createHmac('sha256', secret).update(`${timestampMs}\n${secret}`).digest('base64');
}

/** Feishu's signature: base64(HMAC-SHA256(key = `${timestampS}\n${secret}`, empty message)). */
export function feishuSign(secret: string, timestampS: number): string {
  return createHmac('sha256', `${timestampS}\n${secret}`).update('').digest('base64');
}

interface Change {
  alert: Alert;
  status: 'firing' | 'resolved';
}

/** The region code an alert is listed under at a level. */
function groupCode(a: Alert, level: ReceiverSettings['groupBy']): string {
  return a.labels[level] ?? a.labels.region ?? a.labels.province ?? 'unknown';
}

/** The text of one message: a headline, then per region its counts and the alerts (up to `maxListed` in all). */
export function messageText(changes: readonly Change[], opts: { groupBy: ReceiverSettings['groupBy']; maxListed: number; markdown: boolean; limitBytes: number }): { title: string; text: string } {
  const firing = changes.filter((c) => c.status === 'firing').length;
  const resolved = changes.length - firing;
  const title = `campuslink 告警 alerts: ${firing} 触发 firing, ${resolved} 恢复 resolved`;
  const groups = new Map<string, Change[]>();
  for (const c of changes) {
    const g = groupCode(c.alert, opts.groupBy);
    let list = groups.get(g);
    if (!list) groups.set(g, (list = []));
    list.push(c);
  }
  const b = (s: string) => (opts.markdown ? `**${s}**` : s);
  const lines = [opts.markdown ? `### ${title}` : title];
  let listed = 0;
  for (const [code, list] of [...groups].sort((x, y) => y[1].length - x[1].length)) {
    const a0 = list[0]?.alert;
    const name = a0?.labels.region === code ? a0.labels.region_name : undefined;
    const byRule = new Map<string, number>();
    for (const c of list) byRule.set(`${c.alert.rule} ${c.status}`, (byRule.get(`${c.alert.rule} ${c.status}`) ?? 0) + 1);
    lines.push('', b(`${name ? `${name} ` : ''}${code}`) + `: ${[...byRule].map(([k, n]) => `${k} ×${n}`).join(', ')}`);
    for (const c of list) {
      if (listed >= opts.maxListed) break;
      listed++;
      const mark = c.status === 'resolved' ? '✅ 恢复' : c.alert.severity === 'critical' ? '🔴' : '🟠';
      const link = opts.markdown ? ` [控制台 console](${c.alert.consoleUrl})` : ` ${c.alert.consoleUrl}`;
      lines.push(`- ${mark} ${c.alert.summaryZh} / ${c.alert.summaryEn}${link}`);
    }
  }
  if (listed < changes.length) lines.push('', `… 另有 ${changes.length - listed} 条 (and ${changes.length - listed} more)`);
  // Cut whole lines to the robot's limit.
  let text = lines.join('\n');
  while (Buffer.byteLength(text) > opts.limitBytes && lines.length > 2) {
    lines.splice(lines.length - 2, 1);
    text = `${lines.join('\n')}`;
  }
  return { title, text };
}

export interface RobotReceiverOptions {
  settings: ReceiverSettings;
  now: () => number;
  log: Logger;
  metrics?: CollectorMetrics;
}

/** One direct receiver with its pending changes and send schedule. */
export class RobotReceiver {
  private pending = new Map<string, Change>();
  private timer: NodeJS.Timeout | undefined;
  private lastSentMs = -Infinity;
  private retryMs = 0;
  /** After a failed send: not before this time. */
  private retryAtMs: number | undefined;
  private sending: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly opts: RobotReceiverOptions) {}

  /** Changes waiting to be sent (a queue depth). */
  get backlog(): number {
    return this.pending.size;
  }

  private wants(a: Alert): boolean {
    const s = this.opts.settings;
    if (SEVERITY_RANK[a.severity] < SEVERITY_RANK[s.minSeverity]) return false;
    if (s.regions.length === 0) return true;
    const codes = [a.labels.school ? a.labels.county : a.labels.region, a.labels.city, a.labels.province];
    return s.regions.some((r) => codes.includes(r));
  }

  /** Takes a sweep's changes. */
  add(fired: readonly Alert[], resolved: readonly Alert[]): void {
    for (const a of fired) if (this.wants(a)) this.pending.set(a.key, { alert: a, status: 'firing' });
    for (const a of resolved) {
      if (!this.wants(a)) continue;
      const p = this.pending.get(a.key);
      // Fired and resolved before anybody was told: nothing to tell.
      if (p?.status === 'firing') this.pending.delete(a.key);
      else if (this.opts.settings.sendResolved) this.pending.set(a.key, { alert: a, status: 'resolved' });
    }
    this.schedule();
  }

  // While a send is in flight nothing is scheduled: its end schedules what came meanwhile, counted from
  // that send (scheduling from the previous one let a storm arriving over several sweeps send twice in groupWaitS).
  private schedule(): void {
    if (this.timer || this.sending || this.stopped || this.pending.size === 0) return;
    const s = this.opts.settings;
    const nowMs = this.opts.now();
    const wait = this.retryAtMs !== undefined ? this.retryAtMs - nowMs : Math.max(s.groupWaitS * 1000, this.lastSentMs + s.minIntervalS * 1000 - nowMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sending = this.flush()
        .catch((e: unknown) => this.opts.log.error({ receiver: s.name, err: String(e) }, 'robot send failed unexpectedly'))
        .finally(() => {
          this.sending = undefined;
          this.schedule();
        });
    }, Math.max(0, wait));
    this.timer.unref();
  }

  /** Sends the pending changes now as one message (tests and the timer). */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const s = this.opts.settings;
    const batch = this.pending;
    this.pending = new Map();
    // The robots count requests: the interval runs from when this one went out.
    this.lastSentMs = this.opts.now();
    try {
      await this.post([...batch.values()]);
      this.retryMs = 0;
      this.retryAtMs = undefined;
      this.opts.metrics?.alertNotifications.inc({ receiver: s.type, result: 'ok' });
    } catch (e) {
      this.opts.metrics?.alertNotifications.inc({ receiver: s.type, result: 'error' });
      // Newer changes of the same alerts win; the rest go back in.
      for (const [k, c] of batch) if (!this.pending.has(k)) this.pending.set(k, c);
      this.retryMs = Math.min(MAX_RETRY_MS, Math.max(s.minIntervalS * 1000, this.retryMs * 2, 5000));
      this.opts.log.warn({ code: 'COL_ERR_ALERT_DELIVERY', receiver: s.name, type: s.type, err: String((e as Error).message ?? e), retryable: true, retryAfterMs: this.retryMs }, 'robot message not delivered; kept and tried again');
      this.retryAtMs = this.opts.now() + this.retryMs;
      this.schedule();
      return;
    }
    this.schedule();
  }

  private async post(changes: Change[]): Promise<void> {
    const s = this.opts.settings;
    const nowMs = this.opts.now();
    const md = messageText(changes, { groupBy: s.groupBy, maxListed: s.maxListed, markdown: s.type !== 'feishu', limitBytes: TEXT_LIMIT[s.type] });
    let url = s.url;
    let body: unknown;
    switch (s.type) {
      case 'wecom':
        body = { msgtype: 'markdown', markdown: { content: md.text } };
        break;
      case 'dingtalk':
        body = { msgtype: 'markdown', markdown: { title: md.title, text: md.text } };
        if (s.secret) url += `${url.includes('?') ? '&' : '?'}timestamp=${nowMs}&sign=${encodeURIComponent(dingtalkSign(s.secret, nowMs))}`;
        break;
      case 'feishu': {
        const ts = Math.floor(nowMs / 1000);
        body = { ...(s.secret ? { timestamp: String(ts), sign: feishuSign(s.secret, ts) } : {}), msg_type: 'text', content: { text: md.text } };
        break;
      }
      case 'webhook': {
        const firing = changes.some((c) => c.status === 'firing');
        body = {
          version: '4',
          receiver: s.name,
          status: firing ? 'firing' : 'resolved',
          title: md.title,
          text: md.text,
          truncatedAlerts: Math.max(0, changes.length - s.maxAlerts),
          alerts: changes.slice(0, s.maxAlerts).map((c) => {
            const p = postable(c.alert, c.alert.endsAtMs ?? 0);
            // Alertmanager's webhook says "no end yet" with the zero time.
            return { status: c.status, ...p, endsAt: c.alert.endsAtMs === undefined ? '0001-01-01T00:00:00Z' : p.endsAt };
          }),
        };
        break;
      }
    }
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(body), signal: AbortSignal.timeout(s.timeoutMs) });
    const text = await res.text();
    if (!res.ok) throw new Error(`answered ${res.status}: ${text.slice(0, 200)}`);
    if (s.type === 'webhook') return;
    // The robots answer 200 with an error code in the body (rate limit, bad signature, keyword).
    let parsed: { errcode?: number; errmsg?: string; code?: number; msg?: string; StatusCode?: number };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      throw new Error(`answered 200 without JSON: ${text.slice(0, 200)}`);
    }
    const code = parsed.errcode ?? parsed.code ?? parsed.StatusCode ?? 0;
    if (code !== 0) throw new Error(`refused: code ${code}: ${parsed.errmsg ?? parsed.msg ?? text.slice(0, 200)}`);
  }

  /** Stops the timer; a send in flight finishes. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.sending;
  }
}
