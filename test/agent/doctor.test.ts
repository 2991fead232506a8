/**
 * `campuslink-agent doctor` against a collector that serves HTTPS with a private CA: it must trust what
 * the agent's uploads trust (`collector.tls.caFile`), and say what to set when it does not.
 */
import { expect } from 'chai';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { checkCollector } from '../../agent/doctor.js';
import { agentTls } from '../../agent/transport/tls.js';
import { makeTestCerts, type TestCerts } from '../helpers/certs.js';

describe('agent/doctor over TLS', () => {
  let certs: TestCerts;
  let server: https.Server;
  let url: string;

  before(async () => {
    certs = makeTestCerts();
    server = https.createServer({ cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) }, (req, res) => {
      if (req.url === '/healthz') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      if (req.url === '/api/v1/whoami') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"school":"1640104001"}');
      res.writeHead(404).end();
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.close();
    certs.remove();
  });

  it('checkCollector() passes with the CA of collector.tls.caFile and proves the token', async () => {
    const { secureContext } = agentTls({ caFile: certs.caCert, systemCa: false, resumeSessions: true } as Parameters<typeof agentTls>[0]);
    const checks = await checkCollector({ url, token: 'clk1_x', school: '1640104001', timeoutMs: 5000, secureContext });
    expect(checks.map((c) => c.status)).to.deep.equal(['ok', 'ok']);
    expect(checks[1]?.detail).to.contain('accepted for school 1640104001');
  });

  it('checkCollector() without the CA fails and names collector.tls.caFile', async () => {
    const checks = await checkCollector({ url, token: 'clk1_x', school: '1640104001', timeoutMs: 5000 });
    expect(checks).to.have.length(1);
    expect(checks[0]?.status).to.equal('fail');
    expect(checks[0]?.detail).to.match(/UNABLE_TO_VERIFY|SELF_SIGNED|CERT/).and.to.contain('collector.tls.caFile');
  });
});
