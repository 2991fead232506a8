/**
 * HTTPS in the front (`front.kind: haproxy` with `tls.certFile`): the collector's `tls` section turned into what
 * HAProxy reads. The certificate chain and its key go into one PEM (mode 0600) under the front's directory, the
 * client CA beside it, and the session-ticket keys into a file that outlives HAProxy's restarts and the collector's,
 * so that agents reconnecting after either resume their sessions instead of a full handshake each.
 *
 * The `tls` section means the same with and without the front (collector/http/tls.ts): HTTP/2 or HTTP/1.1 by ALPN,
 * clientCerts off/optional/required against caFile, minVersion, sessionTimeoutS; a SIGHUP re-reads the files and
 * replaces the certificate in the running HAProxy through its runtime API, keeping every open connection.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ControlError, FRONTEND, replaceInHaproxy, tlsCounters, type FrontTlsCounters } from './front-control.js';
import { readTlsMaterial, tlsFileIssues, type TlsMaterial, type TlsSection, type TlsStats } from './tls.js';

/** Where the front keeps what HAProxy reads of the tls section. */
export interface FrontTlsFiles {
  /** Certificate chain, then the private key. */
  pem: string;
  /** The client CA, when the section has one. */
  ca?: string;
  /** Session-ticket keys; absent when sessionTimeoutS is 0 (no resumption). */
  tickets?: string;
}

/** TLS_TICKETS_NO in Debian's build: HAProxy needs at least this many keys, encrypts with the penultimate. */
const TICKET_KEYS = 3;

/** Writes a file that only this user may read, replacing any earlier one whole (a reader never sees half). */
function writePrivate(path: string, data: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, path);
}

/** The certificate chain and key as the one PEM HAProxy's `crt` takes. */
export function combinedPem(m: Pick<TlsMaterial, 'cert' | 'key'>): string {
  const cert = m.cert.toString('utf8').trim();
  const key = m.key.toString('utf8').trim();
  return `${cert}\n${key}\n`;
}

/** Writes the certificate (and CA) of `material`: at start, and again when a reload took effect. */
export function writeCertFiles(files: FrontTlsFiles, material: TlsMaterial, what: 'both' | 'cert' | 'ca' = 'both'): void {
  if (what !== 'ca') writePrivate(files.pem, combinedPem(material));
  if (what !== 'cert' && files.ca && material.ca) writePrivate(files.ca, `${material.ca.toString('utf8').trim()}\n`);
}

/**
 * Lays out the front's TLS files under `dir` for `section`. Ticket keys are kept from an earlier start while they
 * are younger than the tickets they sign may live (sessionTimeoutS), and made anew after that.
 */
export function prepareFrontTls(o: { dir: string; section: TlsSection; material: TlsMaterial; now?: number }): FrontTlsFiles {
  const tlsDir = join(o.dir, 'tls');
  mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  // An existing folder keeps its mode through mkdirSync.
  chmodSync(tlsDir, 0o700);
  // HAProxy loads the CA only when it asks for client certificates; a CA it did not load cannot be replaced either.
  const files: FrontTlsFiles = { pem: join(tlsDir, 'cert.pem'), ...(o.material.ca && o.section.clientCerts !== 'off' && { ca: join(tlsDir, 'client-ca.pem') }) };
  writeCertFiles(files, o.material);
  if (o.section.sessionTimeoutS > 0) {
    files.tickets = join(tlsDir, 'tickets.keys');
    let ageS = Infinity;
    try {
      ageS = ((o.now ?? Date.now()) - statSync(files.tickets).mtimeMs) / 1000;
    } catch {
      // none yet
    }
    if (!(ageS >= 0 && ageS < o.section.sessionTimeoutS)) {
      // 80-byte keys: AES-256 for the ticket, HMAC-SHA256 for its integrity.
      writePrivate(files.tickets, Array.from({ length: TICKET_KEYS }, () => randomBytes(80).toString('base64')).join('\n') + '\n');
    }
  }
  return files;
}

/** The `bind` options of the public port for HTTPS. */
export function tlsBindOptions(section: TlsSection, files: FrontTlsFiles): string {
  const opts = [`ssl crt ${files.pem}`, 'alpn h2,http/1.1', `ssl-min-ver ${section.minVersion}`];
  opts.push(files.tickets ? `tls-ticket-keys ${files.tickets}` : 'no-tls-tickets');
  if (section.clientCerts !== 'off' && files.ca) opts.push(`ca-file ${files.ca}`, `verify ${section.clientCerts}`);
  return opts.join(' ');
}

/** Global settings for HTTPS: how long a session may be resumed (tickets and HAProxy's session cache alike). */
export function tlsGlobal(section: TlsSection): string[] {
  if (section.sessionTimeoutS === 0) return ['  tune.ssl.cachesize 0'];
  return [`  tune.ssl.lifetime ${section.sessionTimeoutS}`];
}

/** The front's HTTPS: its files, its /healthz figures and its reload. */
export interface FrontTls {
  readonly section: TlsSection;
  readonly files: FrontTlsFiles;
  /** The figures of /healthz `connections.tls`; HAProxy's counters as last read (refreshed in the background when older than 5 s). */
  stats(): TlsStats;
  /** Re-reads the files; on any problem keeps the certificate in force, logs COL_ERR_TLS_RELOAD_FAILED and returns false. */
  reload(): Promise<boolean>;
  /** Removes the SIGHUP handler. */
  close(): void;
}

const COUNTERS_MAX_AGE_MS = 5000;

/** Prepares the front's TLS files from `section` (config validation has checked them) and its reload on SIGHUP. */
export function createFrontTls(o: { dir: string; section: TlsSection; controlSocket: string; log: Logger; reloadOnSighup?: boolean }): FrontTls {
  const { section, log } = o;
  const material = readTlsMaterial(section);
  const files = prepareFrontTls({ dir: o.dir, section, material });
  let counters: FrontTlsCounters = { full: 0, resumed: 0, failed: 0 };
  let countersAt = -Infinity;
  let reading = false;
  const own = { reloads: 0, reloadFailures: 0, certValidTo: new X509Certificate(material.cert).validTo };
  const refresh = () => {
    if (reading || performance.now() - countersAt < COUNTERS_MAX_AGE_MS) return;
    reading = true;
    tlsCounters(o.controlSocket, FRONTEND)
      .then((c) => {
        counters = c;
        countersAt = performance.now();
      })
      // HAProxy restarting: the last figures stay until it answers again.
      .catch(() => undefined)
      .finally(() => (reading = false));
  };
  const saved = (f: FrontTlsFiles, m: TlsMaterial, what: 'both' | 'cert' | 'ca') => {
    try {
      writeCertFiles(f, m, what);
    } catch (e) {
      log.warn({ code: 'COL_ERR_RESOURCE_EXHAUSTED', err: String(e), pem: f.pem }, 'the new TLS files are in force, but could not be written for the front: a restart of HAProxy would serve the old ones until the next SIGHUP');
    }
  };
  let queue: Promise<boolean> = Promise.resolve(true);
  const reloadNow = async (): Promise<boolean> => {
    const problems = tlsFileIssues(section).map((p) => `tls.${p.path.join('.')}: ${p.message}`);
    if (problems.length === 0) {
      let m: TlsMaterial | undefined;
      let certDone = false;
      try {
        m = readTlsMaterial(section);
        // HAProxy first, each file written once it serves it: the files on disk always match what it serves, and a
        // HAProxy started again later serves the same.
        await replaceInHaproxy({ socketPath: o.controlSocket, kind: 'cert', path: files.pem, pem: combinedPem(m) });
        certDone = true;
        saved(files, m, 'cert');
        own.certValidTo = new X509Certificate(m.cert).validTo;
        if (files.ca && m.ca) {
          await replaceInHaproxy({ socketPath: o.controlSocket, kind: 'ca-file', path: files.ca, pem: m.ca.toString('utf8') });
          saved(files, m, 'ca');
        }
        own.reloads++;
        log.info({ certFile: section.certFile, validTo: own.certValidTo }, 'TLS certificate reloaded in the front; open connections keep theirs');
        return true;
      } catch (e) {
        if (m && e instanceof ControlError && e.unreachable && !certDone) {
          // No HAProxy runs (it is being started again): the next one reads the files, so they are the reload.
          saved(files, m, 'both');
          own.reloads++;
          own.certValidTo = new X509Certificate(m.cert).validTo;
          log.warn({ certFile: section.certFile, validTo: own.certValidTo, err: e.message }, 'TLS files reloaded while the front is not running: it serves them when it runs again');
          return true;
        }
        problems.push(certDone ? `the certificate is reloaded and in force, the client CA is not: ${(e as Error).message}` : (e as Error).message);
      }
    }
    own.reloadFailures++;
    log.error({ code: 'COL_ERR_TLS_RELOAD_FAILED', problems }, 'COL_ERR_TLS_RELOAD_FAILED: TLS files not reloaded; the certificate in force stays');
    return false;
  };
  // One reload at a time: two SIGHUPs in a row must not interleave two transactions on the one certificate.
  const reload = () => (queue = queue.then(reloadNow, reloadNow));
  const onHup = () => void reload().catch((e: unknown) => log.error({ code: 'COL_ERR_TLS_RELOAD_FAILED', err: String(e) }, 'TLS reload failed'));
  if (o.reloadOnSighup !== false) process.on('SIGHUP', onHup);
  return {
    section,
    files,
    stats() {
      refresh();
      return { handshakes: counters.full + counters.resumed, resumed: counters.resumed, failed: counters.failed, ...own };
    },
    reload,
    close: () => void process.off('SIGHUP', onHup),
  };
}
