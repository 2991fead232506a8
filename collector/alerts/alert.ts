/**
 * One alert: its identity, labels (school, county, city, province, link, rule), Chinese and English
 * summaries, the console link, its start and, once resolved, its end.
 */
import type { Registry } from '../registry/index.js';
import type { School } from '../registry/schema.js';
import type { AlertRule, RuleKind, Severity } from './rules.js';

/** An alert the engine raised. Times in ms since the epoch. */
export interface Alert {
  /** Identity: `<rule id>|<school or region code>[|<compliance rule>]`. */
  readonly key: string;
  readonly rule: string;
  readonly kind: RuleKind;
  readonly severity: Severity;
  /** Alertmanager labels: alertname, rule, severity, kind and the place (school, county, city, province, link; or region, level). */
  readonly labels: Readonly<Record<string, string>>;
  readonly summaryEn: string;
  readonly summaryZh: string;
  /** Console page of the school or region. */
  readonly consoleUrl: string;
  readonly startsAtMs: number;
  /** Set when it resolved. */
  endsAtMs?: number;
  /** The sweep that last found it true (engine bookkeeping). */
  sweep: number;
}

/** The Alertmanager `alertname` of each kind. */
export const ALERTNAMES: Record<RuleKind, string> = {
  school_offline: 'CampuslinkSchoolOffline',
  link_loss: 'CampuslinkLinkLoss',
  link_rtt: 'CampuslinkLinkRtt',
  link_jitter: 'CampuslinkLinkJitter',
  spool_backlog: 'CampuslinkSpoolBacklog',
  agent_version: 'CampuslinkAgentVersion',
  modem_snr: 'CampuslinkModemSnr',
  modem_lock: 'CampuslinkModemLock',
  region_online: 'CampuslinkRegionOnline',
  compliance_failing: 'CampuslinkComplianceFailing',
};

/** What the summaries of an alert say: the measured value and the threshold, already formatted. */
export interface AlertFacts {
  value: string;
  threshold: string;
  forMin: number;
  /** compliance_failing: the compliance rule. */
  complianceRule?: string;
}

const LEVEL_ZH = { province: '省', city: '市', county: '县/区' } as const;

function texts(kind: RuleKind, who: { en: string; zh: string }, f: AlertFacts): { en: string; zh: string } {
  const m = f.forMin;
  switch (kind) {
    case 'school_offline':
      return { en: `${who.en} offline: no internet target answered for ${f.value} (alert after ${m} min)`, zh: `${who.zh} 离线：${f.value} 无互联网目标应答（阈值 ${m} 分钟）` };
    case 'link_loss':
      return { en: `${who.en}: packet loss ${f.value} above ${f.threshold} for ${m} min`, zh: `${who.zh}：丢包率 ${f.value}，连续 ${m} 分钟高于 ${f.threshold}` };
    case 'link_rtt':
      return { en: `${who.en}: round-trip time ${f.value} above ${f.threshold} for ${m} min`, zh: `${who.zh}：往返时延 ${f.value}，连续 ${m} 分钟高于 ${f.threshold}` };
    case 'link_jitter':
      return { en: `${who.en}: jitter ${f.value} above ${f.threshold} for ${m} min`, zh: `${who.zh}：抖动 ${f.value}，连续 ${m} 分钟高于 ${f.threshold}` };
    case 'spool_backlog':
      return { en: `${who.en}: agent spool backlog of ${f.value} reports, not shrinking for ${m} min`, zh: `${who.zh}：采集端积压 ${f.value} 份报告，${m} 分钟未减少` };
    case 'agent_version':
      return { en: `${who.en}: agent version ${f.value} is older than ${f.threshold}`, zh: `${who.zh}：采集端版本 ${f.value} 低于 ${f.threshold}` };
    case 'modem_snr':
      return { en: `${who.en}: modem SNR ${f.value} below ${f.threshold} for ${m} min`, zh: `${who.zh}：卫星调制解调器信噪比 ${f.value}，连续 ${m} 分钟低于 ${f.threshold}` };
    case 'modem_lock':
      return { en: `${who.en}: modem lost lock for ${m} min`, zh: `${who.zh}：卫星调制解调器失锁已 ${m} 分钟` };
    case 'region_online':
      return { en: `${who.en}: ${f.value} of schools online, below ${f.threshold} for ${m} min`, zh: `${who.zh}：学校在线率 ${f.value}，连续 ${m} 分钟低于 ${f.threshold}` };
    case 'compliance_failing':
      return { en: `${who.en}: compliance rule ${f.complianceRule} newly failing`, zh: `${who.zh}：合规规则 ${f.complianceRule} 新近不达标` };
  }
}

function build(rule: AlertRule, key: string, labels: Record<string, string>, t: { en: string; zh: string }, consoleUrl: string, atMs: number): Alert {
  return { key, rule: rule.id, kind: rule.kind, severity: rule.severity, labels, summaryEn: t.en, summaryZh: t.zh, consoleUrl, startsAtMs: atMs, sweep: 0 };
}

/**
 * A school alert as the engine raises it: identity, start and what the summaries need (a few words
 * and references, ~150 bytes), with the labels built on first read and the summaries and console link
 * each time they are read. A storm raising 20,000 alerts then allocates little that survives (the old
 * eager alert kept ~1 KB of labels and two summaries each, which made the sweep's scavenges and a
 * major GC hold the event loop); the text is built where it is delivered or written.
 * `JSON.stringify` gives the plain form (`alertRecord`); spreading one does not copy the getters.
 */
export class SchoolAlert implements Alert {
  endsAtMs?: number;
  sweep = 0;
  private labelsMemo: Readonly<Record<string, string>> | undefined;
  readonly rule: string;
  readonly kind: RuleKind;
  readonly severity: Severity;

  constructor(
    readonly key: string,
    private readonly def: AlertRule,
    /** The school (its codes and name at raise time; a registry reload does not rewrite a firing alert). */
    readonly school: School,
    private readonly countyName: string,
    private readonly facts: AlertFacts,
    private readonly consoleBase: string,
    readonly startsAtMs: number,
  ) {
    this.rule = def.id;
    this.kind = def.kind;
    this.severity = def.severity;
  }

  get labels(): Readonly<Record<string, string>> {
    return (this.labelsMemo ??= schoolLabels(this.def, this.school, this.facts.complianceRule));
  }

  get summaryEn(): string {
    const s = this.school;
    return texts(this.kind, { en: `School ${s.id} (${s.name}, ${this.countyName})`, zh: '' }, this.facts).en;
  }

  get summaryZh(): string {
    const s = this.school;
    return texts(this.kind, { en: '', zh: `${this.countyName}${s.name}（${s.id}）` }, this.facts).zh;
  }

  get consoleUrl(): string {
    return `${this.consoleBase}/console/school.html?id=${this.school.id}`;
  }

  toJSON(): AlertRecord {
    return alertRecord(this);
  }
}

/** The plain, serializable form of an alert (the state database's rows, restored alerts). */
export type AlertRecord = Omit<Alert, 'sweep'> & { sweep?: number };

/** An alert as a plain object (what `alerts_active` and `alert_resolved` store), without engine bookkeeping. */
export function alertRecord(a: Alert): AlertRecord {
  return { key: a.key, rule: a.rule, kind: a.kind, severity: a.severity, labels: a.labels, summaryEn: a.summaryEn, summaryZh: a.summaryZh, consoleUrl: a.consoleUrl, startsAtMs: a.startsAtMs, ...(a.endsAtMs !== undefined ? { endsAtMs: a.endsAtMs } : {}) };
}

/** A resolved copy of an alert (ends at `endsAtMs`) as a plain object. */
export function resolvedCopy(a: Alert, endsAtMs: number): Alert {
  return { ...alertRecord(a), endsAtMs, sweep: a.sweep };
}

/** True when the alert lies under `code`: its school, or a county, city, province or region code it names (000000: every alert). */
export function alertUnder(a: Alert, code: string): boolean {
  if (code === '000000') return true;
  if (a instanceof SchoolAlert) {
    const s = a.school;
    return s.id === code || s.countyCode === code || s.cityCode === code || s.provinceCode === code;
  }
  const l = a.labels;
  return l.school === code || l.county === code || l.city === code || l.province === code || l.region === code;
}

function schoolLabels(rule: AlertRule, s: School, complianceRule: string | undefined): Record<string, string> {
  return {
    alertname: ALERTNAMES[rule.kind],
    rule: rule.id,
    severity: rule.severity,
    kind: rule.kind,
    school: s.id,
    school_name: s.name,
    county: s.countyCode,
    city: s.cityCode,
    province: s.provinceCode,
    link: s.linkType,
    ...(complianceRule ? { compliance_rule: complianceRule } : {}),
  };
}

/** Builds alerts with labels, summaries and console links. */
export class AlertFactory {
  constructor(private readonly consoleBase: string) {}

  /** An alert about one school (labels and texts built when read: see SchoolAlert). */
  school(rule: AlertRule, reg: Registry, s: School, f: AlertFacts, atMs: number, key?: string): SchoolAlert {
    const county = reg.counties.get(s.countyCode)?.name ?? s.countyCode;
    return new SchoolAlert(key ?? `${rule.id}|${s.id}${f.complianceRule ? `|${f.complianceRule}` : ''}`, rule, s, county, f, this.consoleBase, atMs);
  }

  /** An alert about a region (province, city or county). */
  region(rule: AlertRule, reg: Registry, code: string, level: 'province' | 'city' | 'county', f: AlertFacts, atMs: number): Alert {
    const r = reg.region(code);
    const name = r?.name ?? code;
    const province = `${code.slice(0, 2)}0000`;
    const city = `${code.slice(0, 4)}00`;
    const labels: Record<string, string> = {
      alertname: ALERTNAMES[rule.kind],
      rule: rule.id,
      severity: rule.severity,
      kind: rule.kind,
      region: code,
      region_name: name,
      level,
      province,
      ...(level !== 'province' ? { city } : {}),
      ...(level === 'county' ? { county: code } : {}),
    };
    const t = texts(rule.kind, { en: `${name} (${code}, ${level})`, zh: `${name}（${LEVEL_ZH[level]} ${code}）` }, f);
    return build(rule, `${rule.id}|${code}`, labels, t, `${this.consoleBase}/console/offline.html?region=${code}`, atMs);
  }
}

/** Minutes as text, e.g. "42 min" / "3 h 5 min". */
export function durationText(ms: number): string {
  const min = Math.max(0, Math.round(ms / 60_000));
  return min < 60 ? `${min} min` : `${Math.floor(min / 60)} h ${min % 60} min`;
}
