/** An agent of one school given a county proxy's code is told so, and stores nothing. */
import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnrollError, enrollAgent } from '../../../agent/identity/enroll.js';
import { ENROLL_PATH } from '../../../protocol/enroll.js';
import { createLogger } from '../../../protocol/log.js';

describe('agent/identity/enroll with a proxy code', () => {
  let server: http.Server;
  let url: string;
  let stateDir: string;
  const log = createLogger({ name: 'test', level: 'silent' });

  before(async () => {
    server = http.createServer((req, res) => {
      if (req.method !== 'POST' || req.url !== ENROLL_PATH) return void res.writeHead(404).end();
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ v: 1, kind: 'proxy', agent: 'proxy-county', token: 'clk1_proxy', tokenId: 'tk9', schools: ['1640104001'] })));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'enroll-kind-'));
  });
  afterEach(() => rmSync(stateDir, { recursive: true, force: true }));
  after(() => server.close());

  it('enrollAgent() refuses a proxy answer for good (not retryable), names the proxy and stores no credential', async () => {
    const err = await enrollAgent({ url, code: 'EC-1', stateDir, timeoutMs: 5000, log }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(EnrollError);
    expect((err as EnrollError).retryable).to.equal(false);
    expect((err as Error).message).to.contain('county proxy proxy-county');
    expect(existsSync(join(stateDir, 'credential.json'))).to.equal(false);
  });
});
