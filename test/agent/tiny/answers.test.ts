/**
 * The tiny agent under Debian's BusyBox (sh, ping, nc, wget, gzip, awk: nothing else on PATH) in a network
 * namespace, against a scripted collector on the host side: its reports are protocol v1, each collector answer
 * is handled as the full agent handles it (agent/transport/policy.ts, protocol/errors.ts agentActionFor),
 * and interface rates are right across a /proc/net/dev counter wrap.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { reportSchema, toIssues } from '../../../protocol/index.js';
import { busyboxPath, makeNet, ok, refuse, runTiny, scriptedCollector, spooled, startTiny, tempDir, until, writeConf, kill9, type Got, type TinyNet } from './tiny-env.js';

const SCHOOL = '1640104001';

/** Reports of the batches the collector got, in order. */
const reportsOf = (got: Got[]) => got.filter((g) => g.path === '/api/v1/reports').flatMap((g) => g.body.reports as any[]);
const seqsOf = (g: Got) => (g.body.reports as { seq: number }[]).map((r) => r.seq);

describe('agent/tiny: answers, schema and counters under BusyBox in a network namespace', function () {
  this.timeout(120_000);
  let net: TinyNet;
  let bin: string;
  let server: Awaited<ReturnType<typeof scriptedCollector>>;
  let dir: string;

  before(() => {
    net = makeNet(1);
    bin = busyboxPath();
  });
  after(() => {
    net?.close();
    rmSync(bin, { recursive: true, force: true });
  });
  beforeEach(async () => {
    server = await scriptedCollector(net.hostIp);
    dir = tempDir('answers');
  });
  afterEach(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const conf = (over: Record<string, string | number> = {}) =>
    writeConf(dir, {
      COLLECTOR_URL: server.url,
      SCHOOL,
      AGENT_ID: 'gw-tiny',
      TOKEN: 't-tiny',
      STATE_DIR: join(dir, 'state'),
      RUN_DIR: join(dir, 'run'),
      PING_TARGETS: `gateway:${net.hostIp} internet:no-such-host.invalid`,
      PING_COUNT: 3,
      PING_INTERVAL_S: '0.2',
      PING_TIMEOUT_S: 1,
      CYCLE_S: 1,
      BACKOFF_BASE_S: 1,
      BACKOFF_MAX_S: 1,
      AUTH_RETRY_MIN_S: 1,
      AUTH_RETRY_MAX_S: 4,
      WAN_IFACES: net.ns.replace('clt-tiny-', 'ctn') + 'b',
      ...over,
    });
  const once = async (c: string) => {
    const r = await runTiny(net, bin, 'once', c);
    expect(r.code, r.output).to.equal(0);
    return r.output;
  };

  it('once: a gzip JSON batch of one protocol-v1 report (agentKind tiny) with ping per role, iface, sys and agent, that the schema accepts', async () => {
    const c = conf();
    await once(c);
    expect(server.got).to.have.length(1);
    const g = server.got[0] as Got;
    expect(g.headers['content-encoding']).to.equal('gzip');
    expect(g.headers['content-type']).to.equal('application/json');
    expect(g.headers.authorization).to.equal('Bearer t-tiny');
    const [r] = g.body.reports;
    expect(r).to.include({ v: 1, school: SCHOOL, agent: 'gw-tiny', seq: 1, agentKind: 'tiny' });
    expect(r.epoch).to.match(/^[0-9a-f]{16}$/);
    expect(r.sentAt).to.be.at.least(r.collectedAt);
    const parsed = reportSchema.safeParse(r);
    expect(parsed.success ? [] : toIssues(parsed.error)).to.deep.equal([]);
    const byName = (n: string) => r.measurements.filter((m: { name: string }) => m.name === n);
    const [gw, inet] = byName('ping');
    expect(gw).to.deep.include({ tags: { target: net.hostIp, role: 'gateway' } });
    expect(gw.fields).to.include({ sent: 3, received: 3, loss_pct: 0, result_code: 0 });
    expect(gw.fields.rtt_avg_ms).to.be.above(0);
    expect(inet.fields).to.deep.equal({ loss_pct: 100, sent: 3, received: 0, result_code: 1 });
    const wan = byName('iface').find((m: { tags: { role: string } }) => m.tags.role === 'wan');
    expect(wan, JSON.stringify(byName('iface'))).to.not.equal(undefined);
    expect(wan.fields.oper_up).to.equal(1);
    expect(byName('sys')[0].fields.uptime_s).to.be.above(0);
    expect(byName('agent')[0].fields).to.include({ spool_reports: 0, dropped_reports: 0 });
    // Acknowledged: the spool is empty, and the next report is seq 2.
    expect(spooled(join(dir, 'state'))).to.deep.equal([]);
    await once(c);
    expect(seqsOf(server.got[1] as Got)).to.deep.equal([2]);
  });

  it('millisecond time from adjtimex where date has no %N: tv_usec in microseconds, and in nanoseconds when the kernel status has STA_NANO', async () => {
    // The same instant, as adjtimex prints it without and with STA_NANO (status 8192 + 64 UNSYNC).
    const outputs = [
      { status: 64, usec: '146501' },
      { status: 8256, usec: '146501191' },
    ];
    for (const o of outputs) {
      const fake = busyboxPath();
      try {
        for (const f of ['adjtimex', 'date']) rmSync(join(fake, f));
        writeFileSync(join(fake, 'adjtimex'), `#!${fake}/sh\nprintf '    status:       ${o.status} (UNSYNC)\\n    time.tv_sec:  1796281242\\n    time.tv_usec: ${o.usec}\\n'\n`, { mode: 0o755 });
        // A date without %N, as Debian's BusyBox 1.35 (it prints the letters).
        writeFileSync(join(fake, 'date'), `#!${fake}/sh\ncase "$*" in *%N*) echo "$(busybox date +%s)%N" ;; *) exec busybox date "$@" ;; esac\n`, { mode: 0o755 });
        server.got.length = 0;
        const r = await runTiny(net, fake, 'once', conf());
        expect(r.code, r.output).to.equal(0);
        const [rep] = (server.got[0] as Got).body.reports;
        expect({ status: o.status, collectedAt: rep.collectedAt, sentAt: rep.sentAt }).to.deep.equal({ status: o.status, collectedAt: 1796281242146, sentAt: 1796281242146 });
        rmSync(dir, { recursive: true, force: true });
        dir = tempDir('answers');
      } finally {
        rmSync(fake, { recursive: true, force: true });
      }
    }
  });

  it('400 for a batch: sent again report by report; the refused report is dropped and counted (agent.dropped_reports), the others are delivered', async () => {
    const c = conf();
    server.script.push(refuse(503, 'COL_ERR_INFLUX_UNAVAILABLE', { 'retry-after': '0' }), refuse(503, 'COL_ERR_INFLUX_UNAVAILABLE', { 'retry-after': '0' }));
    await once(c);
    await once(c);
    expect(spooled(join(dir, 'state')), '503: both reports kept').to.deep.equal([1, 2]);
    server.script.push(refuse(400, 'COL_ERR_INVALID_PAYLOAD'), ok(), refuse(400, 'COL_ERR_INVALID_PAYLOAD'), ok());
    const out = await once(c);
    expect(server.got.slice(2).map(seqsOf)).to.deep.equal([[1, 2, 3], [1], [2], [3]]);
    expect(out).to.match(/AGT_ERR_REPORT_REJECTED report 2 refused: 400 COL_ERR_INVALID_PAYLOAD/);
    expect(spooled(join(dir, 'state'))).to.deep.equal([]);
    await once(c);
    const last = server.got.at(-1) as Got;
    expect(seqsOf(last)).to.deep.equal([4]);
    expect(last.body.reports[0].measurements.find((m: { name: string }) => m.name === 'agent').fields.dropped_reports).to.equal(1);
  });

  it('413 for a single report: dropped and counted, as 400', async () => {
    const c = conf();
    server.script.push(refuse(413, 'COL_ERR_PAYLOAD_TOO_LARGE'));
    await once(c);
    expect(spooled(join(dir, 'state'))).to.deep.equal([]);
    await once(c);
    const agent = (server.got[1] as Got).body.reports[0].measurements.find((m: { name: string }) => m.name === 'agent');
    expect(agent.fields.dropped_reports).to.equal(1);
  });

  it('401 then 403: sending pauses AUTH_RETRY_MIN_S doubling to AUTH_RETRY_MAX_S, the spool is kept, and it tries again by itself: every report delivered once', async () => {
    const c = conf();
    server.script.push(refuse(401, 'COL_ERR_UNAUTHORIZED'), refuse(403, 'COL_ERR_WRONG_SCHOOL'), refuse(401, 'COL_ERR_UNAUTHORIZED'));
    const agent = startTiny(net, bin, 'run', c);
    try {
      await until(() => server.got.length >= 5, 40_000, 'three refusals and two deliveries');
      const gaps = server.got.slice(1, 4).map((g, i) => g.atMs - (server.got[i] as Got).atMs);
      // 1 s, 2 s, 4 s: never sooner; later by up to a cycle (each try waits for the cycle after the pause, and
      // a cycle on a loaded box takes more than its 1 s).
      expect(gaps[0]).to.be.within(900, 4000);
      expect(gaps[1]).to.be.within(1900, 5000);
      expect(gaps[2]).to.be.within(3900, 7000);
      expect(agent.output()).to.match(/AGT_ERR_AUTH_REJECTED collector answered 401 COL_ERR_UNAUTHORIZED/);
    } finally {
      await kill9(agent);
    }
    const delivered = server.got.slice(3).flatMap(seqsOf);
    expect(delivered.slice(0, delivered[delivered.length - 1]), 'every report once, in order').to.deep.equal(Array.from({ length: delivered.at(-1) as number }, (_, i) => i + 1));
  });

  for (const client of ['nc', 'wget'] as const) {
    it(`429 and 503 (${client}): reports kept, next try not before Retry-After${client === 'wget' ? ' (BusyBox wget cannot read it: the backoff applies)' : ''}, then all delivered`, async () => {
      const c = conf({ HTTP_CLIENT: client, BACKOFF_BASE_S: 1, BACKOFF_MAX_S: 1 });
      server.script.push(refuse(429, 'COL_ERR_BUDGET_EXCEEDED', { 'retry-after': '3' }), refuse(503, 'COL_ERR_INFLUX_UNAVAILABLE', { 'retry-after': '3' }));
      const agent = startTiny(net, bin, 'run', c);
      try {
        await until(() => server.got.length >= 3, 30_000, 'two refusals and a delivery');
      } finally {
        await kill9(agent);
      }
      const [a, b, d] = server.got as [Got, Got, Got];
      if (client === 'nc') {
        expect(b.atMs - a.atMs).to.be.at.least(2900);
        expect(d.atMs - b.atMs).to.be.at.least(2900);
      }
      expect(seqsOf(a)).to.deep.equal([1]);
      expect(seqsOf(d).slice(0, 2)).to.deep.equal([1, 2]);
      expect(reportsOf([d]).every((r) => r.agentKind === 'tiny')).to.equal(true);
      expect(d.headers['content-encoding'], 'BusyBox wget posts only up to a NUL byte: plain JSON').to.equal(client === 'wget' ? undefined : 'gzip');
    });
  }

  it('a full spool (SPOOL_MAX_BYTES) loses its oldest segment, counted in agent.dropped_reports and logged AGT_ERR_SPOOL_FULL; the rest is delivered', async () => {
    const c = conf({ SPOOL_MAX_BYTES: 5000, SPOOL_SEGMENT_BYTES: 1500, PING_TARGETS: `gateway:${net.hostIp}`, PING_COUNT: 1 });
    for (let i = 0; i < 8; i++) server.script.push(refuse(503, 'COL_ERR_INFLUX_UNAVAILABLE', { 'retry-after': '0' }));
    let log = '';
    for (let i = 0; i < 8; i++) log += await once(c);
    expect(log).to.match(/AGT_ERR_SPOOL_FULL spool over SPOOL_MAX_BYTES=5000: the oldest \d+ reports dropped and counted/);
    const held = spooled(join(dir, 'state'));
    expect(held.at(-1)).to.equal(8);
    expect(held[0], 'the oldest reports went').to.be.above(1);
    // The 9th cycle delivers (it may lose one more segment first), the 10th reports the final count.
    await once(c);
    await once(c);
    const delivered = server.got.slice(8).flatMap(seqsOf);
    const lost = (delivered[0] as number) - 1;
    expect(delivered).to.deep.equal(Array.from({ length: 10 - lost }, (_, i) => lost + 1 + i));
    const agent = reportsOf(server.got).at(-1).measurements.find((m: { name: string }) => m.name === 'agent');
    expect(agent.fields.dropped_reports, 'every lost report counted').to.equal(lost);
  });

  it('interface rates across a 32-bit counter wrap of /proc/net/dev are right; a 64-bit counter going back and a recreated interface are counter_reset, never a spike', async () => {
    const fx = join(dir, 'fx');
    mkdirSync(join(fx, 'net', 'wan0'), { recursive: true });
    mkdirSync(join(fx, 'net', 'lan0'), { recursive: true });
    const sys = (n: string, idx: number, speed: number) => {
      writeFileSync(join(fx, 'net', n, 'ifindex'), `${idx}\n`);
      writeFileSync(join(fx, 'net', n, 'operstate'), 'up\n');
      writeFileSync(join(fx, 'net', n, 'speed'), `${speed}\n`);
    };
    sys('wan0', 2, 100);
    sys('lan0', 3, 1000);
    const dev = (wanRx: number, wanTx: number, lanRx: number, lanTx: number) =>
      writeFileSync(
        join(fx, 'dev'),
        'Inter-|   Receive                                                |  Transmit\n' +
          ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n' +
          `    lo: 100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n` +
          `  wan0: ${wanRx} 10 4294967290 0 0 0 0 0 ${wanTx} 10 0 0 0 0 0 0\n` +
          `  lan0: ${lanRx} 10 0 0 0 0 0 0 ${lanTx} 10 0 0 0 0 0 0\n`,
      );
    const c = conf({ PROC_NET_DEV: join(fx, 'dev'), SYS_CLASS_NET: join(fx, 'net'), WAN_IFACES: 'wan0', LAN_IFACES: 'lan0', IFACES: 'wan0 lan0' });
    dev(4294967000, 5_000_000_000, 1000, 2000);
    await once(c);
    // wan0: rx wrapped past 2^32 (32-bit kernel counter), tx is 64-bit and grows; its errors wrapped too.
    dev(704, 5_000_100_000, 500, 3000);
    writeFileSync(join(fx, 'dev'), readFileSync(join(fx, 'dev'), 'utf8').replace('10 4294967290 0', '10 5 0'));
    await once(c);
    const [r1, r2] = reportsOf(server.got);
    const dt = (r2.collectedAt - r1.collectedAt) / 1000;
    const iface = (r: any, n: string) => r.measurements.find((m: any) => m.name === 'iface' && m.tags.ifname === n);
    const wan = iface(r2, 'wan0');
    expect(wan.tags).to.deep.equal({ device: 'router', ifname: 'wan0', role: 'wan' });
    expect(wan.fields.in_bps).to.equal(Math.round((1000 * 8) / dt));
    expect(wan.fields.out_bps).to.equal(Math.round((100_000 * 8) / dt));
    expect(wan.fields.in_errors).to.equal(11);
    expect(wan.fields.speed_bps).to.equal(100_000_000);
    expect(wan.fields.counter_reset).to.equal(undefined);
    expect(wan.fields.in_util_pct).to.equal(Math.round(((1000 * 8) / dt / 1e8) * 100 * 100) / 100);
    // lan0: rx went back, and a wrap (2^32 - 500 bytes in dt seconds) is more than line rate: implausible,
    // discarded (as the full agent does), no spike; tx still has its rate.
    const lan = iface(r2, 'lan0');
    expect(lan.tags.role).to.equal('lan');
    expect(lan.fields.in_bps).to.equal(undefined);
    expect(lan.fields.in_util_pct).to.equal(undefined);
    expect(lan.fields.out_bps).to.equal(Math.round((1000 * 8) / dt));
    // A 64-bit counter that goes back, and an interface recreated with a new ifindex.
    dev(800, 4_500_000_000, 600, 4000);
    sys('lan0', 9, 1000);
    await once(c);
    const r3 = reportsOf(server.got)[2];
    expect(iface(r3, 'wan0').fields.counter_reset).to.equal(1);
    expect(iface(r3, 'wan0').fields.out_bps).to.equal(undefined);
    expect(iface(r3, 'wan0').fields.in_bps).to.equal(Math.round((96 * 8) / ((r3.collectedAt - r2.collectedAt) / 1000)));
    expect(iface(r3, 'lan0').fields).to.deep.include({ counter_reset: 1 });
    expect(iface(r3, 'lan0').fields.in_bps).to.equal(undefined);
    for (const r of [r1, r2, r3]) {
      const parsed = reportSchema.safeParse(r);
      expect(parsed.success ? [] : toIssues(parsed.error)).to.deep.equal([]);
    }
  });
});
