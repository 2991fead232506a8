/**
 * HTTPS on the collector's own port: certificate and key files, HTTP/2 or HTTP/1.1 chosen by ALPN, optional
 * client certificates, and a reload of the files on SIGHUP that keeps every open connection.
 *
 * Why terminate TLS here and not in a proxy before it: agents hold one long-lived HTTP/2 session each, and a
 * proxy would have to carry 60,000 of them too; and a school's upload costs the fewest bytes when TLS session
 * tickets from this process let a reconnecting agent resume with about 800 bytes instead of a full handshake.
 *
 * The TLS server here never listens itself: the listener's accept loop (listener.ts) applies the connection cap,
 * then hands each socket over, and routes the secured socket by its ALPN protocol.
 */
import { constants, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { z } from 'zod';

/** How the collector treats client certificates. */
export const CLIENT_CERT_MODES = ['off', 'optional', 'required'] as const;

/** The `tls` section of the collector config; HTTPS is on when `certFile` is set. */
export const tlsSectionSchema = z
  .strictObject({
    /** PEM certificate chain (leaf first); setting it turns HTTPS on for the whole port. Re-read on SIGHUP. */
    certFile: z.string().min(1).optional(),
    /** PEM private key of the certificate. Re-read on SIGHUP. */
    keyFile: z.string().min(1).optional(),
    /** PEM CA certificate(s) that client certificates must chain to (needed unless clientCerts is off). */
    caFile: z.string().min(1).optional(),
    /** Client certificates: off (not asked for), optional (asked, verified when given), required (refused without a valid one). */
    clientCerts: z.enum(CLIENT_CERT_MODES).default('off'),
    /** Oldest TLS version accepted. */
    minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
    /**
     * How long a session ticket stays resumable, in s; 0: no resumption. Agents on bad links reconnect often; a
     * resumed handshake costs a few hundred bytes instead of several KB. Ticket keys live as long as the process
     * (behind a front: in stateDir/front/tls, kept while younger than this).
     */
    sessionTimeoutS: z.number().int().min(0).max(7 * 86_400).default(86_400),
  })
  .superRefine((t, ctx) => {
    for (const issue of tlsFileIssues(t)) ctx.addIssue({ code: 'custom', ...issue });
  });

export type TlsSection = z.output<typeof tlsSectionSchema>;

/** The certificate, key and client CA read from their files. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

function readPem(path: string, what: string, problems: { path: string[]; message: string }[], key: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (e) {
    problems.push({ path: [key], message: `cannot read the ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
    return undefined;
  }
}

/** Every problem with the files of a tls section: missing pairs, unreadable files, bad PEM, a key that does not match. */
export function tlsFileIssues(t: Pick<TlsSection, 'certFile' | 'keyFile' | 'caFile' | 'clientCerts'>): { path: string[]; message: string }[] {
  const problems: { path: string[]; message: string }[] = [];
  if (!t.certFile && !t.keyFile) {
    if (t.clientCerts !== 'off') problems.push({ path: ['clientCerts'], message: 'needs tls.certFile and tls.keyFile: client certificates are asked for only over HTTPS' });
    return problems;
  }
  if (!t.certFile) problems.push({ path: ['certFile'], message: 'is required with tls.keyFile' });
  if (!t.keyFile) problems.push({ path: ['keyFile'], message: 'is required with tls.certFile' });
  if (t.clientCerts !== 'off' && !t.caFile) problems.push({ path: ['caFile'], message: `is required with tls.clientCerts ${t.clientCerts}: the CA client certificates must chain to` });
  const cert = t.certFile ? readPem(t.certFile, 'certificate', problems, 'certFile') : undefined;
  const key = t.keyFile ? readPem(t.keyFile, 'private key', problems, 'keyFile') : undefined;
  const ca = t.caFile ? readPem(t.caFile, 'CA file', problems, 'caFile') : undefined;
  let certOk = false;
  if (cert) {
    try {
      const leaf = new X509Certificate(cert);
      certOk = true;
      if (Date.parse(leaf.validTo) < Date.now()) problems.push({ path: ['certFile'], message: `the certificate expired on ${leaf.validTo}` });
    } catch (e) {
      problems.push({ path: ['certFile'], message: `${t.certFile} is not a PEM certificate: ${(e as Error).message}` });
    }
  }
  if (ca) {
    try {
      new X509Certificate(ca);
    } catch (e) {
      problems.push({ path: ['caFile'], message: `${t.caFile} is not a PEM certificate: ${(e as Error).message}` });
    }
  }
  if (cert && key && certOk) {
    try {
      tls.createSecureContext({ cert, key });
    } catch (e) {
      // OpenSSL says "key values mismatch" for a key of another certificate.
      problems.push({ path: ['keyFile'], message: `${t.keyFile} does not go with ${t.certFile}: ${(e as Error).message}` });
    }
  }
  return problems;
}

/** Reads the files of an enabled tls section; throws when one cannot be read. */
export function readTlsMaterial(t: TlsSection): TlsMaterial {
  if (!t.certFile || !t.keyFile) throw new Error('TLS needs certFile and keyFile');
  return { cert: readFileSync(t.certFile), key: readFileSync(t.keyFile), ...(t.caFile && { ca: readFileSync(t.caFile) }) };
}

/** Counters of the TLS side of the port, for /healthz and tests. */
export interface TlsStats {
  handshakes: number;
  /** Handshakes that resumed a session (ticket): the cheap kind. */
  resumed: number;
  /** Handshakes that failed: wrong or missing client certificate, no common protocol, timeout, garbage. */
  failed: number;
  /** Certificate reloads that took effect, and those refused (the old certificate stayed). */
  reloads: number;
  reloadFailures: number;
  /** notAfter of the certificate in force. */
  certValidTo: string;
}

/** The TLS server of a listener, with its reload. */
export interface TlsTerminator {
  /** Hands a raw accepted socket to TLS; `secured` gets the socket once the handshake is done. */
  readonly server: tls.Server;
  readonly stats: TlsStats;
  /** Re-reads the files; on any problem keeps the certificate in force, logs COL_ERR_TLS_RELOAD_FAILED and returns false. */
  reload(): boolean;
  /** Removes the SIGHUP handler. */
  close(): void;
}

export interface TlsTerminatorOptions {
  section: TlsSection;
  /** A TLS connection that has not finished its handshake within this is closed, in ms. */
  handshakeTimeoutMs: number;
  log: Logger;
  /** Called with each socket whose handshake succeeded. */
  secured: (socket: tls.TLSSocket) => void;
  /** Reload the files on SIGHUP (default true). */
  reloadOnSighup?: boolean;
}

function contextOptions(section: TlsSection, m: TlsMaterial): tls.SecureContextOptions {
  return { cert: m.cert, key: m.key, ...(m.ca && { ca: m.ca }), minVersion: section.minVersion };
}

/** Makes the TLS server of a listener. Throws when the files cannot be used (config validation has checked them). */
export function createTlsTerminator(opts: TlsTerminatorOptions): TlsTerminator {
  const { section, log } = opts;
  const material = readTlsMaterial(section);
  const stats: TlsStats = { handshakes: 0, resumed: 0, failed: 0, reloads: 0, reloadFailures: 0, certValidTo: new X509Certificate(material.cert).validTo };
  const server = tls.createServer({
    ...contextOptions(section, material),
    ALPNProtocols: ['h2', 'http/1.1'],
    requestCert: section.clientCerts !== 'off',
    rejectUnauthorized: section.clientCerts === 'required',
    handshakeTimeout: opts.handshakeTimeoutMs,
    // 0 means no resumption (as in the front): Node ignores a sessionTimeout of 0, so tickets are turned off.
    ...(section.sessionTimeoutS > 0 ? { sessionTimeout: section.sessionTimeoutS } : { secureOptions: constants.SSL_OP_NO_TICKET }),
    // One key for the process's life, kept across reloads: tickets issued before a SIGHUP still resume.
    ticketKeys: randomBytes(48),
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    // "optional" asks without insisting (rejectUnauthorized off), but a certificate that is shown must be good.
    if (section.clientCerts === 'optional' && !socket.authorized && Object.keys(socket.getPeerCertificate()).length > 0) {
      stats.failed++;
      log.debug({ code: 'COL_ERR_TLS_HANDSHAKE', err: String(socket.authorizationError), remote: socket.remoteAddress }, 'client certificate refused');
      socket.destroy();
      return;
    }
    stats.handshakes++;
    if (socket.isSessionReused()) stats.resumed++;
    opts.secured(socket);
  });
  server.on('tlsClientError', (e: NodeJS.ErrnoException, socket) => {
    stats.failed++;
    log.debug({ code: 'COL_ERR_TLS_HANDSHAKE', err: e.message, errno: e.code, remote: socket.remoteAddress }, 'TLS handshake failed');
    socket.destroy();
  });
  const reload = (): boolean => {
    const problems = tlsFileIssues(section);
    if (problems.length === 0) {
      try {
        const m = readTlsMaterial(section);
        server.setSecureContext(contextOptions(section, m));
        stats.reloads++;
        stats.certValidTo = new X509Certificate(m.cert).validTo;
        log.info({ certFile: section.certFile, validTo: stats.certValidTo }, 'TLS certificate reloaded; open connections keep theirs');
        return true;
      } catch (e) {
        problems.push({ path: [], message: (e as Error).message });
      }
    }
    stats.reloadFailures++;
    log.error({ code: 'COL_ERR_TLS_RELOAD_FAILED', problems: problems.map((p) => `tls.${p.path.join('.')}: ${p.message}`) }, 'COL_ERR_TLS_RELOAD_FAILED: TLS files not reloaded; the certificate in force stays');
    return false;
  };
  const onHup = () => {
    try {
      reload();
    } catch (e) {
      log.error({ code: 'COL_ERR_TLS_RELOAD_FAILED', err: String(e) }, 'TLS reload failed');
    }
  };
  if (opts.reloadOnSighup !== false) process.on('SIGHUP', onHup);
  return {
    server,
    stats,
    reload,
    close: () => void process.off('SIGHUP', onHup),
  };
}
