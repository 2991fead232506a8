/**
 * The agent's side of TLS to an https: collector: which CAs it trusts, its own client certificate, and the
 * errors that mean "this collector's certificate is not one to trust" rather than "the link is down".
 *
 * One SecureContext is built once and shared by every connection (HTTP/2 and the HTTP/1.1 fallback): parsing
 * 140 root certificates per reconnect would cost more CPU than the upload on a small router.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { z } from 'zod';

/** The `collector.tls` section of the agent config. */
export const agentTlsSectionSchema = z
  .strictObject({
    /** PEM CA certificate(s) the collector's certificate must chain to (a private CA); trusted beside the system CAs. */
    caFile: z.string().min(1).optional(),
    /** Also trust Node's built-in public root CAs (and NODE_EXTRA_CA_CERTS); false: only caFile. */
    systemCa: z.boolean().default(true),
    /** PEM client certificate, for a collector that asks for one (tls.clientCerts on the collector). */
    certFile: z.string().min(1).optional(),
    /** PEM private key of certFile. */
    keyFile: z.string().min(1).optional(),
    /** Keep TLS session tickets and resume with them on reconnect (a few hundred bytes instead of several KB). */
    resumeSessions: z.boolean().default(true),
  })
  .superRefine((t, ctx) => {
    for (const issue of agentTlsIssues(t)) ctx.addIssue({ code: 'custom', ...issue });
  })
  .prefault({});

export type AgentTlsSection = z.output<typeof agentTlsSectionSchema>;

/** What connections to an https: collector use. */
export interface AgentTls {
  secureContext: tls.SecureContext;
  resumeSessions: boolean;
}

function tryRead(path: string, key: string, out: { path: string[]; message: string }[]): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (e) {
    out.push({ path: [key], message: `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
    return undefined;
  }
}

/** Every problem of a collector.tls section: unreadable files, no certificate in a file, a key without its certificate or not matching it. */
export function agentTlsIssues(t: Pick<AgentTlsSection, 'caFile' | 'systemCa' | 'certFile' | 'keyFile'>): { path: string[]; message: string }[] {
  const out: { path: string[]; message: string }[] = [];
  if (!t.systemCa && !t.caFile) out.push({ path: ['caFile'], message: 'is required with systemCa false: otherwise no certificate could be trusted' });
  if (!!t.certFile !== !!t.keyFile) out.push({ path: [t.certFile ? 'keyFile' : 'certFile'], message: 'certFile and keyFile go together' });
  const ca = t.caFile ? tryRead(t.caFile, 'caFile', out) : undefined;
  if (ca) {
    try {
      new X509Certificate(ca);
    } catch {
      out.push({ path: ['caFile'], message: `${t.caFile} holds no PEM certificate` });
    }
  }
  const cert = t.certFile ? tryRead(t.certFile, 'certFile', out) : undefined;
  const key = t.keyFile ? tryRead(t.keyFile, 'keyFile', out) : undefined;
  if (cert && key) {
    try {
      tls.createSecureContext({ cert, key });
    } catch (e) {
      out.push({ path: ['keyFile'], message: `${t.keyFile} does not go with ${t.certFile}: ${(e as Error).message}` });
    }
  }
  return out;
}

/**
 * A shorter ClientHello: every reconnect sends it, and the defaults offer about 30 cipher suites, 10 groups and
 * 20 signature schemes. What is kept is what TLS 1.3 requires (AES-128-GCM, X25519/P-256, ECDSA P-256 and RSA-PSS)
 * plus ChaCha20 for routers without AES instructions, and the TLS 1.2 ECDHE-AEAD suites every proxy offers.
 * SHA-256 suites also make the Finished messages 16 bytes shorter than the default AES-256/SHA-384.
 */
const HELLO_TRIM = {
  ciphers: [
    'TLS_AES_128_GCM_SHA256',
    'TLS_CHACHA20_POLY1305_SHA256',
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  ecdhCurve: 'X25519:P-256',
  sigalgs: 'ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256:rsa_pkcs1_sha256:ecdsa_secp384r1_sha384:rsa_pss_rsae_sha384:rsa_pkcs1_sha384:ed25519',
} as const;

/** Builds the shared SecureContext from a validated section. */
export function agentTls(t: AgentTlsSection): AgentTls {
  const ca = t.caFile ? readFileSync(t.caFile, 'utf8') : undefined;
  const trusted = [...(t.systemCa ? tls.rootCertificates : []), ...(ca ? [ca] : [])];
  const secureContext = tls.createSecureContext({
    ...HELLO_TRIM,
    // Without `ca` Node trusts its roots; with it, only what is listed: so the roots are listed too when wanted.
    ...(ca && { ca: trusted }),
    ...(t.certFile && t.keyFile && { cert: readFileSync(t.certFile), key: readFileSync(t.keyFile) }),
  });
  return { secureContext, resumeSessions: t.resumeSessions };
}

/**
 * Error codes that say the TLS handshake itself was refused, by either side: an untrusted, expired or misnamed
 * certificate, a client certificate missing or refused, no common protocol version.
 */
export function isTlsRefusal(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return (
    code.startsWith('ERR_SSL_') ||
    code.startsWith('ERR_TLS_') ||
    /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|DEPTH_ZERO|HOSTNAME/.test(code)
  );
}
