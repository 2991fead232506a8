/**
 * The tiny agent under BusyBox in a network namespace against a real collector (child process, listening on
 * the host end of the veth pair) and a real influxd: enrollment with a code and token rotation, exactly-once
 * delivery across a collector outage and kill -9 of the agent, at most one file written per cycle on "flash"
 * while the collector is away, and a report the collector refuses (400) dropped and counted alone.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { expect } from 'chai';
import { makeTestCerts } from '../../helpers/certs.js';
import { runCli } from '../../helpers/cli.js';
import { startTestInfluxd, type TestInfluxd } from '../../helpers/influxd.js';
import { CollectorChild, SCHOOLS, countPoints, freePort, seqsInInflux } from '../../fault/harness.js';
import { TINY, busyboxPath, kill9, makeNet, runTiny, spooled, startTiny, tempDir, until, writeConf, type TinyNet } from './tiny-env.js';

/** Every file under `dir` modified after `sinceMs`, relative to it. */
function changedSince(dir: string, sinceMs: number, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const p = join(rel, e.name);
    if (e.isDirectory()) out.push(...changedSince(dir, sinceMs, p));
    else if (statSync(join(dir, p)).mtimeMs > sinceMs) out.push(p);
  }
  return out;
}

/** The last sequence the agent made: the spool's newest report, else the seq file. */
function lastSeq(stateDir: string): number {
  const held = spooled(stateDir);
  if (held.length) return held[held.length - 1] as number;
  return Number(readFileSync(join(stateDir, 'seq'), 'utf8').trim());
}

describe('agent/tiny against a real collector and influxd (BusyBox only, network namespace)', function () {
  this.timeout(240_000);
  let net: TinyNet;
  let bin: string;
  let influx: TestInfluxd;
  let collector: CollectorChild;
  let url: string;
  const cliEnv = () => ({ CAMPUSLINK_STATE_DIR: collector.stateDir, CAMPUSLINK_LOG_LEVEL: 'warn' });

  before(async () => {
    net = makeNet(2);
    bin = busyboxPath();
    influx = await startTestInfluxd();
    const port = await freePort();
    collector = new CollectorChild(influx, { CAMPUSLINK_LISTEN: `${net.hostIp}:${port}`, CAMPUSLINK_AUTH_ROTATION_GRACE_MS: '1500', CAMPUSLINK_AUTH_ROTATION_REOFFER_MS: '200' });
    collector.port = port;
    await collector.start();
    url = `http://${net.hostIp}:${port}`;
  });
  after(async () => {
    await collector?.stop();
    await influx?.cleanup();
    net?.close();
    rmSync(bin, { recursive: true, force: true });
  });

  const conf = (dir: string, over: Record<string, string | number>) =>
    writeConf(dir, {
      COLLECTOR_URL: url,
      STATE_DIR: join(dir, 'state'),
      RUN_DIR: join(dir, 'run'),
      PING_TARGETS: `gateway:${net.hostIp} isp:${net.hostIp}`,
      PING_COUNT: 2,
      PING_INTERVAL_S: '0.2',
      PING_TIMEOUT_S: 1,
      CYCLE_S: 1,
      BACKOFF_BASE_S: 1,
      BACKOFF_MAX_S: 2,
      AUTH_RETRY_MIN_S: 1,
      AUTH_RETRY_MAX_S: 2,
      ...over,
    });

  async function expectExactlyOnce(school: string, agent: string, collected: number): Promise<void> {
    const expected = Array.from({ length: collected }, (_, i) => i + 1);
    expect(await seqsInInflux(influx, school, agent), `${school}/${agent}: sequences in InfluxDB`).to.deep.equal(expected);
    expect(await countPoints(influx, 'ping', school, agent), 'two ping points per report, none doubled').to.equal(collected * 2);
  }

  it('enroll with a code (0600 credential, collector-assigned agent id), deliver, take a rotated token from an ack and keep delivering after the old one died: every report once', async () => {
    const school = SCHOOLS[3] as string;
    const issued = await runCli('collector', ['enroll', 'issue', '--school', school], cliEnv());
    expect(issued.code, issued.stderr).to.equal(0);
    const code = issued.stdout.trim().split('\n').pop() as string;
    const dir = tempDir('enroll');
    const c = conf(dir, { ENROLL_CODE: code });
    const e = await runTiny(net, bin, 'enroll', c);
    expect(e.code, e.output).to.equal(0);
    const agent = /enrolled as agent (ag-[0-9a-f]{10}) of school (\d{10})/.exec(e.output);
    expect(agent?.[2]).to.equal(school);
    const credFile = join(dir, 'state', 'credential');
    expect(statSync(credFile).mode & 0o777).to.equal(0o600);
    const token = () => /^token=(.*)$/m.exec(readFileSync(credFile, 'utf8'))?.[1];
    const first = token();

    const run = startTiny(net, bin, 'run', c);
    try {
      await until(async () => (await seqsInInflux(influx, school, agent?.[1] as string)).length >= 2, 30_000, 'reports in InfluxDB');
      const r = await runCli('collector', ['token', 'rotate', '--all'], cliEnv());
      expect(r.code, r.stderr).to.equal(0);
      await until(() => token() !== first, 20_000, 'the agent to store its rotated token');
      // Past the old token's grace period, still delivering.
      const before = (await seqsInInflux(influx, school, agent?.[1] as string)).length;
      await new Promise((res) => setTimeout(res, 3000));
      await until(async () => (await seqsInInflux(influx, school, agent?.[1] as string)).length >= before + 2, 20_000, 'reports under the new token');
      expect(run.output()).to.match(/token rotated/);
    } finally {
      run.kill('SIGTERM');
      await new Promise((res) => run.once('exit', res));
    }
    const last = await runTiny(net, bin, 'once', c);
    expect(last.code, last.output).to.equal(0);
    expect(spooled(join(dir, 'state'))).to.deep.equal([]);
    await expectExactlyOnce(school, agent?.[1] as string, lastSeq(join(dir, 'state')));
    const old = await fetch(`${url}/api/v1/reports`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${first}` }, body: '{"reports":[]}' });
    expect(old.status, 'the old token after the grace period').to.equal(401);
  });

  it('a collector outage and two kill -9 of the agent (one while the backlog drains): every report arrives exactly once; during the outage a cycle writes one spool file and nothing else', async () => {
    const school = SCHOOLS[4] as string;
    const dir = tempDir('outage');
    const state = join(dir, 'state');
    const c = conf(dir, { SCHOOL: school, AGENT_ID: 'OpenWrt', TOKEN: collector.token(school), BATCH_REPORTS: 2, MAX_BATCHES_PER_ROUND: 1 });
    let run = startTiny(net, bin, 'run', c);
    try {
      await until(async () => (await seqsInInflux(influx, school, 'OpenWrt')).length >= 2, 30_000, 'reports in InfluxDB');
      await collector.kill();
      await until(() => spooled(state).length >= 2, 20_000, 'reports spooled during the outage');
      const since = Date.now();
      const held = spooled(state).length;
      await until(() => spooled(state).length >= held + 3, 20_000, 'three more cycles during the outage');
      const changed = changedSince(state, since);
      expect(changed.every((f) => /^spool\/\d+$/.test(f)), `files written during the outage: ${changed.join(', ')}`).to.equal(true);
      expect(changed.length).to.be.at.most(2);
      await kill9(run);
      run = startTiny(net, bin, 'run', c);
      await until(() => spooled(state).length >= held + 5, 20_000, 'the restarted agent collecting');
      await collector.start();
      // The backlog drains 2 reports a cycle: kill the agent while it does.
      await until(async () => (await seqsInInflux(influx, school, 'OpenWrt')).length >= 4, 30_000, 'the backlog draining');
      await kill9(run);
      // Restarted with the default batches (30 reports, 20 a cycle): the rest drains at once.
      const fast = conf(tempDir('outage-conf'), { SCHOOL: school, AGENT_ID: 'OpenWrt', TOKEN: collector.token(school), STATE_DIR: state, RUN_DIR: join(dir, 'run') });
      run = startTiny(net, bin, 'run', fast);
      await until(() => spooled(state).length <= 1, 60_000, 'the backlog delivered');
    } finally {
      run.kill('SIGTERM');
      await new Promise((res) => run.once('exit', res));
    }
    const last = await runTiny(net, bin, 'once', c);
    expect(last.code, last.output).to.equal(0);
    expect(spooled(state)).to.deep.equal([]);
    await expectExactlyOnce(school, 'OpenWrt', lastSeq(state));
  });

  it('a cloned state (the flash of a configured router copied to another): the clone finds out from the duplicate answer, starts a new epoch and sends again; both boxes\' reports are kept', async () => {
    const school = SCHOOLS[6] as string;
    const a = tempDir('clone-a');
    const b = tempDir('clone-b');
    const over = { SCHOOL: school, AGENT_ID: 'OpenWrt', TOKEN: collector.token(school) };
    const ca = conf(a, over);
    for (let i = 0; i < 2; i++) expect((await runTiny(net, bin, 'once', ca)).code).to.equal(0);
    cpSync(join(a, 'state'), join(b, 'state'), { recursive: true });
    const cb = conf(b, over);
    const epoch = readFileSync(join(a, 'state', 'epoch'), 'utf8').trim();
    expect((await runTiny(net, bin, 'once', ca)).code).to.equal(0);
    const rb = await runTiny(net, bin, 'once', cb);
    expect(rb.code, rb.output).to.equal(0);
    expect(rb.output).to.match(/AGT_ERR_STATE_CLONED the collector already held reports 3 of epoch [0-9a-f]{16}/);
    expect(readFileSync(join(b, 'state', 'epoch'), 'utf8').trim()).to.not.equal(epoch);
    expect(readFileSync(join(a, 'state', 'epoch'), 'utf8').trim()).to.equal(epoch);
    expect(spooled(join(b, 'state'))).to.deep.equal([]);
    // Seq 3 twice: once from each box (different collection times), nothing lost.
    expect(await seqsInInflux(influx, school, 'OpenWrt')).to.deep.equal([1, 2, 3, 3]);
    expect((await runTiny(net, bin, 'once', cb)).code).to.equal(0);
    expect(await seqsInInflux(influx, school, 'OpenWrt')).to.deep.equal([1, 2, 3, 3, 4]);
  });

  it('HTTPS with curl (on OpenWrt: opkg install curl) to the collector terminating TLS: the certificate is checked against CA_FILE; with the wrong CA nothing is sent (AGT_ERR_TLS_REFUSED) and the reports are kept', async () => {
    // On loopback (the test certificate names 127.0.0.1), BusyBox plus curl on PATH.
    const certs = makeTestCerts();
    const port = await freePort();
    const tls = new CollectorChild(influx, { CAMPUSLINK_LISTEN: `127.0.0.1:${port}`, CAMPUSLINK_TLS_CERT_FILE: certs.serverCert, CAMPUSLINK_TLS_KEY_FILE: certs.serverKey });
    tls.port = port;
    const withCurl = busyboxPath();
    const curl = spawnSync('sh', ['-c', 'command -v curl'], { encoding: 'utf8' }).stdout.trim();
    expect(curl, 'curl is installed').to.not.equal('');
    symlinkSync(curl, join(withCurl, 'curl'));
    try {
      await tls.start();
      const school = SCHOOLS[8] as string;
      const dir = tempDir('https');
      const over = (ca: string) => ({ COLLECTOR_URL: `https://127.0.0.1:${port}`, CA_FILE: ca, SCHOOL: school, AGENT_ID: 'gw-tiny', TOKEN: tls.token(school), PING_TARGETS: 'gateway:127.0.0.1' });
      const once = (c: string) => spawnSync(`${withCurl}/env`, ['-i', `PATH=${withCurl}`, `${withCurl}/sh`, TINY, 'once', '-c', c], { encoding: 'utf8', timeout: 60_000 });
      const wrong = once(conf(dir, over(certs.otherCaCert)));
      expect(wrong.status, wrong.stderr).to.equal(0);
      expect(wrong.stderr).to.match(/AGT_ERR_TLS_REFUSED collector https:\/\/127.0.0.1:\d+: no answer \(curl exit 60/);
      expect(spooled(join(dir, 'state'))).to.deep.equal([1]);
      const right = once(conf(dir, over(certs.caCert)));
      expect(right.status, right.stderr).to.equal(0);
      expect(spooled(join(dir, 'state'))).to.deep.equal([]);
      expect(await seqsInInflux(influx, school, 'gw-tiny')).to.deep.equal([1, 2]);
    } finally {
      await tls.stop();
      certs.remove();
      rmSync(withCurl, { recursive: true, force: true });
    }
  });

  it('a report the real collector refuses (400: a modem value that is not finite) is dropped and counted alone; the reports around it are delivered', async () => {
    let bad = false;
    const modem = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(bad ? '{"snr_db":1e999,"locked":1}' : '{"snr_db":12.5,"locked":1}'));
    await new Promise<void>((r) => modem.listen(0, net.hostIp, () => r()));
    try {
      const school = SCHOOLS[5] as string;
      const dir = tempDir('refused');
      const c = conf(dir, { SCHOOL: school, AGENT_ID: 'gw-tiny', TOKEN: collector.token(school), MODEM_URL: `http://${net.hostIp}:${(modem.address() as AddressInfo).port}/status.json` });
      for (const b of [false, true, false]) {
        bad = b;
        const r = await runTiny(net, bin, 'once', c);
        expect(r.code, r.output).to.equal(0);
        if (b) expect(r.output).to.match(/AGT_ERR_REPORT_REJECTED report 2 refused: 400 COL_ERR_INVALID_PAYLOAD/);
      }
      expect(await seqsInInflux(influx, school, 'gw-tiny')).to.deep.equal([1, 3]);
      const rows = await influx.query(`SELECT "dropped_reports" FROM "agent" WHERE "school" = '${school}'`);
      expect(rows.map((r) => Number(r.dropped_reports))).to.deep.equal([0, 1]);
      const snr = await influx.query(`SELECT "snr_db" FROM "modem" WHERE "school" = '${school}'`);
      expect(snr.map((r) => Number(r.snr_db))).to.deep.equal([12.5, 12.5]);
    } finally {
      await new Promise((r) => modem.close(r));
    }
  });
});
