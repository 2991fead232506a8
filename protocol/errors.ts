/**
 * The one catalogue of error codes. `docs/errors.md` holds the same table; a test keeps them in sync.
 *
 * Collector codes (`COL_ERR_*`) travel in HTTP error bodies as `{ error: { code, message, issues? } }`.
 * Agent codes (`AGT_ERR_*`) appear in agent logs and exit messages.
 */

/** What the agent does when the collector answers with this status. */
export type AgentAction = 'drop-and-count' | 'stop-and-alert' | 'keep-and-back-off' | 'none';

export interface ErrorSpec {
  /** HTTP status, for collector errors returned to clients. */
  status?: number;
  /** What it means, in one sentence. */
  meaning: string;
}

export const ERRORS = {
  COL_ERR_UNAUTHENTICATED: { status: 401, meaning: 'No bearer token, or a token the collector does not know.' },
  COL_ERR_VIEWER_UNAUTHENTICATED: { status: 401, meaning: 'This collector has viewer accounts: its read APIs and console need one, as HTTP Basic credentials; none or a wrong one was given.' },
  COL_ERR_WRONG_SCHOOL: { status: 403, meaning: 'A report names a school other than the one the token belongs to; nothing of the batch was written.' },
  COL_ERR_SCHOOL_NOT_REGISTERED: { status: 403, meaning: "The token's school is not (or no longer) in the registry; nothing was written." },
  COL_ERR_INVALID_JSON: { status: 400, meaning: 'The body is not valid JSON, or its gzip encoding is broken.' },
  COL_ERR_INVALID_PAYLOAD: { status: 400, meaning: 'The body is JSON but breaks the protocol schema; `issues` names each field and problem.' },
  COL_ERR_BODY_TOO_LARGE: { status: 413, meaning: 'The body, compressed or decompressed, exceeds `maxBodyBytes`.' },
  COL_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, meaning: 'Content-Type is not application/json, or Content-Encoding is not one of identity, gzip, deflate, br, x-campuslink-dict1, x-campuslink-cols1.' },
  COL_ERR_SINK_UNAVAILABLE: { status: 503, meaning: 'The time-series database did not confirm the write; nothing was acknowledged. Retry after `Retry-After` seconds.' },
  COL_ERR_INVALID_QUERY: { status: 400, meaning: 'A query parameter of a read endpoint is missing, malformed or unknown, or names an unknown profile; `issues` names each.' },
  COL_ERR_QUERY_UNAVAILABLE: { status: 503, meaning: 'InfluxDB failed or timed out on a read query of the views or console; retry after `Retry-After` seconds.' },
  COL_ERR_STATE_UNAVAILABLE: { status: 503, meaning: "The collector's state database could not record the batch (disk full, I/O error, database locked); nothing was acknowledged. Retry after `Retry-After` seconds." },
  COL_ERR_OVERLOADED: { status: 503, meaning: 'The collector is at a connection, session or in-flight limit, or its event loop lags (ingest.maxEventLoopLagMs); nothing was acknowledged. Retry after `Retry-After` seconds.' },
  COL_ERR_RESOURCE_EXHAUSTED: { meaning: 'A timer or background write hit ENOSPC, EMFILE, ENFILE or EIO; logged, the collector keeps serving reads, answers 503 for what it cannot record, and recovers by itself.' },
  COL_ERR_STATE_MIGRATED: { meaning: 'At start, the JSON state files of an older collector were migrated into the state database once; the old files are kept, renamed `*.migrated`.' },
  COL_ERR_NOT_FOUND: { status: 404, meaning: 'No such endpoint, or no such school or region.' },
  COL_ERR_INTERNAL: { status: 500, meaning: 'A bug in the collector; the request was not acknowledged.' },
  COL_ERR_CONFIG_INVALID: { meaning: 'The collector config (file plus environment) is invalid; start-up stops and lists every problem.' },
  COL_ERR_REGISTRY_INVALID: { meaning: 'The schools registry CSV has a bad row; start-up stops with its line number and column.' },
  COL_ERR_INFLUXD_MISSING: { meaning: 'No InfluxDB URL is configured and `influxd` is not on PATH to start an embedded one.' },
  COL_ERR_GRAFANA_API: { meaning: '`grafana push` could not complete: Grafana refused a step (401 token, 403 role, 404 URL, 412 version-mismatch/name-exists) or could not be reached; the message names the step and the fix.' },
  COL_ERR_INFLUXD_START: { meaning: 'The embedded `influxd` did not become ready in time, or exited.' },
  AGT_ERR_CONFIG_INVALID: { meaning: 'The agent config (file plus environment) is invalid; the agent exits and lists every problem.' },
  AGT_ERR_AUTH_REJECTED: { meaning: 'The collector answered 401 or 403: the agent stops sending, keeps its spool, and says why.' },
  AGT_ERR_REPORT_REJECTED: { meaning: 'The collector answered 400, 413 or 415 for a batch: its reports are quarantined and counted, not retried for ever.' },
  AGT_ERR_COLLECTOR_UNAVAILABLE: { meaning: 'The collector could not be reached, timed out, or answered 429/5xx: reports stay in the spool and are retried with backoff.' },
  AGT_ERR_SPOOL_IO: { meaning: "A spool read or write failed with an I/O error; the report that could not be stored is dropped and counted, and delivery of what is held goes on." },
  AGT_ERR_SPOOL_FULL: { meaning: "The spool reached maxSpoolBytes or its filesystem's minFreeBytes reserve, or the disk is full: the oldest reports, or the report that did not fit, were dropped, counted in agent.dropped_reports and logged; acknowledgements the disk refuses are held in memory." },
  AGT_ERR_SPOOL_CORRUPT: { meaning: 'A spool segment was damaged; it was moved to corrupt/, its intact reports kept, the unreadable ones counted as dropped.' },
  AGT_ERR_PROBE_FAILED: { meaning: 'A probe threw; the failure is recorded as data and the cycle goes on.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** The JSON body of every collector error answer. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; issues?: { path: string; message: string }[] };
}

/**
 * The single meaning, for the agent, of each HTTP status the collector may answer.
 * Any other 4xx is treated as 400, any other 5xx as 503.
 */
export function agentActionFor(status: number): AgentAction {
  if (status >= 200 && status < 300) return 'none';
  if (status === 401 || status === 403) return 'stop-and-alert';
  if (status === 429 || status >= 500) return 'keep-and-back-off';
  return 'drop-and-count';
}
