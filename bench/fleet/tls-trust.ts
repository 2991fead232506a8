/**
 * The CA the soak's clients trust when the collector serves HTTPS (`province-soak --tls 1`): the generator's
 * sessions, the /healthz probe, the restart probes. Set once per process (the generator's from its job file).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

/** The trusted CA, when the soak runs over TLS. */
export const benchTls: { ca?: Buffer } = {};

/** Trusts the CA in `caFile` for this process's bench clients. */
export function trustCa(caFile: string): void {
  benchTls.ca = readFileSync(caFile);
}

/** GET `url` with http or https (trusting benchTls.ca); resolves with the status, 0 when there was no answer. */
export function getStatus(url: string, timeoutMs = 10_000): Promise<number> {
  return new Promise((resolve) => {
    const get = url.startsWith('https:') ? https.get : http.get;
    const req = get(url, { timeout: timeoutMs, ...(benchTls.ca && { ca: benchTls.ca }) }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}
