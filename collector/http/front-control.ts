/**
 * The front's HAProxy runtime API: a Unix socket (`stats socket … level admin`, mode 0600) in the front's own
 * directory, through which the collector checks that the HAProxy it started is the one serving, replaces the TLS
 * certificate without a restart, and reads HAProxy's TLS counters for /healthz.
 */
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The name of the front's one frontend in its HAProxy config (its counters are read by this name). */
export const FRONTEND = 'campuslink';

/** Longest socket path used in place: sun_path holds 107 bytes, and HAProxy binds `<path>.<pid>.tmp` first. */
const MAX_SOCKET_PATH = 90;

/**
 * Where the control socket goes: `dir/admin.sock`, or, when that path is too long for a Unix socket, a new
 * private (0700) directory under the system's temporary directory.
 */
export function controlSocketPath(dir: string): string {
  const inPlace = join(dir, 'admin.sock');
  if (Buffer.byteLength(inPlace) <= MAX_SOCKET_PATH) return inPlace;
  return join(mkdtempSync(join(tmpdir(), 'campuslink-front-')), 'admin.sock');
}

/** A runtime API command that failed: no socket, no answer in time, or HAProxy's own refusal. */
export class ControlError extends Error {
  /** `unreachable`: no HAProxy answers on the socket (not running, restarting); else it answered or timed out. */
  constructor(
    message: string,
    readonly unreachable = false,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}

/**
 * The largest payload one runtime API command takes: HAProxy reads a command into one buffer (tune.bufsize,
 * 16,384 bytes in Debian's build), and 2.6 cannot send a certificate or CA file in pieces.
 */
export const MAX_PAYLOAD_BYTES = 15_000;

/** Sends one command (a payload follows ` <<` on the lines after it) and returns HAProxy's whole answer. */
export function haproxyCommand(socketPath: string, command: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath);
    let out = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new ControlError(`HAProxy did not answer "${command.split('\n')[0]}" within ${timeoutMs} ms`));
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('data', (d: string) => (out += d));
    s.on('end', () => {
      clearTimeout(timer);
      resolve(out);
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new ControlError(`HAProxy runtime API ${socketPath}: ${e.message}`, e.code === 'ENOENT' || e.code === 'ECONNREFUSED'));
    });
    // A command with a payload ends at an empty line; the connection closes after one command.
    s.end(command.endsWith('\n') ? command : `${command}\n`);
  });
}

/**
 * The pid of the HAProxy serving the socket, or undefined while none answers. HAProxy serves its runtime API only
 * after every listener, the public port included, is bound: a matching pid means that port is this front's.
 */
export async function servingPid(socketPath: string): Promise<number | undefined> {
  try {
    const info = await haproxyCommand(socketPath, 'show info', 1000);
    const pid = /^Pid: (\d+)$/m.exec(info)?.[1];
    return pid === undefined ? undefined : Number(pid);
  } catch {
    return undefined;
  }
}

/** Replaces a certificate (or CA file) HAProxy has loaded, for new handshakes; open connections keep theirs. */
export async function replaceInHaproxy(o: { socketPath: string; kind: 'cert' | 'ca-file'; path: string; pem: string }): Promise<void> {
  const payload = o.pem.replace(/\r\n/g, '\n').split('\n').filter((l) => l.trim() !== '').join('\n');
  if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) throw new ControlError(`${o.kind} ${o.path}: ${Buffer.byteLength(payload)} bytes, more than HAProxy's runtime API takes in one command (${MAX_PAYLOAD_BYTES}); restart the collector to load it`);
  const set = await haproxyCommand(o.socketPath, `set ssl ${o.kind} ${o.path} <<\n${payload}\n\n`);
  if (!/Transaction (created|updated)/i.test(set)) {
    await haproxyCommand(o.socketPath, `abort ssl ${o.kind} ${o.path}`).catch(() => undefined);
    throw new ControlError(`set ssl ${o.kind} ${o.path}: ${set.trim() || 'no answer'}`);
  }
  const commit = await haproxyCommand(o.socketPath, `commit ssl ${o.kind} ${o.path}`);
  if (!/Success!/.test(commit)) {
    await haproxyCommand(o.socketPath, `abort ssl ${o.kind} ${o.path}`).catch(() => undefined);
    throw new ControlError(`commit ssl ${o.kind} ${o.path}: ${commit.trim() || 'no answer'}`);
  }
}

/** HAProxy's TLS counters of one frontend, since that HAProxy started. */
export interface FrontTlsCounters {
  /** Full handshakes. */
  full: number;
  /** Handshakes that resumed a session. */
  resumed: number;
  failed: number;
}

/** Reads the TLS counters of `frontend` from `show stat` (the SSL statistics module's columns). */
export async function tlsCounters(socketPath: string, frontend: string): Promise<FrontTlsCounters> {
  const csv = await haproxyCommand(socketPath, 'show stat');
  const [head, ...rows] = csv.split('\n');
  const cols = (head ?? '').replace(/^# /, '').split(',');
  const row = rows.map((r) => r.split(',')).find((r) => r[0] === frontend && r[1] === 'FRONTEND');
  if (!row) throw new ControlError(`show stat has no FRONTEND row for ${frontend}`);
  const at = (name: string) => {
    const i = cols.indexOf(name);
    const v = i < 0 ? NaN : Number(row[i]);
    if (!Number.isFinite(v)) throw new ControlError(`show stat has no ${name} for ${frontend}`);
    return v;
  };
  return { full: at('ssl_sess'), resumed: at('ssl_reused_sess'), failed: at('ssl_failed_handshake') };
}
