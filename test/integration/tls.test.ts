/**
 * TLS end to end with real parts: the collector CLI serving HTTPS itself with certificates made by `openssl`, a
 * real influxd, the agent CLI on an https: URL, and a SIGHUP to the running collector process.
 */
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { expect } from 'chai';
import { SegmentSpool } from '../../agent/spool/segment-spool.js';
import { loadRegistry } from '../../collector/registry/load.js';
import { startGateway, type Gateway } from '../../sim/gateway.js';
import { makeTestCerts, type TestCerts } from '../helpers/certs.js';
import { repoPath, runCli, startCli, type CliProcess } from '../helpers/cli.js';
import { startTestInfluxd, type TestInfluxd } from '../helpers/influxd.js';

/** The serial number of the certificate a new TLS connection to `url` is shown. */
function servedSerial(url: string, ca: string): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: u.hostname, port: Number(u.port), ca: [readFileSync(ca)], ALPNProtocols: ['h2'] }, () => {
      const serial = s.getPeerX509Certificate()?.serialNumber;
      s.destroy();
      if (serial) resolve(serial);
      else reject(new Error('no certificate'));
    });
    s.on('error', reject);
  });
}

for (const front of ['none', 'haproxy'] as const) describe(`integration: agent → collector over TLS${front === 'none' ? '' : ', terminated by the front (front.kind haproxy)'}`, function () {
  this.timeout(120_000);
  let influx: TestInfluxd;
  let collector: CliProcess;
  let gateway: Gateway;
  let certs: TestCerts;
  let collectorUrl: string;
  let token: string;
  const stateDir = mkdtempSync(join(tmpdir(), 'cl-tls-collector-'));
  const agentDir = mkdtempSync(join(tmpdir(), 'cl-tls-agent-'));
  const school = [...loadRegistry(repoPath('config/schools.example.csv')).schools.keys()][0] as string;
  const liveCert = join(stateDir, 'collector.pem');
  const liveKey = join(stateDir, 'collector.key');
  const collectorEnv = (): Record<string, string> => ({
    CAMPUSLINK_STATE_DIR: stateDir,
    CAMPUSLINK_REGISTRY: repoPath('config/schools.example.csv'),
    CAMPUSLINK_INFLUX_URL: influx.url,
    CAMPUSLINK_LISTEN: '127.0.0.1:0',
    CAMPUSLINK_LOG_LEVEL: 'warn',
    CAMPUSLINK_TLS_CERT_FILE: liveCert,
    CAMPUSLINK_TLS_KEY_FILE: liveKey,
    CAMPUSLINK_FRONT_KIND: front,
  });
  const agentEnv = (ca: string): Record<string, string> => ({
    CAMPUSLINK_SCHOOL: school,
    CAMPUSLINK_TOKEN: token,
    CAMPUSLINK_COLLECTOR_URL: collectorUrl,
    CAMPUSLINK_COLLECTOR_TLS_CA_FILE: ca,
    CAMPUSLINK_COLLECTOR_TLS_SYSTEM_CA: 'false',
    CAMPUSLINK_SPOOL_DIR: join(agentDir, 'spool'),
    CAMPUSLINK_STATE_DIR: agentDir,
    CAMPUSLINK_SNMP_HOST: `${gateway.host}:${gateway.port}`,
    CAMPUSLINK_SNMP_COMMUNITY: gateway.community,
    CAMPUSLINK_TARGETS: '[{host: 127.0.0.1, role: gateway, count: 2, intervalMs: 200}]',
    CAMPUSLINK_LOG_LEVEL: 'warn',
  });
  const seqs = async () => (await influx.query(`SELECT "seq" FROM "report" WHERE "school" = '${school}'`).catch(() => [])).map((r) => r.seq);

  before(async () => {
    certs = makeTestCerts();
    copyFileSync(certs.serverCert, liveCert);
    copyFileSync(certs.serverKey, liveKey);
    influx = await startTestInfluxd();
    gateway = await startGateway({ host: '127.0.0.1' });
    const issued = await runCli('collector', ['token', 'issue', '--school', school, '--config', repoPath('config/collector.example.yaml')], collectorEnv());
    expect(issued.code, issued.stderr).to.equal(0);
    token = issued.stdout.trim().split('\n').pop() as string;
    collector = await startCli('collector', ['serve', '--config', repoPath('config/collector.example.yaml')], { env: collectorEnv(), ready: /listening on (https?\S+)/ });
    collectorUrl = /listening on (https?\S+)/.exec(collector.readyLine)?.[1] as string;
  });

  after(async () => {
    await collector?.stop();
    await gateway?.stop();
    await influx?.cleanup();
    certs?.remove();
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(agentDir, { recursive: true, force: true });
  });

  it('serve with tls.certFile listens on https:, and agent once with the wrong CA keeps its report, then delivers it with the right one', async () => {
    expect(collectorUrl).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
    const refused = await runCli('agent', ['once', '--config', repoPath('config/agent.example.yaml')], agentEnv(certs.otherCaCert));
    expect(refused.code).to.equal(1);
    expect(refused.stderr + refused.stdout).to.include('AGT_ERR_TLS_REFUSED');
    expect(new SegmentSpool({ dir: join(agentDir, 'spool'), maxSpoolBytes: 1 << 20, segmentBytes: 1 << 16 }).waiting()).to.deep.equal([1]);
    expect(await seqs()).to.deep.equal([]);

    const ok = await runCli('agent', ['once', '--config', repoPath('config/agent.example.yaml')], agentEnv(certs.caCert));
    expect(ok.code, ok.stderr).to.equal(0);
    expect(await seqs()).to.deep.equal([1, 2]);
    expect(new SegmentSpool({ dir: join(agentDir, 'spool'), maxSpoolBytes: 1 << 20, segmentBytes: 1 << 16 }).waiting()).to.deep.equal([]);
  });

  it('SIGHUP makes the running collector serve a renewed certificate; it keeps running and accepting uploads', async () => {
    const before = await servedSerial(collectorUrl, certs.caCert);
    const renewed = certs.issueServer('127.0.0.1');
    copyFileSync(renewed.cert, liveCert);
    copyFileSync(renewed.key, liveKey);
    collector.child.kill('SIGHUP');
    const want = new X509Certificate(readFileSync(renewed.cert)).serialNumber;
    let now = before;
    for (let i = 0; i < 50 && now !== want; i++) {
      await new Promise((r) => setTimeout(r, 100));
      now = await servedSerial(collectorUrl, certs.caCert);
    }
    expect(now).to.equal(want);
    expect(collector.child.exitCode).to.equal(null);
    const ok = await runCli('agent', ['once', '--config', repoPath('config/agent.example.yaml')], agentEnv(certs.caCert));
    expect(ok.code, ok.stderr).to.equal(0);
    expect(await seqs()).to.deep.equal([1, 2, 3]);
  });

  if (front === 'haproxy') it('/healthz reports the front (kind, restarts) and its TLS figures: the SIGHUP reload above and the certificate in force', async () => {
    const health = await new Promise<{ connections: { tls: { handshakes: number; reloads: number; certValidTo: string }; front: { kind: string; restarts: number } } }>((resolve, reject) => {
      const u = new URL(`${collectorUrl}/healthz`);
      const s = tls.connect({ host: u.hostname, port: Number(u.port), ca: [readFileSync(certs.caCert)], ALPNProtocols: ['http/1.1'] }, () => {
        s.end(`GET /healthz HTTP/1.1\r\nhost: ${u.host}\r\nconnection: close\r\n\r\n`);
      });
      let text = '';
      s.on('data', (d: Buffer) => (text += d.toString()));
      s.on('end', () => resolve(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))));
      s.on('error', reject);
    });
    expect(health.connections.front).to.include({ kind: 'haproxy', restarts: 0 });
    expect(health.connections.tls.reloads).to.equal(1);
    expect(health.connections.tls.certValidTo).to.be.a('string');
  });

  if (front === 'none') it('serve exits 2 listing every TLS problem: a key of another certificate, a missing CA file for client certificates', async () => {
    const yaml = join(stateDir, 'bad-tls.yaml');
    writeFileSync(yaml, `tls:\n  certFile: ${certs.serverCert}\n  keyFile: ${certs.clientKey}\n  clientCerts: required\n  caFile: ${join(stateDir, 'missing-ca.pem')}\n`);
    const r = await runCli('collector', ['serve', '--config', yaml], { CAMPUSLINK_STATE_DIR: stateDir, CAMPUSLINK_LISTEN: '127.0.0.1:0' });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include('COL_ERR_CONFIG_INVALID');
    expect(r.stderr).to.match(/tls\.keyFile: .*does not go with/);
    expect(r.stderr).to.match(/tls\.caFile: cannot read the CA file .*ENOENT/);
  });
});
