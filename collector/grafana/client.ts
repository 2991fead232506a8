/**
 * A small client for Grafana's HTTP API (the `/api/...` endpoints of Grafana 9-12) with plain
 * `fetch`: bearer-token auth, a timeout per request, and errors that say what to fix.
 *
 * Endpoints used (https://grafana.com/docs/grafana/latest/developers/http_api/): data sources by uid
 * (`GET/PUT /api/datasources/uid/:uid`, `POST /api/datasources`), folders (`GET/PUT /api/folders/:uid`,
 * `POST /api/folders`), dashboards (`GET /api/dashboards/uid/:uid`, `POST /api/dashboards/db`).
 */

/** What went wrong talking to Grafana; `status` is the HTTP status (0: no answer). */
export class GrafanaApiError extends Error {
  readonly code = 'COL_ERR_GRAFANA_API';
  constructor(
    message: string,
    readonly status: number,
    /** Grafana's `status` field of a 412 (`version-mismatch`, `name-exists`, `plugin-dashboard`). */
    readonly grafanaStatus?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'GrafanaApiError';
  }
}

export interface GrafanaClientOptions {
  /** Grafana base URL, e.g. `http://127.0.0.1:3000` (a sub-path such as `/grafana` is kept). */
  url: string;
  /** Service-account token (or API key), sent as `Authorization: Bearer …`. */
  token: string;
  /** Timeout of one request, in ms. Default 10000. */
  timeoutMs?: number;
}

/** One answer; `body` is the parsed JSON (or undefined). */
export interface GrafanaResponse<T> {
  status: number;
  body: T | undefined;
}

function grafanaMessage(body: unknown, fallback: string): string {
  const b = body as { message?: unknown; error?: unknown } | undefined;
  if (b && typeof b.message === 'string' && b.message) return b.message;
  if (b && typeof b.error === 'string' && b.error) return b.error;
  return fallback;
}

/** A thin typed wrapper around the endpoints the push command needs. */
export class GrafanaClient {
  private readonly base: string;
  private readonly token: string;
  private readonly timeoutMs: number;

  constructor(options: GrafanaClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /**
   * Sends one request. Resolves with 2xx answers and, when `allow` lists it, with that status (e.g.
   * 404 for "does it exist?"); throws a GrafanaApiError for everything else.
   */
  async request<T>(method: 'GET' | 'POST' | 'PUT', path: string, what: string, body?: unknown, allow: number[] = []): Promise<GrafanaResponse<T>> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const reason = err.name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : (err.cause?.code ?? err.cause?.message ?? err.message);
      throw new GrafanaApiError(`${what}: cannot reach Grafana at ${this.base}: ${reason}`, 0, undefined, { cause: e });
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if ((res.status >= 200 && res.status < 300) || allow.includes(res.status)) return { status: res.status, body: parsed as T };
    const msg = grafanaMessage(parsed, text.trim().slice(0, 300) || res.statusText);
    switch (res.status) {
      case 401:
        throw new GrafanaApiError(`${what}: Grafana rejected the token (401: ${msg}); pass a valid service-account token with --token`, 401);
      case 403:
        throw new GrafanaApiError(`${what}: the token lacks permission (403: ${msg}); the service account needs the Editor role for dashboards and folders and Admin for data sources`, 403);
      case 404:
        throw new GrafanaApiError(`${what}: not found (404: ${msg}) at ${this.base}${path}; is --url the Grafana base URL?`, 404);
      case 412: {
        const status = (parsed as { status?: unknown } | undefined)?.status;
        const s = typeof status === 'string' ? status : undefined;
        const hint =
          s === 'version-mismatch'
            ? 'it was changed in Grafana since this run read it; run again to compare anew, or pass --force to overwrite'
            : s === 'name-exists'
              ? 'another dashboard with the same title exists in the folder; rename or delete it in Grafana, or pass --force to overwrite it'
              : 'run again, or pass --force to overwrite';
        throw new GrafanaApiError(`${what}: Grafana refused it (412 ${s ?? 'precondition failed'}: ${msg}); ${hint}`, 412, s);
      }
      default:
        throw new GrafanaApiError(`${what}: Grafana answered ${res.status}: ${msg}`, res.status);
    }
  }
}
