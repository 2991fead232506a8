/**
 * A contract server for the parts of Grafana's HTTP API that `campuslink-collector grafana push` uses,
 * for tests (no Grafana can be installed on the build machines). It follows the documented behaviour
 * (https://grafana.com/docs/grafana/latest/developers/http_api/ — dashboard, folder, data_source):
 *
 * - `Authorization: Bearer <token>`; an unknown token → 401 `{"message":"Unauthorized"}`; tokens have a
 *   role: Viewer may only read, Editor may write folders and dashboards, Admin also data sources (else 403);
 * - data sources by uid: GET (404 "Data source not found"; secrets are never returned, only
 *   `secureJsonFields`), POST (409 when the name or uid exists), PUT /api/datasources/uid/:uid;
 * - folders: GET /api/folders/:uid (404), POST (409 when the uid or title exists), PUT with `version`
 *   (412 version-mismatch unless `overwrite`);
 * - dashboards: GET /api/dashboards/uid/:uid → `{ dashboard, meta: { folderUid, version, … } }`;
 *   POST /api/dashboards/db with `{ dashboard, folderUid, overwrite, message }`: a missing folder → 400,
 *   an update whose `version` differs from the stored one → 412 `version-mismatch`, another dashboard
 *   with the same title in the folder → 412 `name-exists` (both unless `overwrite`), an empty title →
 *   400; success → `{ id, uid, url, status: "success", version, slug }` with the version bumped.
 * Loopback only.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Role = 'Viewer' | 'Editor' | 'Admin';

interface StoredDashboard {
  dashboard: Record<string, unknown> & { id: number; uid: string; version: number; title: string };
  folderUid: string;
}

export interface GrafanaContractServer {
  url: string;
  /** Non-GET requests received (method + path + status), in order. */
  writes: { method: string; path: string; status: number }[];
  datasources: Map<string, Record<string, unknown>>;
  /** Secrets as stored (never returned by the API). */
  secrets: Map<string, Record<string, string>>;
  folders: Map<string, { id: number; uid: string; title: string; version: number }>;
  dashboards: Map<string, StoredDashboard>;
  /** Simulates a user saving a dashboard in the UI: merges the patch and bumps the version. */
  editDashboard(uid: string, patch: Record<string, unknown>): void;
  /** Adds a dashboard as if created by someone else. */
  addDashboard(d: Record<string, unknown> & { uid: string; title: string }, folderUid: string): void;
  close(): Promise<void>;
}

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

/** Starts the server on a free loopback port; `tokens` maps each token to its role. */
export async function startGrafanaContractServer(options: { tokens: Record<string, Role> }): Promise<GrafanaContractServer> {
  const writes: GrafanaContractServer['writes'] = [];
  const datasources = new Map<string, Record<string, unknown>>();
  const secrets = new Map<string, Record<string, string>>();
  const folders = new Map<string, { id: number; uid: string; title: string; version: number }>();
  const dashboards = new Map<string, StoredDashboard>();
  let nextId = 1;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const method = req.method ?? 'GET';
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const send = (status: number, body: unknown) => {
        if (method !== 'GET') writes.push({ method, path, status });
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      const role = auth ? options.tokens[auth[1] as string] : undefined;
      if (!role) return send(401, { message: 'Unauthorized' });
      let body: Record<string, unknown> = {};
      if (chunks.length) {
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        } catch {
          return send(400, { message: 'bad request data' });
        }
      }
      const canEdit = role === 'Editor' || role === 'Admin';
      let m: RegExpExecArray | null;

      // --- data sources
      if ((m = /^\/api\/datasources\/uid\/([^/]+)$/.exec(path))) {
        const uid = decodeURIComponent(m[1] as string);
        if (!canEdit) return send(403, { message: 'Permission denied' });
        const ds = datasources.get(uid);
        if (method === 'GET') return ds ? send(200, ds) : send(404, { message: 'Data source not found' });
        if (method === 'PUT') {
          if (role !== 'Admin') return send(403, { message: 'Permission denied' });
          if (!ds) return send(404, { message: 'Data source not found' });
          const { secureJsonData, ...rest } = body as { secureJsonData?: Record<string, string> };
          const updated: Record<string, unknown> = { ...ds, ...rest, id: ds.id, uid, version: (ds.version as number) + 1, secureJsonFields: { ...(ds.secureJsonFields as object), ...Object.fromEntries(Object.keys(secureJsonData ?? {}).map((k) => [k, true])) } };
          if (secureJsonData) secrets.set(uid, { ...secrets.get(uid), ...secureJsonData });
          datasources.set(uid, updated);
          return send(200, { datasource: updated, id: updated.id, message: 'Datasource updated', name: updated.name });
        }
      }
      if (path === '/api/datasources' && method === 'POST') {
        if (role !== 'Admin') return send(403, { message: 'Permission denied' });
        const { secureJsonData, ...rest } = body as { secureJsonData?: Record<string, string>; uid?: string; name?: string };
        if (!rest.name) return send(400, { message: 'Required field name missing' });
        const uid = rest.uid ?? `ds${nextId}`;
        if ([...datasources.values()].some((d) => d.name === rest.name)) return send(409, { message: 'data source with the same name already exists' });
        if (datasources.has(uid)) return send(409, { message: 'data source with the same uid already exists' });
        const ds = { ...rest, uid, id: nextId++, orgId: 1, version: 1, readOnly: false, secureJsonFields: Object.fromEntries(Object.keys(secureJsonData ?? {}).map((k) => [k, true])) };
        if (secureJsonData) secrets.set(uid, secureJsonData);
        datasources.set(uid, ds);
        return send(200, { datasource: ds, id: ds.id, message: 'Datasource added', name: ds.name });
      }

      // --- folders
      if ((m = /^\/api\/folders\/([^/]+)$/.exec(path))) {
        const uid = decodeURIComponent(m[1] as string);
        const f = folders.get(uid);
        if (method === 'GET') return f ? send(200, { ...f, url: `/dashboards/f/${uid}/${slug(f.title)}` }) : send(404, { message: 'folder not found' });
        if (method === 'PUT') {
          if (!canEdit) return send(403, { message: 'Permission denied' });
          if (!f) return send(404, { message: 'folder not found' });
          if (body.overwrite !== true && body.version !== f.version) return send(412, { message: 'the folder has been changed by someone else', status: 'version-mismatch' });
          const updated = { ...f, title: String(body.title ?? f.title), version: f.version + 1 };
          folders.set(uid, updated);
          return send(200, updated);
        }
      }
      if (path === '/api/folders' && method === 'POST') {
        if (!canEdit) return send(403, { message: 'Permission denied' });
        const uid = String(body.uid ?? `f${nextId}`);
        const title = String(body.title ?? '');
        if (!title) return send(400, { message: 'folder title cannot be empty' });
        if (folders.has(uid)) return send(409, { message: 'a folder with the same uid already exists' });
        if ([...folders.values()].some((f) => f.title === title)) return send(409, { message: 'a folder or dashboard in the general folder with the same name already exists' });
        const f = { id: nextId++, uid, title, version: 1 };
        folders.set(uid, f);
        return send(200, { ...f, url: `/dashboards/f/${uid}/${slug(title)}` });
      }

      // --- dashboards
      if ((m = /^\/api\/dashboards\/uid\/([^/]+)$/.exec(path)) && method === 'GET') {
        const d = dashboards.get(decodeURIComponent(m[1] as string));
        if (!d) return send(404, { message: 'Dashboard not found' });
        const folder = folders.get(d.folderUid);
        return send(200, { dashboard: d.dashboard, meta: { type: 'db', slug: slug(d.dashboard.title), url: `/d/${d.dashboard.uid}/${slug(d.dashboard.title)}`, version: d.dashboard.version, folderUid: d.folderUid, folderId: folder?.id ?? 0, folderTitle: folder?.title ?? 'General', canSave: canEdit } });
      }
      if (path === '/api/dashboards/db' && method === 'POST') {
        if (!canEdit) return send(403, { message: 'Access denied to save dashboard' });
        const dash = body.dashboard as (Record<string, unknown> & { uid?: string; title?: string; id?: number | null; version?: number }) | undefined;
        if (!dash || typeof dash !== 'object') return send(400, { message: 'bad request data' });
        if (!dash.title) return send(400, { message: 'Dashboard title cannot be empty', status: 'empty-name' });
        const folderUid = String(body.folderUid ?? '');
        if (folderUid && !folders.has(folderUid)) return send(400, { message: 'folder not found', status: 'folder-not-found' });
        const overwrite = body.overwrite === true;
        const uid = dash.uid ?? `d${nextId}`;
        const existing = dashboards.get(uid);
        if (existing && !overwrite && dash.version !== existing.dashboard.version) {
          return send(412, { status: 'version-mismatch', message: 'The dashboard has been changed by someone else' });
        }
        const clash = [...dashboards.values()].find((d) => d.dashboard.uid !== uid && d.folderUid === folderUid && d.dashboard.title === dash.title);
        if (clash && !overwrite) return send(412, { status: 'name-exists', message: 'A dashboard with the same name in the folder already exists' });
        if (clash) dashboards.delete(clash.dashboard.uid);
        const stored = { ...dash, uid, title: dash.title, id: existing?.dashboard.id ?? nextId++, version: (existing?.dashboard.version ?? 0) + 1 };
        dashboards.set(uid, { dashboard: stored, folderUid });
        return send(200, { id: stored.id, uid, url: `/d/${uid}/${slug(stored.title)}`, status: 'success', version: stored.version, slug: slug(stored.title) });
      }
      send(404, { message: 'Not found' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    writes,
    datasources,
    secrets,
    folders,
    dashboards,
    editDashboard(uid, patch) {
      const d = dashboards.get(uid);
      if (!d) throw new Error(`no dashboard ${uid}`);
      d.dashboard = { ...d.dashboard, ...patch, version: d.dashboard.version + 1 };
    },
    addDashboard(d, folderUid) {
      dashboards.set(d.uid, { dashboard: { ...d, id: nextId++, version: 1 }, folderUid });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
