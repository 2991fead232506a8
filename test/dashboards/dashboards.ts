/** Loads the Grafana dashboards of `dashboards/` and lists their queries, for the dashboard tests. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const DASHBOARD_DIR = join(import.meta.dirname, '..', '..', 'dashboards');

export interface DashboardTarget {
  refId: string;
  query: string;
  rawQuery?: boolean;
  resultFormat?: string;
  datasource?: { type?: string; uid?: string };
}

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  description?: string;
  fieldConfig?: { defaults?: { unit?: string } };
  datasource?: { type?: string; uid?: string };
  targets?: DashboardTarget[];
  panels?: DashboardPanel[];
}

export interface DashboardVariable {
  name: string;
  type: string;
  query?: string;
  /** Grafana's regex over the query's values; named groups `value` and `text` split each into both. */
  regex?: string;
}

/** The `{ value, text }` options Grafana makes of a variable query's values with the variable's regex. */
export function variableOptions(v: DashboardVariable, values: readonly string[]): { value: string; text: string }[] {
  if (!v.regex) return values.map((x) => ({ value: x, text: x }));
  const m = /^\/(.*)\/([a-z]*)$/.exec(v.regex);
  const re = new RegExp(m ? (m[1] as string) : v.regex, m ? m[2] : '');
  return values.flatMap((x) => {
    const g = re.exec(x);
    if (!g) return [];
    const value = g.groups?.value ?? g[1] ?? x;
    return [{ value, text: g.groups?.text ?? value }];
  });
}

export interface DashboardJson {
  uid: string;
  title: string;
  panels: DashboardPanel[];
  templating: { list: DashboardVariable[] };
  [key: string]: unknown;
}

/** Every `dashboards/*.json`, parsed, with its file name. */
export function loadDashboards(): { file: string; dashboard: DashboardJson }[] {
  return readdirSync(DASHBOARD_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, dashboard: JSON.parse(readFileSync(join(DASHBOARD_DIR, file), 'utf8')) as DashboardJson }));
}

/** Panels including those nested in rows. */
export function allPanels(d: DashboardJson): DashboardPanel[] {
  return d.panels.flatMap((p) => (p.type === 'row' ? (p.panels ?? []) : [p]));
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

export interface MacroValues {
  /** Replaces `$timeFilter`, e.g. `time > now() - 6h`. */
  timeFilter: string;
  /** Replaces `$__interval` and `$interval`, e.g. `1m`. */
  interval: string;
  /** Replaces `${__to}` and `$__to` (epoch ms of the range end). */
  toMs: number;
  /** Replaces `${__from}` and `$__from`. */
  fromMs: number;
  /** Template variable values. */
  vars: Record<string, string>;
  /** Multi-value (or "All") selections: in a regex Grafana writes them as `(a|b|c)`, each escaped. */
  multi?: Record<string, readonly string[]>;
}

/**
 * Substitutes Grafana's macros and template variables the way Grafana's InfluxQL data source does for
 * raw queries: in a regex (`/^$var$/`) the value is regex-escaped, elsewhere it is inserted as is.
 * Throws when a `$…` reference is left that it does not know.
 */
export function substitute(query: string, m: MacroValues): string {
  let q = query
    .replaceAll('$timeFilter', m.timeFilter)
    .replace(/\$\{__interval\}|\$__interval\b|\$\{interval\}|\$interval\b/g, m.interval)
    .replace(/\$\{__to\}|\$__to\b/g, String(m.toMs))
    .replace(/\$\{__from\}|\$__from\b/g, String(m.fromMs));
  // `/^(${var:pipe})$/`: the values joined by `|`, not escaped (a value may itself be `410307|410381`).
  q = q.replace(/\/\^\(\$\{(\w+):pipe\}\)\$\//g, (whole, name: string) => {
    const many = m.multi?.[name] ?? (m.vars[name] === undefined ? undefined : [m.vars[name] as string]);
    if (many === undefined) throw new Error(`no value for template variable $${name} in ${query}`);
    return `/^(${many.join('|')})$/`;
  });
  // Variables inside regex literals, escaped.
  q = q.replace(/\/\^\$\{?(\w+)\}?\$\//g, (whole, name: string) => {
    const many = m.multi?.[name];
    if (many) return `/^(${many.map(escapeRegex).join('|')})$/`;
    const v = m.vars[name];
    if (v === undefined) throw new Error(`no value for template variable $${name} in ${query}`);
    return `/^${escapeRegex(v)}$/`;
  });
  q = q.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, a: string | undefined, b: string | undefined) => {
    const name = (a ?? b) as string;
    const v = m.vars[name];
    if (v === undefined) throw new Error(`unknown macro or variable ${whole} in ${query}`);
    return v;
  });
  return q;
}
