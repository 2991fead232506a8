import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { expect } from 'chai';
import { CollectorPool } from '../../../agent/transport/pool.js';
import { UploadError } from '../../../agent/transport/uploader.js';
import { loadCollectorConfig } from '../../../collector/config.js';
import { createApp } from '../../../collector/http/app.js';
import { createIngest } from '../../../collector/http/ingest.js';
import { listen, type Listener } from '../../../collector/http/listener.js';
import { tlsSectionSchema, type TlsSection } from '../../../collector/http/tls.js';
import { ConfigError } from '../../../protocol/config.js';
import { makeTestCerts, type TestCerts } from '../../helpers/certs.js';
import { MemorySink } from '../../helpers/memory-sink.js';
import { TLS_SCHOOL, captureLog, tlsAppOptions } from '../../helpers/tls-app.js';
import { typicalReport } from '../../helpers/reports.js';

const SCHOOL = TLS_SCHOOL;



/** The certificate a fresh TLS connection to `port` is shown. */
function peerCert(port: number, ca: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: [ca], ALPNProtocols: ['h2'] }, () => {
      const raw = s.getPeerX509Certificate();
      s.destroy();
      if (raw) resolve(raw);
      else reject(new Error('no peer certificate'));
    });
    s.on('error', reject);
  });
}

describe('collector/http/tls', () => {
  let certs: TestCerts;
  before(() => (certs = makeTestCerts()));
  after(() => certs.remove());

  const section = (over: Partial<TlsSection> = {}): TlsSection => tlsSectionSchema.parse({ certFile: certs.serverCert, keyFile: certs.serverKey, ...over });
  const pool = (url: string, over: Partial<ConstructorParameters<typeof CollectorPool>[0]> = {}) =>
    new CollectorPool({ urls: [url], token: 'good', timeoutMs: 3000, gzip: true, dictionary: true, http2: true, tls: { caFile: certs.caCert, systemCa: false, resumeSessions: true }, version: '0.1.0', now: Date.now, ...over });

  describe('with server certificates only', () => {
    const sink = new MemorySink();
    let listener: Listener;
    let url: string;
    before(async () => {
      const opts = tlsAppOptions(sink);
      listener = await listen({ host: '127.0.0.1', port: 0, app: createApp(opts), ingest: createIngest(opts), log: opts.log, tls: section(), limits: { firstByteTimeoutMs: 300 } });
      url = `https://127.0.0.1:${listener.port}`;
    });
    after(() => listener.close());
    beforeEach(() => (sink.points = []));

    it('CollectorPool uploads over HTTP/2 negotiated by ALPN on the collector\'s own HTTPS port, many batches on one connection', async () => {
      expect(listener.scheme).to.equal('https');
      const p = pool(url);
      const before = { ...listener.connections };
      try {
        for (let seq = 1; seq <= 5; seq++) expect((await p.send([typicalReport({ seq })])).ack.accepted).to.deep.equal([seq]);
      } finally {
        p.close();
      }
      expect({ http1: listener.connections.http1 - before.http1, http2: listener.connections.http2 - before.http2 }).to.deep.equal({ http1: 0, http2: 1 });
      expect(p.tlsStats.handshakes).to.equal(1);
      expect(sink.points.filter((x) => x.measurement === 'report')).to.have.length(5);
      // /healthz shows the TLS side of the port.
      expect(listener.stats().tls?.handshakes).to.be.at.least(1);
      expect(listener.stats().tls?.certValidTo).to.equal(new X509Certificate(readCa(certs.serverCert)).validTo);
    });

    it('a reconnecting agent resumes its TLS session with the ticket it kept (no full handshake)', async () => {
      const resumedBefore = listener.tls?.stats.resumed ?? 0;
      const p = await twoConnections(pool(url));
      expect(p.tlsStats).to.deep.equal({ handshakes: 2, resumed: 1 });
      expect((listener.tls?.stats.resumed ?? 0) - resumedBefore).to.equal(1);
    });

    it('with tls.sessionTimeoutS 0 the collector issues no ticket: every reconnect is a full handshake', async () => {
      const opts = tlsAppOptions(new MemorySink());
      const l = await listen({ host: '127.0.0.1', port: 0, app: createApp(opts), ingest: createIngest(opts), log: opts.log, tls: section({ sessionTimeoutS: 0 }) });
      try {
        const p = await twoConnections(pool(`https://127.0.0.1:${l.port}`));
        expect(p.tlsStats).to.deep.equal({ handshakes: 2, resumed: 0 });
      } finally {
        await l.close();
      }
    });

    it('with resumeSessions false every reconnect is a full handshake', async () => {
      const p = await twoConnections(pool(url, { tls: { caFile: certs.caCert, systemCa: false, resumeSessions: false } }));
      expect(p.tlsStats).to.deep.equal({ handshakes: 2, resumed: 0 });
    });

    it('serves HTTP/1.1 over TLS to a client that offers only http/1.1 (and the console and /healthz go that way)', async () => {
      const p = pool(url, { http2: false });
      const before = { ...listener.connections };
      try {
        expect((await p.send([typicalReport({ seq: 7 })])).ack.accepted).to.deep.equal([7]);
      } finally {
        p.close();
      }
      expect(listener.connections.http1 - before.http1).to.equal(1);
      expect(listener.connections.http2 - before.http2).to.equal(0);
      const status = await new Promise<number>((resolve, reject) => {
        https.get(`${url}/healthz`, { ca: readCa(certs.caCert) }, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', reject);
      });
      expect(status).to.be.oneOf([200, 503]);
    });

    it('refuses an agent that trusts another CA: the upload fails as keep-and-back-off and AGT_ERR_TLS_REFUSED is logged once', async () => {
      const { log, lines } = captureLog();
      const p = pool(url, { tls: { caFile: certs.otherCaCert, systemCa: false, resumeSessions: true }, log });
      try {
        for (let i = 0; i < 2; i++) {
          const err = await p.send([typicalReport({ seq: 1 })]).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).to.be.instanceOf(UploadError);
          expect((err as UploadError).action).to.equal('keep-and-back-off');
          expect((err as UploadError).message).to.match(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
        }
      } finally {
        p.close();
      }
      expect(lines.filter((l) => l.code === 'AGT_ERR_TLS_REFUSED')).to.have.length(1);
      expect(sink.points).to.have.length(0);
    });

    it('closes a TCP connection that never starts its TLS handshake after firstByteTimeoutMs', async () => {
      const failedBefore = listener.tls?.stats.failed ?? 0;
      const started = Date.now();
      await new Promise<void>((resolve, reject) => {
        const s = net.connect(listener.port, '127.0.0.1');
        s.on('error', reject);
        s.on('close', () => resolve());
      });
      expect(Date.now() - started).to.be.within(250, 3000);
      expect((listener.tls?.stats.failed ?? 0) - failedBefore).to.equal(1);
    });
  });

  describe('client certificates required', () => {
    const sink = new MemorySink();
    let listener: Listener;
    let url: string;
    before(async () => {
      const opts = tlsAppOptions(sink);
      listener = await listen({ host: '127.0.0.1', port: 0, app: createApp(opts), ingest: createIngest(opts), log: opts.log, tls: section({ caFile: certs.caCert, clientCerts: 'required' }) });
      url = `https://127.0.0.1:${listener.port}`;
    });
    after(() => listener.close());

    it('refuses an agent without a client certificate in the handshake, and accepts one with a certificate of the CA', async () => {
      const { log, lines } = captureLog();
      const without = pool(url, { log });
      try {
        const err = await without.send([typicalReport({ seq: 1 })]).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).to.be.instanceOf(UploadError);
        expect((err as UploadError).status).to.equal(undefined);
      } finally {
        without.close();
      }
      expect(sink.points).to.have.length(0);
      expect(lines.some((l) => l.code === 'AGT_ERR_TLS_REFUSED')).to.equal(true);
      const withCert = pool(url, { tls: { caFile: certs.caCert, systemCa: false, certFile: certs.clientCert, keyFile: certs.clientKey, resumeSessions: true } });
      try {
        expect((await withCert.send([typicalReport({ seq: 1 })])).ack.accepted).to.deep.equal([1]);
      } finally {
        withCert.close();
      }
    });
  });

  describe('client certificates optional', () => {
    it('accepts an agent without a client certificate, and refuses one whose certificate no trusted CA signed', async () => {
      const sink = new MemorySink();
      const opts = tlsAppOptions(sink);
      const listener = await listen({ host: '127.0.0.1', port: 0, app: createApp(opts), ingest: createIngest(opts), log: opts.log, tls: section({ caFile: certs.caCert, clientCerts: 'optional' }) });
      const url = `https://127.0.0.1:${listener.port}`;
      const without = pool(url);
      const foreign = pool(url, { tls: { caFile: certs.caCert, systemCa: false, certFile: certs.otherCaCert, keyFile: join(certs.dir, 'other-ca.key'), resumeSessions: true } });
      try {
        expect((await without.send([typicalReport({ seq: 1 })])).ack.accepted).to.deep.equal([1]);
        const err = await foreign.send([typicalReport({ seq: 2 })]).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).to.be.instanceOf(UploadError);
        expect(sink.points.filter((p) => p.measurement === 'report')).to.have.length(1);
        expect(listener.tls?.stats.failed).to.equal(1);
      } finally {
        without.close();
        foreign.close();
        await listener.close();
      }
    });
  });

  describe('SIGHUP', () => {
    it('reloads a renewed certificate for new connections; the open HTTP/2 connection keeps working', async () => {
      const dir = certs.dir;
      const certFile = join(dir, 'live.pem');
      const keyFile = join(dir, 'live.key');
      copyFileSync(certs.serverCert, certFile);
      copyFileSync(certs.serverKey, keyFile);
      const sink = new MemorySink();
      const { log, lines } = captureLog();
      const opts = tlsAppOptions(sink, log);
      const listener = await listen({ host: '127.0.0.1', port: 0, app: createApp(opts), ingest: createIngest(opts), log, tls: section({ certFile, keyFile }) });
      const p = pool(`https://127.0.0.1:${listener.port}`);
      try {
        const ca = readCa(certs.caCert);
        const first = await peerCert(listener.port, ca);
        await p.send([typicalReport({ seq: 1 })]);
        const renewed = certs.issueServer('127.0.0.1');
        copyFileSync(renewed.cert, certFile);
        copyFileSync(renewed.key, keyFile);
        process.kill(process.pid, 'SIGHUP');
        await new Promise((r) => setTimeout(r, 100));
        expect(listener.tls?.stats.reloads).to.equal(1);
        const second = await peerCert(listener.port, ca);
        expect(second.serialNumber).not.to.equal(first.serialNumber);
        expect(second.serialNumber).to.equal(new X509Certificate(readCa(renewed.cert)).serialNumber);
        // The agent's connection from before the reload is still the one in use.
        await p.send([typicalReport({ seq: 2 })]);
        expect(p.tlsStats.handshakes).to.equal(1);
        // A broken key on the next SIGHUP: the certificate in force stays, and the log says why.
        writeFileSync(keyFile, 'not a key');
        process.kill(process.pid, 'SIGHUP');
        await new Promise((r) => setTimeout(r, 100));
        expect(listener.tls?.stats.reloadFailures).to.equal(1);
        expect(lines.some((l) => l.code === 'COL_ERR_TLS_RELOAD_FAILED')).to.equal(true);
        expect((await peerCert(listener.port, ca)).serialNumber).to.equal(second.serialNumber);
      } finally {
        p.close();
        await listener.close();
      }
    });
  });

  describe('config', () => {
    it('loadCollectorConfig() lists every TLS problem at once: missing certificate file, a key of another certificate, client certificates without a CA', () => {
      const yaml = join(certs.dir, 'bad.yaml');
      writeFileSync(yaml, `tls:\n  certFile: ${join(certs.dir, 'missing.pem')}\n  keyFile: ${certs.clientKey}\n  clientCerts: required\n`);
      const mismatched = join(certs.dir, 'mismatched.yaml');
      writeFileSync(mismatched, `tls:\n  certFile: ${certs.serverCert}\n  keyFile: ${certs.clientKey}\n`);
      const problems = (file: string) => {
        try {
          loadCollectorConfig(file, {});
        } catch (e) {
          expect(e).to.be.instanceOf(ConfigError);
          return (e as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
        }
        throw new Error('the config was accepted');
      };
      const bad = problems(yaml);
      expect(bad.some((p) => p.startsWith('tls.certFile') && p.includes('ENOENT'))).to.equal(true, bad.join('\n'));
      expect(bad.some((p) => p.startsWith('tls.caFile'))).to.equal(true, bad.join('\n'));
      const mm = problems(mismatched);
      expect(mm.some((p) => p.startsWith('tls.keyFile') && /does not go with/.test(p))).to.equal(true, mm.join('\n'));
    });
  });
});

/** One upload, the connection closed, another upload (on a new connection). */
async function twoConnections(p: CollectorPool): Promise<CollectorPool> {
  try {
    await p.send([typicalReport({ seq: 1 })]);
    // Tickets arrive after the handshake; let the first one land before the connection goes.
    await new Promise((r) => setTimeout(r, 50));
    p.close();
    await p.send([typicalReport({ seq: 2 })]);
  } finally {
    p.close();
  }
  return p;
}

function readCa(path: string): string {
  return readFileSync(path, 'utf8');
}
