/**
 * `grafana push`: creates or updates the campuslink data source, folder and dashboards in a Grafana
 * through its HTTP API. Idempotent: every object is read first and written only when it differs, so
 * a second run changes nothing. Dashboard updates carry the version read, so a dashboard edited in
 * Grafana meanwhile is refused (412) rather than silently overwritten, unless `force` is set.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { GrafanaClient, GrafanaApiError } from './client.js';

/** The data source the dashboards' `$datasource` variable selects by default. */
export const DATASOURCE_UID = 'campuslink-influxdb';
export const DATASOURCE_NAME = 'campuslink';

export interface DataSourceSettings {
  /** InfluxDB URL as Grafana's server reaches it, e.g. `http://influxdb:8086`. */
  influxUrl: string;
  /** Database (1.x) or DBRP-mapped database name (2.x/3.x). */
  database: string;
  user?: string;
  /** Sent when the data source is created or updated; never compared (Grafana does not return it). */
  password?: string;
}

export interface PushOptions {
  client: GrafanaClient;
  /** Directory of dashboard JSON files. */
  dashboardsDir: string;
  /** Folder title; its uid is derived from it unless `folderUid` is given. Default `campuslink`. */
  folder?: string;
  folderUid?: string;
  datasource: DataSourceSettings;
  /** Only read and report what would change. */
  dryRun?: boolean;
  /** Overwrite dashboards changed in Grafana meanwhile, or another dashboard with the same title. */
  force?: boolean;
}

export type PushAction = 'create' | 'update' | 'unchanged';

/** One line of the outcome. */
export interface PushChange {
  kind: 'datasource' | 'folder' | 'dashboard';
  uid: string;
  title: string;
  action: PushAction;
  /** Top-level keys that differ, for updates. */
  changed?: string[];
}

/** JSON with object keys sorted, so key order never counts as a change. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Keys of `want` whose value differs in `have` (keys absent from `want` are ignored). */
function diffKeys(want: Record<string, unknown>, have: Record<string, unknown>): string[] {
  return Object.keys(want).filter((k) => canonical(want[k]) !== canonical(have[k]));
}

/** Reads every `*.json` dashboard of a directory; each must have a uid and a title. */
export function readDashboards(dir: string): Record<string, unknown>[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  if (files.length === 0) throw new Error(`no dashboard JSON files in ${dir}`);
  return files.map((f) => {
    const d = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>;
    if (typeof d.uid !== 'string' || typeof d.title !== 'string') throw new Error(`${join(dir, f)}: a dashboard needs a uid and a title`);
    return d;
  });
}

/** The data source as Grafana's API takes it. */
function wantedDataSource(s: DataSourceSettings): Record<string, unknown> {
  return {
    uid: DATASOURCE_UID,
    name: DATASOURCE_NAME,
    type: 'influxdb',
    access: 'proxy',
    url: s.influxUrl,
    user: s.user ?? '',
    basicAuth: false,
    jsonData: { dbName: s.database, httpMode: 'POST', timeInterval: '1m' },
  };
}

/** Dashboard JSON as compared and sent: without Grafana's own `id` and `version`. */
function comparable(d: Record<string, unknown>): Record<string, unknown> {
  const { id: _id, version: _version, ...rest } = d;
  return rest;
}

/** Pushes (or, with dryRun, plans) the data source, the folder and every dashboard; returns what changed. */
export async function pushToGrafana(options: PushOptions): Promise<PushChange[]> {
  const { client, dryRun = false, force = false } = options;
  const folderTitle = options.folder ?? 'campuslink';
  const folderUid = options.folderUid ?? (folderTitle.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'campuslink');
  const dashboards = readDashboards(options.dashboardsDir);
  const changes: PushChange[] = [];

  // --- data source ---------------------------------------------------------------------------
  const wantDs = wantedDataSource(options.datasource);
  const dsPath = `/api/datasources/uid/${encodeURIComponent(DATASOURCE_UID)}`;
  const haveDs = await client.request<Record<string, unknown>>('GET', dsPath, `reading data source ${DATASOURCE_UID}`, undefined, [404]);
  const secure = options.datasource.password ? { secureJsonData: { password: options.datasource.password } } : {};
  if (haveDs.status === 404 || !haveDs.body) {
    changes.push({ kind: 'datasource', uid: DATASOURCE_UID, title: DATASOURCE_NAME, action: 'create' });
    if (!dryRun) await client.request('POST', '/api/datasources', `creating data source ${DATASOURCE_NAME}`, { ...wantDs, ...secure });
  } else {
    const changed = diffKeys(wantDs, haveDs.body);
    changes.push({ kind: 'datasource', uid: DATASOURCE_UID, title: DATASOURCE_NAME, action: changed.length ? 'update' : 'unchanged', ...(changed.length ? { changed } : {}) });
    if (changed.length && !dryRun) {
      await client.request('PUT', dsPath, `updating data source ${DATASOURCE_NAME}`, { ...haveDs.body, ...wantDs, ...secure });
    }
  }

  // --- folder ---------------------------------------------------------------------------------
  const folderPath = `/api/folders/${encodeURIComponent(folderUid)}`;
  const haveFolder = await client.request<{ uid: string; title: string; version?: number }>('GET', folderPath, `reading folder ${folderUid}`, undefined, [404]);
  if (haveFolder.status === 404 || !haveFolder.body) {
    changes.push({ kind: 'folder', uid: folderUid, title: folderTitle, action: 'create' });
    if (!dryRun) await client.request('POST', '/api/folders', `creating folder ${folderTitle}`, { uid: folderUid, title: folderTitle });
  } else if (haveFolder.body.title !== folderTitle) {
    changes.push({ kind: 'folder', uid: folderUid, title: folderTitle, action: 'update', changed: ['title'] });
    if (!dryRun) {
      await client.request('PUT', folderPath, `renaming folder ${folderUid}`, { title: folderTitle, version: haveFolder.body.version, overwrite: force });
    }
  } else {
    changes.push({ kind: 'folder', uid: folderUid, title: folderTitle, action: 'unchanged' });
  }

  // --- dashboards -----------------------------------------------------------------------------
  for (const want of dashboards) {
    const uid = want.uid as string;
    const title = want.title as string;
    const have = await client.request<{ dashboard: Record<string, unknown>; meta: { folderUid?: string; version?: number } }>(
      'GET',
      `/api/dashboards/uid/${encodeURIComponent(uid)}`,
      `reading dashboard ${uid}`,
      undefined,
      [404],
    );
    let action: PushAction;
    let changed: string[] | undefined;
    let base: { id: number | null; version?: number };
    if (have.status === 404 || !have.body) {
      action = 'create';
      base = { id: null };
    } else {
      const wantC = comparable(want);
      changed = diffKeys(wantC, have.body.dashboard);
      // A key Grafana holds that the file no longer has is a change too.
      for (const k of Object.keys(comparable(have.body.dashboard))) if (!(k in wantC)) changed.push(k);
      if ((have.body.meta.folderUid ?? '') !== folderUid) changed.push('(folder)');
      action = changed.length ? 'update' : 'unchanged';
      base = { id: (have.body.dashboard.id as number | undefined) ?? null, version: (have.body.dashboard.version as number | undefined) ?? have.body.meta.version };
    }
    changes.push({ kind: 'dashboard', uid, title, action, ...(changed?.length ? { changed } : {}) });
    if (action === 'unchanged' || dryRun) continue;
    await client.request('POST', '/api/dashboards/db', `${action === 'create' ? 'creating' : 'updating'} dashboard ${uid}`, {
      dashboard: { ...comparable(want), ...base },
      folderUid,
      message: `campuslink-collector grafana push (${action})`,
      overwrite: force,
    });
  }
  return changes;
}

/** One human line per change, e.g. `update dashboard campuslink-school (panels, title)`. */
export function formatChange(c: PushChange, dryRun: boolean): string {
  const verb = c.action === 'unchanged' ? 'unchanged' : dryRun ? `would ${c.action}` : c.action === 'create' ? 'created' : 'updated';
  return `${verb.padEnd(14)} ${c.kind.padEnd(10)} ${c.uid} "${c.title}"${c.changed ? ` (${c.changed.join(', ')})` : ''}`;
}

export { GrafanaApiError };
