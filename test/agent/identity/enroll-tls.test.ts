/**
 * Enrollment against an HTTPS collector with a private CA: the exchange trusts `collector.tls.caFile`
 * as uploads do, and without it says what to set.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnrollError, enrollAgent } from '../../../agent/identity/enroll.js';
import { agentTls } from '../../../agent/transport/tls.js';
import { ENROLL_PATH } from '../../../protocol/enroll.js';
import { createLogger } from '../../../protocol/log.js';
import { makeTestCerts, type TestCerts } from '../../helpers/certs.js';

describe('agent/identity/enroll over TLS', () => {
  let certs: TestCerts;
  let server: https.Server;
  let url: string;
  let stateDir: string;
  const log = createLogger({ name: 'test', level: 'silent' });

  before(async () => {
    certs = makeTestCerts();
    server = https.createServer({ cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) }, (req, res) => {
      if (req.method !== 'POST' || req.url !== ENROLL_PATH) return void res.writeHead(404).end();
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ v: 1, school: '1640104001', agent: 'ag-0123456789', token: 'clk1_enrolled', tokenId: 'tk1' })));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'enroll-tls-'));
  });
  afterEach(() => rmSync(stateDir, { recursive: true, force: true }));
  after(() => {
    server.close();
    certs.remove();
  });

  it('enrollAgent() stores the credential when collector.tls.caFile signs the collector certificate', async () => {
    const { secureContext } = agentTls({ caFile: certs.caCert, systemCa: false, resumeSessions: true } as Parameters<typeof agentTls>[0]);
    await enrollAgent({ url, code: 'EC-1', stateDir, timeoutMs: 5000, secureContext, log });
    const stored = JSON.parse(readFileSync(join(stateDir, 'credential.json'), 'utf8')) as unknown;
    expect(JSON.stringify(stored)).to.contain('ag-0123456789');
  });

  it('enrollAgent() without the CA fails retryably and names collector.tls.caFile', async () => {
    const err = await enrollAgent({ url, code: 'EC-1', stateDir, timeoutMs: 5000, log }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(EnrollError);
    expect((err as EnrollError).retryable).to.equal(true);
    expect((err as Error).message).to.contain('collector.tls.caFile');
  });
});
