/**
 * `campuslink-agent doctor`: checks a config against what the console needs to show the school as
 * online — an internet ping target, a collector that answers, a token it accepts, SNMP devices that
 * answer — and says what is missing in plain words. Writes no data anywhere: the token is proven with
 * a request the collector refuses before writing (an empty batch), or `GET /api/v1/whoami` where the
 * collector has it.
 */
import { resolve } from 'node:path';
import type { SecureContext } from 'node:tls';
import { createLogger } from '../protocol/log.js';
import type { AgentConfig } from './config.js';
import { AgentIdentity } from './identity/identity.js';
import { createNetSnmpClient, deviceClientOptions, isException, varbindString } from './probes/snmp/client.js';
import { snmpDevices } from './probes/snmp/config.js';
import { checkThroughput } from './probes/throughput/doctor.js';
import { INGEST_PATH } from './transport/exchange.js';
import { errandSecureContext, isCertificateError, requestOnce, type OnceAnswer } from './transport/once.js';

/** `ok` passes, `warn` is worth knowing but not needed for the console, `fail` is needed. */
export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One line of the doctor's answer. */
export interface Check {
  status: CheckStatus;
  /** What was checked, e.g. `collector http://127.0.0.1:8470`. */
  what: string;
  /** What was found, and what to do about it when it is not `ok`. */
  detail: string;
}

const SYS_NAME = '1.3.6.1.2.1.1.5.0';
const SYS_UPTIME = '1.3.6.1.2.1.1.3.0';

/** Ping targets: the console counts a school online only while an internet target answers. */
export function checkTargets(config: Readonly<AgentConfig>): Check {
  const internet = config.targets.filter((t) => t.role === 'internet');
  if (internet.length) return { status: 'ok', what: 'internet target', detail: `pinging ${internet.map((t) => t.host).join(', ')}` };
  return {
    status: 'fail',
    what: 'internet target',
    detail:
      'no ping target has role "internet", so the console never shows this school as online ("no internet target"). ' +
      'Add one under targets, e.g. "- {host: 223.5.5.5, role: internet}" (a public DNS server the school may reach), or set CAMPUSLINK_TARGETS.',
  };
}

/** Whether one collector answers and accepts the token, without writing anything. */
export async function checkCollector(opts: { url: string; token: string | undefined; school: string; timeoutMs: number; secureContext?: SecureContext }): Promise<Check[]> {
  const what = `collector ${opts.url}`;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(opts.token && { authorization: `Bearer ${opts.token}` }) };
  const ask = (path: string, init: { method: string; body?: string }) => requestOnce(new URL(path, opts.url), { ...init, headers, timeoutMs: opts.timeoutMs, ...(opts.secureContext && { secureContext: opts.secureContext }) });
  let health: OnceAnswer;
  try {
    health = await ask('/healthz', { method: 'GET' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    const tlsHint = isCertificateError(e) ? ", and collector.tls.caFile (the CA that signed the collector's certificate)" : '';
    return [{ status: 'fail', what, detail: `does not answer (${code}): check collector.url (CAMPUSLINK_COLLECTOR_URL), the network path and that the collector runs${tlsHint}` }];
  }
  const reach: Check = { status: 'ok', what, detail: `answers (GET /healthz: ${health.status})` };
  if (!opts.token) return [reach, { status: 'fail', what: 'token', detail: 'collector.token is not set: give it with CAMPUSLINK_TOKEN (from `campuslink-collector token issue --school …`)' }];
  try {
    const who = await ask('/api/v1/whoami', { method: 'GET' });
    const text = who.text;
    const school = who.status === 200 ? whoamiSchool(text) : undefined;
    if (school !== undefined) {
      if (school !== opts.school) return [reach, { status: 'fail', what: 'token', detail: `belongs to school ${school}, but this agent is configured for school ${opts.school}: issue a token for ${opts.school}` }];
      return [reach, { status: 'ok', what: 'token', detail: `accepted for school ${school}` }];
    }
    // Anything else (404 where there is no whoami, or the viewers' Basic challenge in front of the
    // read side): an empty batch is refused as invalid (400) only after the token passed.
    const probe = await ask(INGEST_PATH, { method: 'POST', body: '{"reports":[]}' });
    const answer = probe.text;
    if (probe.status === 401 || probe.status === 403) return [reach, refused(probe.status, answer)];
    if (probe.status === 400) return [reach, { status: 'ok', what: 'token', detail: 'accepted (an empty batch was refused as invalid, not as unauthenticated; nothing was written)' }];
    return [reach, { status: 'fail', what: 'token', detail: `could not be checked: POST ${INGEST_PATH} answered ${probe.status} ${answer.slice(0, 200)}` }];
  } catch (e) {
    return [reach, { status: 'fail', what: 'token', detail: `could not be checked: ${(e as Error).message}` }];
  }
}

/** The school of a `GET /api/v1/whoami` answer (`{"school": "…"}`), if the body is one. */
function whoamiSchool(text: string): string | undefined {
  try {
    const school = (JSON.parse(text) as { school?: unknown } | null)?.school;
    return typeof school === 'string' ? school : undefined;
  } catch {
    return undefined;
  }
}

function refused(status: number, text: string): Check {
  let why = text.slice(0, 200);
  try {
    why = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? why;
  } catch {
    // Not JSON: show the text as it came.
  }
  return { status: 'fail', what: 'token', detail: `refused by the collector (${status}: ${why}): issue a new one with \`campuslink-collector token issue --school …\` and set CAMPUSLINK_TOKEN` };
}

/** Whether each configured SNMP device answers a GET of sysName and sysUpTime. */
export async function checkSnmp(config: Readonly<AgentConfig>): Promise<Check[]> {
  const devices = snmpDevices(config.snmp);
  if (devices.length === 0) {
    return [{ status: 'warn', what: 'SNMP', detail: 'no SNMP device configured (snmp.host, CAMPUSLINK_SNMP_HOST): no interface traffic or device inventory will be reported' }];
  }
  return Promise.all(
    devices.map(async (d): Promise<Check> => {
      const { clientOptions, target } = deviceClientOptions({ host: d.host, community: d.community, version: d.version, ...(d.v3 && { v3: d.v3 }), timeoutMs: d.timeoutMs, retries: d.retries });
      const what = `SNMP ${d.device} ${target}`;
      const client = createNetSnmpClient(clientOptions);
      try {
        const [name, uptime] = await client.get([SYS_NAME, SYS_UPTIME]);
        if (!name || !uptime || isException(uptime)) return { status: 'fail', what, detail: 'answers but has no sysUpTime: is this an SNMP agent with the system group?' };
        return { status: 'ok', what, detail: `answers (sysName "${varbindString(name) ?? ''}")` };
      } catch (e) {
        return { status: 'fail', what, detail: `does not answer (${(e as Error).message}): check the address, that SNMP ${d.version} is enabled and the community or v3 user` };
      } finally {
        client.close();
      }
    }),
  );
}

/** Runs every check, collectors and SNMP devices at the same time. */
export async function runDoctor(config: Readonly<AgentConfig>): Promise<Check[]> {
  const c = config.collector;
  // The enrolled credential when there is one, else the config token.
  const who = new AgentIdentity(config, resolve(config.stateDir), createLogger({ name: 'agent', level: 'silent' })).current();
  const secureContext = errandSecureContext(c);
  const [collectors, snmp, throughput] = await Promise.all([
    Promise.all([c.url, ...c.failoverUrls].map((url) => checkCollector({ url, token: who.token, school: who.school, timeoutMs: Math.min(c.timeoutMs, 10_000), ...(secureContext && { secureContext }) }))),
    checkSnmp(config),
    checkThroughput(config),
  ]);
  return [checkTargets(config), ...collectors.flat(), ...snmp, ...throughput];
}

/** The answer as plain lines, one per check, and whether everything needed passed. */
export function formatChecks(checks: readonly Check[]): { text: string; ok: boolean } {
  const label = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;
  const lines = checks.map((c) => `${label[c.status]}  ${c.what}: ${c.detail}`);
  const failed = checks.filter((c) => c.status === 'fail').length;
  lines.push(failed ? `${failed} problem${failed > 1 ? 's' : ''}: the console will not show this school as online until ${failed > 1 ? 'they are' : 'it is'} fixed.` : 'everything the console needs is in place.');
  return { text: lines.join('\n') + '\n', ok: failed === 0 };
}
