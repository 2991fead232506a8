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
  COL_ERR_FRONT_START: { meaning: 'With `front.kind: haproxy`, HAProxy is not installed, or it did not bind `listen` and answer on its runtime API at start; start-up stops with its output.' },
  COL_ERR_FRONT_UPSTREAM: { status: 502, meaning: 'The front (HAProxy) got no answer from the collector behind it (502: it closed the connection or is not listening, e.g. restarting; 504: nothing within `http.requestTimeoutMs`); nothing was acknowledged. Retry after `Retry-After` seconds.' },
  COL_ERR_FRONT_EXITED: { meaning: 'The front (HAProxy) exited while serving; agents cannot reach the collector until the collector has started it again (after 1 s, doubling up to 30 s).' },
  COL_ERR_WRONG_AGENT: { status: 403, meaning: 'The token is bound to one agent (enrolled) and the batch comes from another agent id; nothing of the batch was written.' },
  COL_ERR_AGENT_LIMIT: { status: 403, meaning: 'The school already has `auth.maxAgentsPerSchool` agents; a new agent id is refused until one is revoked (`token revoke --school ID --agent ID`) or the limit raised.' },
  COL_ERR_ENROLL_CODE_INVALID: { status: 403, meaning: 'The enrollment code is unknown, expired or used up (the message says which); ask the operator for a new one (`enroll issue`).' },
  COL_ERR_TIME_OUT_OF_WINDOW: { status: 400, meaning: "A report's collection time lies outside [now − ingest.maxBacklogMs, now + ingest.futureGraceMs] and the agent's clock offset does not explain it; `issues` names each `reports.<i>.collectedAt`; nothing of the batch was written." },
  COL_ERR_AGENT_CLONED: { meaning: 'Two epochs of one agent id report over the same time (a cloned SD card, two boxes with one id or one credential): both streams are kept, an `agent_clone` gap marks it on the school page.' },
  COL_ERR_BUDGET_EXCEEDED: { status: 429, meaning: "The school is over a rate budget (reportsPerMinute, measurementsPerMinute, bytesPerMinute) or its token over its in-flight share; nothing of the request was written; the body's `budget` names the budget, its value and the config key that raises it. The agent keeps the reports and backs off for `Retry-After` seconds." },
  COL_ERR_TLS_RELOAD_FAILED: { meaning: 'On SIGHUP the TLS certificate or key could not be read, parsed or paired, or the front (HAProxy) refused it; the certificate in force stays and the log lists every problem.' },
  COL_ERR_TLS_HANDSHAKE: { meaning: 'A TLS handshake failed (no or an untrusted client certificate, no common protocol, timeout); the connection is closed, logged at debug level and counted in /healthz.' },
  COL_ERR_ALERT_DELIVERY: { meaning: 'Alertmanager or a robot receiver was unreachable or refused a message (rate limit, signature, keyword); logged, the alerts are kept and sent again.' },
  COL_ERR_ALERTS_TRUNCATED: { meaning: 'More alerts would fire than `alerts.maxActive`; the excess are not raised, counted and logged at every sweep.' },
  COL_ERR_SCOPE_FORBIDDEN: { status: 403, meaning: "The account or read token is scoped to a region (its `scope`, named in the message) and the request names a school or region outside it, or an endpoint that is not filtered by region; ask an admin for a wider scope." },
  COL_ERR_ROLE_FORBIDDEN: { status: 403, meaning: 'The account\'s role does not allow this: viewers and read tokens only read, operators also acknowledge alerts and edit maintenance windows, admins manage accounts and tokens.' },
  COL_ERR_TOKEN_NOT_FOR_READS: { status: 403, meaning: 'An agent (ingest) token was presented to a read API; reads need a viewer account or a read-only token (`viewer token issue`), and read tokens are never accepted for ingest.' },
  COL_ERR_PROXY_SCOPE: { status: 403, meaning: "A county proxy's batch names a school outside the proxy's scope (its region or list of schools, checked against the registry in force), or a batch says `agentKind: \"proxy\"` without a proxy credential; only that batch is refused, nothing of it was written." },
  COL_ERR_ROLLUP_WRONG_PROVINCE: { status: 403, meaning: 'A roll-up names a province other than the one the province credential belongs to (or another collector id); nothing of the batch was written.' },
  COL_ERR_HUB_ROLE: { status: 403, meaning: 'This collector is a national hub (`role: national`): it takes provinces\' roll-ups, not agent reports or agent enrollment; point the agent at its provincial collector.' },
  COL_ERR_ROLLUP_DELIVERY: { meaning: 'A provincial collector could not deliver roll-ups to the hub (unreachable, timed out, 429/5xx, or its credential refused); they stay in the roll-up spool and are resent with backoff, logged once a minute at most.' },
  COL_ERR_ROLLUP_REFUSED: { meaning: 'The hub refused a roll-up as invalid (400/413/415, sent alone); the province moved it to the spool\'s quarantine/ and counts it: a bug to report, the next roll-up is whole again.' },
  COL_ERR_HUB_ENROLL_FAILED: { meaning: 'A provincial collector could not enroll with the hub (`hub.enrollCode` refused, no code and no stored credential, or the hub unreachable); roll-ups are built and spooled, enrollment is retried with backoff.' },
  AGT_ERR_CONFIG_INVALID: { meaning: 'The agent config (file plus environment) is invalid; the agent exits and lists every problem.' },
  AGT_ERR_AUTH_REJECTED: { meaning: 'The collector answered 401 or 403: the agent stops sending for a while (minutes, then hourly), keeps its spool, logs why once an hour, and tries again by itself.' },
  AGT_ERR_REPORT_REJECTED: { meaning: 'The collector answered 400, 413 or 415 for a batch: its reports are quarantined and counted, not retried for ever.' },
  AGT_ERR_COLLECTOR_UNAVAILABLE: { meaning: 'The collector could not be reached, timed out, or answered 429/5xx: reports stay in the spool and are retried with backoff.' },
  AGT_ERR_SPOOL_IO: { meaning: "A spool read or write failed with an I/O error; the report that could not be stored is dropped and counted, and delivery of what is held goes on." },
  AGT_ERR_SPOOL_FULL: { meaning: "The spool reached maxSpoolBytes or its filesystem's minFreeBytes reserve, or the disk is full: the oldest reports, or the report that did not fit, were dropped, counted in agent.dropped_reports and logged; acknowledgements the disk refuses are held in memory." },
  AGT_ERR_SPOOL_CORRUPT: { meaning: 'A spool segment was damaged; it was moved to corrupt/, its intact reports kept, the unreadable ones counted as dropped.' },
  AGT_ERR_PROBE_FAILED: { meaning: 'A probe threw; the failure is recorded as data and the cycle goes on.' },
  AGT_ERR_ENROLL_FAILED: { meaning: 'Enrollment with `enrollCode` (or `enroll --code`) failed: the collector refused the code or could not be reached; `run` tries again on the auth backoff, reports stay in the spool.' },
  AGT_ERR_CREDENTIAL_IO: { meaning: 'The credential file under stateDir could not be read or written: a damaged file is moved aside (`credential.json.corrupt-*`); a rotated token that cannot be stored is not used (the old one keeps working).' },
  AGT_ERR_MOVED_BACKLOG: { meaning: 'Reports in the spool belong to a school or agent id this agent no longer reports for: they are sent with that identity\'s own credential, or quarantined and counted when there is none or it is refused.' },
  AGT_ERR_STATE_CORRUPT: { meaning: 'A state file (`seq`, `epoch`, `clock.json`, `stats.json`) was unreadable: it was moved aside (`*.corrupt-<ms>`); for `seq` or `epoch` a new epoch starts; spooled reports are kept and sent; the agent goes on.' },
  AGT_ERR_CLOCK_STEP: { meaning: 'The wall clock stepped (NTP, `date -s`) or the collector time jumped: reports collected before a step are corrected and flagged when sent; a jumped `serverTime` is trusted only once confirmed.' },
  AGT_ERR_STATE_CLONED: { meaning: "The collector already held a report this agent had just made, in this agent's epoch: another install uses the same state (a cloned SD card). The agent starts a new epoch and sends its reports again under it, so nothing is lost." },
  AGT_ERR_TLS_REFUSED: { meaning: "The TLS handshake with an https: collector failed (its certificate not trusted, expired or for another name, or the agent's client certificate missing or refused): reports stay in the spool, retried with backoff; logged once an hour per URL." },
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
