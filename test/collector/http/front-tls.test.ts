/**
 * HTTPS in the front on the real HAProxy (Debian's package), with certificates made by `openssl`: agents upload
 * through it over HTTP/2 and HTTP/1.1 by ALPN to the collector's listener on loopback, resume their sessions,
 * meet the client-certificate modes, and see a renewed certificate after a reload while their open connection
 * goes on.
 */
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { expect } from 'chai';
import { CollectorPool } from '../../../agent/transport/pool.js';
import { UploadError } from '../../../agent/transport/uploader.js';
import { createApp } from '../../../collector/http/app.js';
import { frontSectionSchema, processRuns, startFront, type FrontHandle } from '../../../collector/http/front.js';
import { prepareFrontTls, tlsBindOptions } from '../../../collector/http/front-tls.js';
import { createIngest } from '../../../collector/http/ingest.js';
import { DEFAULT_LIMITS } from '../../../collector/http/limits.js';
import { listen, type Listener } from '../../../collector/http/listener.js';
import { readTlsMaterial, tlsSectionSchema, type TlsSection, type TlsStats } from '../../../collector/http/tls.js';
import { findFreePort } from '../../../collector/sink/influxd.js';
import { makeTestCerts, type TestCerts } from '../../helpers/certs.js';
import { MemorySink } from '../../helpers/memory-sink.js';
import { captureLog, tlsAppOptions } from '../../helpers/tls-app.js';
import { typicalReport } from '../../helpers/reports.js';

/** The certificate serial a fresh TLS connection to `port` is shown. */
function servedSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: [readFileSync(ca)], ALPNProtocols: ['h2'] }, () => {
      const serial = s.getPeerX509Certificate()?.serialNumber;
      s.destroy();
      if (serial) resolve(serial);
      else reject(new Error('no certificate'));
    });
    s.on('error', reject);
  });
}

/** The front's TLS figures once HAProxy's counters have been read (they are read in the background). */
async function tlsStatsOnce(front: FrontHandle, read: (t: TlsStats) => boolean): Promise<TlsStats> {
  for (let i = 0; i < 100; i++) {
    const t = front.tlsStats() as TlsStats;
    if (read(t)) return t;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('HAProxy\'s TLS counters were never read');
}

const serialOf = (pem: string) => new X509Certificate(readFileSync(pem)).serialNumber;

describe('collector/http/front-tls', function () {
  this.timeout(60_000);
  let certs: TestCerts;
  before(() => (certs = makeTestCerts()));
  after(() => certs.remove());
  const section = (over: Partial<TlsSection> = {}): TlsSection => tlsSectionSchema.parse({ certFile: certs.serverCert, keyFile: certs.serverKey, ...over });
  const settings = frontSectionSchema.parse({ kind: 'haproxy' });
  /** Certificate files the tests renew in place, as certbot would: renew() issues a new one and copies it over. */
  const liveCerts = () => {
    const dir = mkdtempSync(join(tmpdir(), 'cl-front-live-'));
    const certFile = join(dir, 'live.pem');
    const keyFile = join(dir, 'live.key');
    copyFileSync(certs.serverCert, certFile);
    copyFileSync(certs.serverKey, keyFile);
    const renew = () => {
      const renewed = certs.issueServer('127.0.0.1');
      copyFileSync(renewed.cert, certFile);
      copyFileSync(renewed.key, keyFile);
      return renewed;
    };
    return { certFile, keyFile, renew };
  };
  const pool = (url: string, over: Partial<ConstructorParameters<typeof CollectorPool>[0]> = {}) =>
    new CollectorPool({ urls: [url], token: 'good', timeoutMs: 5000, gzip: true, dictionary: true, http2: true, tls: { caFile: certs.caCert, systemCa: false, resumeSessions: true }, version: '0.1.0', now: Date.now, ...over });

  it('tlsBindOptions() offers h2 and http/1.1 by ALPN, the minimum version, ticket keys, and asks for client certificates only when told', () => {
    const files = { pem: '/f/tls/cert.pem', ca: '/f/tls/client-ca.pem', tickets: '/f/tls/tickets.keys' };
    expect(tlsBindOptions(section(), files)).to.equal('ssl crt /f/tls/cert.pem alpn h2,http/1.1 ssl-min-ver TLSv1.2 tls-ticket-keys /f/tls/tickets.keys');
    expect(tlsBindOptions(section({ caFile: certs.caCert, clientCerts: 'required', minVersion: 'TLSv1.3' }), files)).to.equal('ssl crt /f/tls/cert.pem alpn h2,http/1.1 ssl-min-ver TLSv1.3 tls-ticket-keys /f/tls/tickets.keys ca-file /f/tls/client-ca.pem verify required');
    expect(tlsBindOptions(section({ caFile: certs.caCert, clientCerts: 'optional', sessionTimeoutS: 0 }), { pem: files.pem, ca: files.ca })).to.include('no-tls-tickets').and.include('verify optional');
  });

  it('prepareFrontTls() writes the chain and key as one PEM only the collector can read, and keeps ticket keys younger than sessionTimeoutS', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cl-front-tls-'));
    const s = section({ sessionTimeoutS: 3600 });
    const files = prepareFrontTls({ dir, section: s, material: readTlsMaterial(s) });
    const pem = readFileSync(files.pem, 'utf8');
    expect(pem.indexOf('BEGIN CERTIFICATE')).to.be.below(pem.indexOf('PRIVATE KEY'));
    expect(statSync(files.pem).mode & 0o777).to.equal(0o600);
    expect(statSync(files.tickets as string).mode & 0o777).to.equal(0o600);
    const keys = readFileSync(files.tickets as string, 'utf8').trim().split('\n');
    expect(keys.map((k) => Buffer.from(k, 'base64').length)).to.deep.equal([80, 80, 80]);
    // Kept across a restart while young: agents resume their sessions after the collector restarts too.
    prepareFrontTls({ dir, section: s, material: readTlsMaterial(s) });
    expect(readFileSync(files.tickets as string, 'utf8').trim().split('\n')).to.deep.equal(keys);
    const old = new Date(Date.now() - 7200_000);
    utimesSync(files.tickets as string, old, old);
    prepareFrontTls({ dir, section: s, material: readTlsMaterial(s) });
    expect(readFileSync(files.tickets as string, 'utf8').trim().split('\n')).to.not.deep.equal(keys);
  });

  describe('on a real HAProxy in front of the listener', () => {
    const sink = new MemorySink();
    let listener: Listener;
    const fronts: FrontHandle[] = [];
    before(async () => {
      const opts = tlsAppOptions(sink);
      listener = await listen({ host: '127.0.0.1', port: 0, app: createApp(opts), ingest: createIngest(opts), log: opts.log });
    });
    after(async () => {
      for (const f of fronts) await f.stop();
      await listener.close();
    });
    beforeEach(() => (sink.points = []));
    const start = async (tlsSection: TlsSection, log = captureLog().log) => {
      const port = await findFreePort();
      const f = await startFront({ settings, host: '127.0.0.1', port, backendPort: listener.port, limits: DEFAULT_LIMITS, dir: mkdtempSync(join(tmpdir(), 'cl-front-tls-')), log, tls: tlsSection, reloadOnSighup: false });
      fronts.push(f);
      return { front: f, port, url: `https://127.0.0.1:${port}` };
    };

    it('an agent uploads over HTTP/2 (ALPN h2) and over HTTP/1.1 through the front; a reconnect resumes its session; /healthz counts both', async () => {
      const { front, url } = await start(section());
      expect(front.scheme).to.equal('https');
      const h2 = pool(url);
      try {
        expect((await h2.send([typicalReport({ seq: 1 })])).ack.accepted).to.deep.equal([1]);
        await new Promise((r) => setTimeout(r, 50));
        h2.close();
        expect((await h2.send([typicalReport({ seq: 2 })])).ack.accepted).to.deep.equal([2]);
      } finally {
        h2.close();
      }
      expect(h2.tlsStats).to.deep.equal({ handshakes: 2, resumed: 1 });
      const h1 = pool(url, { http2: false });
      try {
        expect((await h1.send([typicalReport({ seq: 3 })])).ack.accepted).to.deep.equal([3]);
      } finally {
        h1.close();
      }
      expect(sink.points.filter((p) => p.measurement === 'report')).to.have.length(3);
      const stats = await tlsStatsOnce(front, (t) => t.handshakes > 0);
      expect(stats).to.include({ handshakes: 3, resumed: 1, failed: 0, reloads: 0, certValidTo: new X509Certificate(readFileSync(certs.serverCert)).validTo });
    });

    it('closes a TCP connection that never starts its TLS handshake after firstByteTimeoutMs (not after the idle session timeout)', async () => {
      const port = await findFreePort();
      const f = await startFront({ settings, host: '127.0.0.1', port, backendPort: listener.port, limits: { ...DEFAULT_LIMITS, firstByteTimeoutMs: 500 }, dir: mkdtempSync(join(tmpdir(), 'cl-front-tls-')), log: captureLog().log, tls: section(), reloadOnSighup: false });
      fronts.push(f);
      const started = Date.now();
      await new Promise<void>((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', reject);
        s.on('close', () => resolve());
      });
      expect(Date.now() - started).to.be.within(400, 5000);
    });

    it('clientCerts required: an agent without a certificate, or with one of another CA, is refused in the handshake; one with a certificate of caFile uploads', async () => {
      const { front, url } = await start(section({ caFile: certs.caCert, clientCerts: 'required' }));
      for (const tlsOver of [{}, { certFile: certs.otherCaCert, keyFile: join(certs.dir, 'other-ca.key') }]) {
        const p = pool(url, { tls: { caFile: certs.caCert, systemCa: false, resumeSessions: true, ...tlsOver } });
        const err = await p.send([typicalReport({ seq: 1 })]).then(
          () => undefined,
          (e: unknown) => e,
        );
        p.close();
        expect(err).to.be.instanceOf(UploadError);
        expect((err as UploadError).action).to.equal('keep-and-back-off');
      }
      expect(sink.points).to.have.length(0);
      const good = pool(url, { tls: { caFile: certs.caCert, systemCa: false, certFile: certs.clientCert, keyFile: certs.clientKey, resumeSessions: true } });
      try {
        expect((await good.send([typicalReport({ seq: 1 })])).ack.accepted).to.deep.equal([1]);
      } finally {
        good.close();
      }
      expect((await tlsStatsOnce(front, (t) => t.handshakes > 0)).failed).to.equal(2);
    });

    it('clientCerts optional: an agent without a certificate uploads, one whose certificate no trusted CA signed is refused', async () => {
      const { url } = await start(section({ caFile: certs.caCert, clientCerts: 'optional' }));
      const without = pool(url);
      const foreign = pool(url, { tls: { caFile: certs.caCert, systemCa: false, certFile: certs.otherCaCert, keyFile: join(certs.dir, 'other-ca.key'), resumeSessions: true } });
      try {
        expect((await without.send([typicalReport({ seq: 1 })])).ack.accepted).to.deep.equal([1]);
        expect(await foreign.send([typicalReport({ seq: 2 })]).then(() => undefined, (e: unknown) => e)).to.be.instanceOf(UploadError);
      } finally {
        without.close();
        foreign.close();
      }
      expect(sink.points.filter((p) => p.measurement === 'report')).to.have.length(1);
    });

    it('reloadTls() serves a renewed certificate to new connections while the open HTTP/2 connection goes on; a broken key keeps the one in force', async () => {
      const { certFile, keyFile, renew } = liveCerts();
      const { log, lines } = captureLog();
      const { front, port, url } = await start(section({ certFile, keyFile }), log);
      const p = pool(url);
      try {
        expect(await servedSerial(port, certs.caCert)).to.equal(serialOf(certs.serverCert));
        await p.send([typicalReport({ seq: 1 })]);
        const renewed = renew();
        expect(await front.reloadTls()).to.equal(true);
        expect(await servedSerial(port, certs.caCert)).to.equal(serialOf(renewed.cert));
        await p.send([typicalReport({ seq: 2 })]);
        expect(p.tlsStats.handshakes, 'the connection from before the reload').to.equal(1);
        expect(front.tlsStats()).to.include({ reloads: 1, reloadFailures: 0 });

        writeFileSync(keyFile, 'not a key');
        expect(await front.reloadTls()).to.equal(false);
        expect(front.tlsStats()).to.include({ reloads: 1, reloadFailures: 1 });
        expect(lines.some((l) => l.code === 'COL_ERR_TLS_RELOAD_FAILED')).to.equal(true);
        expect(await servedSerial(port, certs.caCert)).to.equal(serialOf(renewed.cert));
      } finally {
        p.close();
      }
    });

    it('reloadTls() replaces the client CA too: after it names another CA, a certificate of the old one is refused on a new connection', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cl-front-ca-'));
      const caFile = join(dir, 'agents-ca.pem');
      copyFileSync(certs.caCert, caFile);
      const { front, url } = await start(section({ caFile, clientCerts: 'required' }));
      const withCert = () => pool(url, { tls: { caFile: certs.caCert, systemCa: false, certFile: certs.clientCert, keyFile: certs.clientKey, resumeSessions: false } });
      const a = withCert();
      try {
        expect((await a.send([typicalReport({ seq: 1 })])).ack.accepted).to.deep.equal([1]);
      } finally {
        a.close();
      }
      copyFileSync(certs.otherCaCert, caFile);
      expect(await front.reloadTls()).to.equal(true);
      const b = withCert();
      try {
        expect(await b.send([typicalReport({ seq: 2 })]).then(() => undefined, (e: unknown) => e)).to.be.instanceOf(UploadError);
      } finally {
        b.close();
      }
    });

    it('reloadTls() with a caFile but clientCerts off replaces the certificate (HAProxy loaded no CA, none is sent)', async () => {
      const { certFile, keyFile, renew } = liveCerts();
      const { front, port } = await start(section({ certFile, keyFile, caFile: certs.caCert, clientCerts: 'off' }));
      const renewed = renew();
      expect(await front.reloadTls()).to.equal(true);
      expect(await servedSerial(port, certs.caCert)).to.equal(serialOf(renewed.cert));
      expect(front.tlsStats()).to.include({ reloads: 1, reloadFailures: 0 });
    });

    it('a reload while HAProxy is down (being started again) writes the files, and the HAProxy started next serves them', async () => {
      const { certFile, keyFile, renew } = liveCerts();
      const { log, lines } = captureLog();
      const { front, port } = await start(section({ certFile, keyFile }), log);
      const pid = front.pid() as number;
      process.kill(pid, 'SIGKILL');
      // The collector starts it again after 1 s: the reload falls in between.
      for (let i = 0; i < 50 && processRuns(pid); i++) await new Promise((r) => setTimeout(r, 20));
      const renewed = renew();
      expect(await front.reloadTls()).to.equal(true);
      expect(lines.some((l) => String(l.msg).includes('while the front is not running'))).to.equal(true);
      let serial: string | undefined;
      for (let i = 0; i < 100 && serial === undefined; i++) {
        await new Promise((r) => setTimeout(r, 100));
        if (front.pid() !== pid) serial = await servedSerial(port, certs.caCert).catch(() => undefined);
      }
      expect(serial).to.equal(serialOf(renewed.cert));
    });

    it('a renewed certificate survives HAProxy being killed and started again by the collector', async () => {
      const { certFile, keyFile, renew } = liveCerts();
      const { front, port } = await start(section({ certFile, keyFile }));
      const renewed = renew();
      expect(await front.reloadTls()).to.equal(true);
      const pid = front.pid() as number;
      process.kill(pid, 'SIGKILL');
      let serial: string | undefined;
      for (let i = 0; i < 100 && serial === undefined; i++) {
        await new Promise((r) => setTimeout(r, 100));
        if (front.pid() !== pid) serial = await servedSerial(port, certs.caCert).catch(() => undefined);
      }
      expect(serial).to.equal(serialOf(renewed.cert));
    });
  });
});
