/**
 * The county proxy end to end: a real collector (child process) and influxd. The proxy enrolls with a
 * `--proxy` code scoped to county 632722, watches two schools of it and one outside it; reports arrive
 * exactly once per school across a collector outage (SIGKILL, restart), and the school outside the
 * scope is refused (COL_ERR_PROXY_SCOPE) without holding up the others; its reports stay spooled.
 */
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { expect } from 'chai';
import { pino } from 'pino';
import { loadProxyConfig } from '../../../agent/config.js';
import { ProxyRuntime } from '../../../agent/proxy/runtime.js';
import type { BatchSender } from '../../../agent/transport/pool.js';
import { runCli } from '../../helpers/cli.js';
import { startTestInfluxd, type TestInfluxd } from '../../helpers/influxd.js';
import { CollectorChild, REGISTRY, countPoints, seqsInInflux, tempDir, until } from '../../fault/harness.js';

const log = pino({ level: process.env.PROXY_LOG ?? 'silent' });
const IN = ['1632722001', '1632722101'] as const;
const OUT = '1640104001';

describe('integration: county proxy (enrollment, one batch per school, exactly once across an outage, scope)', function () {
  this.timeout(120_000);
  let influx: TestInfluxd;
  let collector: CollectorChild;

  before(async () => {
    influx = await startTestInfluxd();
    collector = new CollectorChild(influx);
    await collector.start();
  });
  after(async () => {
    await collector?.stop();
    await influx?.cleanup();
  });

  it('delivers every school report exactly once across a collector kill; the out-of-scope school is refused alone and kept', async () => {
    const issued = await runCli('collector', ['enroll', 'issue', '--proxy', 'county', '--region', '632722'], { CAMPUSLINK_STATE_DIR: collector.stateDir, CAMPUSLINK_REGISTRY: REGISTRY, CAMPUSLINK_LOG_LEVEL: 'warn' });
    expect(issued.code, issued.stderr).to.equal(0);
    const code = issued.stdout.trim().split('\n').pop() as string;
    const dir = tempDir('proxy-e2e');
    writeFileSync(join(dir, 'gateways.csv'), `school_id,gateway,snmp\n${IN[0]},127.0.6.1,-\n${IN[1]},127.0.6.2,-\n${OUT},127.0.6.3,-\n`);
    const yaml = join(dir, 'proxy.yaml');
    writeFileSync(
      yaml,
      [
        'mode: proxy',
        `enrollCode: ${code}`,
        `collector: { url: "${collector.url}", timeoutMs: 5000, backoffBaseMs: 100, backoffMaxMs: 400 }`,
        `stateDir: "${join(dir, 'state')}"`,
        `spool: { dir: "${join(dir, 'spool')}" }`,
        'auth: { retryMinMs: 60000, retryMaxMs: 60000 }',
        'logLevel: silent',
        'proxy:',
        `  registry: "${REGISTRY}"`,
        `  schools: ["${IN[0]}", "${IN[1]}", "${OUT}"]`,
        `  gatewaysFile: "${join(dir, 'gateways.csv')}"`,
        '  ping: { count: 2, intervalMs: 200, timeoutMs: 300 }',
        '  schoolDeadlineMs: 2000',
      ].join('\n') + '\n',
    );
    const rt = new ProxyRuntime({ config: loadProxyConfig(yaml, {}), log, cycleEveryMs: 800 });
    const handle = rt.run();
    const agent = () => rt.identity.current().agent;
    try {
      await until(async () => (await seqsInInflux(influx, IN[1], agent())).length >= 2, 30_000, 'two reports of each school held');
      expect(agent()).to.equal('proxy-county');
      await collector.kill();
      const before = rt.spool.lastSeq(IN[0]);
      await until(() => rt.spool.lastSeq(IN[0]) >= before + 3, 30_000, 'three cycles during the outage');
      await collector.start();
      await until(() => IN.every((s) => rt.spool.stats(s).reports === 0) && rt.spool.lastSeq(IN[0]) >= before + 5, 40_000, 'the backlog delivered');
    } finally {
      await handle.stop();
      await rt.close();
    }
    for (const s of IN) {
      // Reports collected after the last upload round are still spooled: they go with the next start.
      const held = rt.spool.lastSeq(s) - rt.spool.stats(s).reports;
      const seqs = await seqsInInflux(influx, s, agent());
      expect(seqs, `${s}: sequences in InfluxDB`).to.deep.equal(Array.from({ length: held }, (_, i) => i + 1));
      expect(await countPoints(influx, 'ping', s, agent()), `${s}: one gateway ping point per report`).to.equal(held);
    }
    expect(await seqsInInflux(influx, OUT, agent())).to.deep.equal([]);
    expect(rt.spool.stats(OUT).reports, 'the refused school keeps its reports').to.equal(rt.spool.lastSeq(OUT));
  });

  it("uploads 16 school batches at once under one proxy token and the collector refuses none (the proxy token's in-flight share)", async () => {
    const issued = await runCli('collector', ['enroll', 'issue', '--proxy', 'ningxia', '--region', '640000'], { CAMPUSLINK_STATE_DIR: collector.stateDir, CAMPUSLINK_REGISTRY: REGISTRY, CAMPUSLINK_LOG_LEVEL: 'warn' });
    expect(issued.code, issued.stderr).to.equal(0);
    const code = issued.stdout.trim().split('\n').pop() as string;
    const schools = readFileSync(REGISTRY, 'utf8').split('\n').slice(1).map((l) => l.split(',')).filter((f) => f[3] === '640000').map((f) => f[0] as string);
    expect(schools.length).to.be.above(16);
    const dir = tempDir('proxy-share');
    writeFileSync(join(dir, 'gateways.csv'), `school_id,gateway,snmp\n${schools.map((s, k) => `${s},127.0.7.${k + 1},-`).join('\n')}\n`);
    const yaml = join(dir, 'proxy.yaml');
    writeFileSync(
      yaml,
      [
        'mode: proxy',
        `enrollCode: ${code}`,
        `collector: { url: "${collector.url}", timeoutMs: 10000 }`,
        `stateDir: "${join(dir, 'state')}"`,
        `spool: { dir: "${join(dir, 'spool')}" }`,
        'logLevel: silent',
        'proxy:',
        `  registry: "${REGISTRY}"`,
        '  region: "640000"',
        `  gatewaysFile: "${join(dir, 'gateways.csv')}"`,
        '  ping: { count: 2, intervalMs: 200, timeoutMs: 300 }',
        '  schoolDeadlineMs: 2000',
      ].join('\n') + '\n',
    );
    const rt = new ProxyRuntime({ config: loadProxyConfig(yaml, {}), log });
    try {
      await rt.cycle();
      const first = await rt.flush();
      expect(first, 'enrollment and the first round').to.deep.include({ acked: schools.length, deferred: 0 });
      // Count the uploads in flight at once on the proxy's side of the shared session.
      const pool = (rt as unknown as { sender: BatchSender }).sender;
      const send = pool.send.bind(pool);
      let inFlight = 0;
      let most = 0;
      pool.send = async (...args) => {
        most = Math.max(most, ++inFlight);
        try {
          return await send(...args);
        } finally {
          inFlight--;
        }
      };
      await rt.cycle();
      const second = await rt.flush();
      expect(second.stoppedBy, 'no 429 stopped the round').to.equal(undefined);
      expect(second).to.deep.include({ acked: schools.length, deferred: 0 });
      expect(most).to.equal(16);
    } finally {
      await rt.close();
    }
    const agent = rt.identity.current().agent;
    for (const s of schools.slice(0, 3)) expect(await seqsInInflux(influx, s, agent), s).to.deep.equal([1, 2]);
  });
});
