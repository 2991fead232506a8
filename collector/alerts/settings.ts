/**
 * The `alerts:` section of the collector config: the rules file (validated with the config, every
 * problem listed), how often rules are swept, Alertmanager and the direct robot receivers.
 */
import { existsSync, readFileSync } from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import { alertRulesIssues } from './rules.js';

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/** A direct receiver: a WeCom, DingTalk or Feishu group robot, or a generic JSON webhook. */
export const receiverSchema = z
  .strictObject({
    /** Name in logs and metrics. */
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ -'),
    type: z.enum(['wecom', 'dingtalk', 'feishu', 'webhook']),
    /** The robot's webhook URL as the chat app gives it (with its key/access_token). */
    url: httpUrl,
    /** DingTalk "加签" / Feishu "签名校验" secret; give it through the environment, not the file. */
    secret: z.string().min(1).optional(),
    /** Alerts are listed per region of this level in a message. */
    groupBy: z.enum(['province', 'city', 'county']).default('county'),
    /** Only alerts under these region codes (province, city or county); empty = all. */
    regions: z.array(z.string().regex(/^\d{6}$/, 'must be a 6-digit region code')).default([]),
    /** Lowest severity sent. */
    minSeverity: z.enum(['info', 'warning', 'critical']).default('warning'),
    /** Changes are gathered this long after the first one before a message goes out, s. */
    groupWaitS: z.number().min(0).max(3600).default(30),
    /** At most one message per this many seconds (robots allow 20 a minute; a storm is one message). */
    minIntervalS: z.number().min(0).max(86_400).default(60),
    /** Alerts named one by one in a message; the rest are counted per region. */
    maxListed: z.number().int().min(1).max(200).default(20),
    /**
     * webhook: most alerts listed in one message's `alerts` (the rest counted in `truncatedAlerts`, as
     * Alertmanager's webhook `max_alerts` does); a storm of 60,000 would be a 30 MB body built in one piece.
     */
    maxAlerts: z.number().int().min(1).max(100_000).default(1000),
    /** Also tell when alerts resolve. */
    sendResolved: z.boolean().default(true),
    /** Timeout of one POST, ms. */
    timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  })
  .superRefine((r, ctx) => {
    if (r.secret && (r.type === 'wecom' || r.type === 'webhook')) ctx.addIssue({ code: 'custom', path: ['secret'], message: `${r.type} robots have no signing secret (only dingtalk and feishu)` });
  });

export type ReceiverSettings = z.output<typeof receiverSchema>;

export const alertsSettingsSchema = z
  .strictObject({
    /** YAML file of alert rules (docs/alerts.md); empty = the built-in rules (config/alerts.example.yaml). */
    rulesFile: z.string().default(''),
    /** How often every rule is swept over every school and region, s. */
    evaluateIntervalS: z.number().int().min(1).max(3600).default(30),
    /** Base URL of the console in alert links, e.g. https://campuslink.example.cn; empty = the listen address. */
    consoleUrl: z.union([httpUrl, z.literal('')]).default(''),
    /** A link or modem alert resolves when the school sent no sample for this long, minutes. */
    staleAfterMin: z.number().positive().max(24 * 60).default(15),
    /** Most alerts firing at once (memory and state-database bound). */
    maxActive: z.number().int().min(1).max(10_000_000).default(300_000),
    alertmanager: z
      .strictObject({
        /** Alertmanager base URLs (every one gets every alert, as Prometheus does for an HA pair). */
        urls: z.array(httpUrl).default([]),
        /** Firing alerts are sent again this often; they carry endsAt = now + 4 × this, s. */
        resendIntervalS: z.number().int().min(1).max(3600).default(60),
        /** Resolved alerts are sent again for this long, minutes. */
        resolvedResendMin: z.number().min(0).max(24 * 60).default(15),
        /** Alerts per POST. */
        maxAlertsPerPost: z.number().int().min(1).max(100_000).default(1000),
        timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
        /** Optional HTTP Basic credentials. */
        username: z.string().optional(),
        password: z.string().optional(),
      })
      .prefault({}),
    /** Direct robot and webhook receivers (operators without Alertmanager). */
    receivers: z.array(receiverSchema).default([]),
  })
  .superRefine((a, ctx) => {
    const names = new Set<string>();
    a.receivers.forEach((r, i) => {
      if (names.has(r.name)) ctx.addIssue({ code: 'custom', path: ['receivers', i, 'name'], message: `duplicate receiver name ${r.name}` });
      names.add(r.name);
    });
    if (!a.rulesFile) return;
    // The rules are part of the config: a bad rules file stops start-up with every problem listed.
    if (!existsSync(a.rulesFile)) return void ctx.addIssue({ code: 'custom', path: ['rulesFile'], message: `no such file: ${a.rulesFile}` });
    let data: unknown;
    try {
      const doc = YAML.parseDocument(readFileSync(a.rulesFile, 'utf8'), { prettyErrors: true });
      for (const e of doc.errors) ctx.addIssue({ code: 'custom', path: ['rulesFile'], message: `${a.rulesFile}: YAML: ${e.message}` });
      if (doc.errors.length) return;
      data = doc.toJS();
    } catch (e) {
      return void ctx.addIssue({ code: 'custom', path: ['rulesFile'], message: `${a.rulesFile}: ${(e as Error).message}` });
    }
    for (const i of alertRulesIssues(data)) ctx.addIssue({ code: 'custom', path: ['rulesFile'], message: `${a.rulesFile}: ${i.path || '(root)'}: ${i.message}` });
  });

export type AlertsSettings = z.output<typeof alertsSettingsSchema>;
