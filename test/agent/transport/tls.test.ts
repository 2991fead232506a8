import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { agentConfigSchema } from '../../../agent/config.js';
import { AgentRuntime } from '../../../agent/runtime.js';
import { CollectorPool } from '../../../agent/transport/pool.js';
import { agentTlsSectionSchema } from '../../../agent/transport/tls.js';
import { createApp } from '../../../collector/http/app.js';
import { createIngest } from '../../../collector/http/ingest.js';
import { listen } from '../../../collector/http/listener.js';
import { tlsSectionSchema } from '../../../collector/http/tls.js';
import { makeTestCerts, type TestCerts } from '../../helpers/certs.js';
import { MemorySink } from '../../helpers/memory-sink.js';
import { TLS_SCHOOL, captureLog, tlsAppOptions } from '../../helpers/tls-app.js';
import { typicalReport } from '../../helpers/reports.js';

const SCHOOL = TLS_SCHOOL;



describe('agent/transport/tls', () => {
  let certs: TestCerts;
  before(() => (certs = makeTestCerts()));
  after(() => certs.remove());

  it('AgentRuntime with a collector whose certificate its CA did not sign keeps the report in the spool, does not throw, and logs AGT_ERR_TLS_REFUSED', async () => {
    const sink = new MemorySink();
    const opts = tlsAppOptions(sink);
    const listener = await listen({ host: '127.0.0.1', port: 0, app: createApp(opts), ingest: createIngest(opts), log: opts.log, tls: tlsSectionSchema.parse({ certFile: certs.serverCert, keyFile: certs.serverKey }) });
    const dir = mkdtempSync(join(tmpdir(), 'cl-agent-tls-'));
    const { log, lines } = captureLog();
    const config = agentConfigSchema.parse({
      school: SCHOOL,
      collector: { url: `https://127.0.0.1:${listener.port}`, token: 'good', tls: { caFile: certs.otherCaCert, systemCa: false } },
      spool: { dir: join(dir, 'spool') },
      stateDir: dir,
    });
    const agent = new AgentRuntime({ config, log, probes: [], now: () => Date.now() });
    try {
      await agent.once();
      expect(agent.spool.waiting()).to.have.length(1);
      expect(sink.points).to.have.length(0);
      const refused = lines.find((l) => l.code === 'AGT_ERR_TLS_REFUSED');
      expect(refused, JSON.stringify(lines.map((l) => l.msg))).to.not.equal(undefined);
      expect(String(refused?.tlsError)).to.match(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/);
    } finally {
      agent.close();
      await listener.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('CollectorPool falls back to HTTP/1.1 over TLS when an https: collector (or a proxy before it) does not offer h2 by ALPN', async () => {
    const sink = new MemorySink();
    const server = https.createServer({ cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) }, createApp(tlsAppOptions(sink)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { log, lines } = captureLog();
    const pool = new CollectorPool({
      urls: [`https://127.0.0.1:${(server.address() as AddressInfo).port}`],
      token: 'good',
      timeoutMs: 3000,
      gzip: true,
      dictionary: true,
      http2: true,
      tls: agentTlsSectionSchema.parse({ caFile: certs.caCert }),
      version: '0.1.0',
      now: Date.now,
      log,
    });
    try {
      for (let seq = 1; seq <= 3; seq++) expect((await pool.send([typicalReport({ seq })])).ack.accepted).to.deep.equal([seq]);
      expect(lines.filter((l) => String(l.msg).includes('does not speak HTTP/2'))).to.have.length(1);
      expect(sink.points.filter((p) => p.measurement === 'report')).to.have.length(3);
    } finally {
      pool.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('collector.tls lists every problem: an unreadable CA file, a certificate without its key, no CA at all with systemCa false, a key of another certificate', () => {
    const issues = (t: unknown) => {
      const r = agentConfigSchema.safeParse({ school: SCHOOL, collector: { tls: t } });
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    const a = issues({ caFile: join(certs.dir, 'nope.pem'), certFile: certs.clientCert });
    expect(a.some((i) => i.startsWith('collector.tls.caFile') && i.includes('ENOENT'))).to.equal(true, a.join('\n'));
    expect(a.some((i) => i.startsWith('collector.tls.keyFile'))).to.equal(true, a.join('\n'));
    expect(issues({ systemCa: false }).some((i) => i.startsWith('collector.tls.caFile'))).to.equal(true);
    const mm = issues({ certFile: certs.clientCert, keyFile: certs.serverKey });
    expect(mm.some((i) => i.startsWith('collector.tls.keyFile') && i.includes('does not go with'))).to.equal(true, mm.join('\n'));
    expect(issues({ caFile: certs.caCert, certFile: certs.clientCert, keyFile: certs.clientKey })).to.deep.equal([]);
  });
});
