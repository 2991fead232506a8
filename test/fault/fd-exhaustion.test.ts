/**
 * Fault: file descriptors filled by idle unauthenticated HTTP/2 connections (on the field this killed the
 * collector: EMFILE in a timer). With the default descriptor reserve the flood meets the connection cap and
 * never reaches EMFILE; with no reserve it runs the process into EMFILE. Either way the collector must not
 * exit, must serve again by itself once the idle sessions time out, and must lose nothing it acknowledged.
 */
import http2 from 'node:http2';
import { expect } from 'chai';
import { startTestInfluxd, type TestInfluxd } from '../helpers/influxd.js';
import { CollectorChild, SCHOOLS, captureOutput, expectExactlyOnce, healthz, openFds, setFdLimit, startAgent, until } from './harness.js';

/** HTTP/2 sessions that connect (preface and SETTINGS) and never send a request. */
function openIdleSessions(url: string, count: number, into: http2.ClientHttp2Session[]): void {
  for (let i = 0; i < count; i++) {
    const s = http2.connect(url);
    s.on('error', () => {});
    into.push(s);
  }
}

async function healthOf(url: string): Promise<any> {
  return (await fetch(`${url}/healthz`)).json();
}

describe('fault: file descriptors exhausted by idle HTTP/2 connections', function () {
  this.timeout(240_000);
  let influx: TestInfluxd;
  const collectors: CollectorChild[] = [];
  const idle: http2.ClientHttp2Session[] = [];
  before(async () => {
    influx = await startTestInfluxd();
  });
  afterEach(async () => {
    for (const s of idle.splice(0)) s.destroy();
    for (const c of collectors.splice(0)) await c.stop();
  });
  after(async () => {
    await influx?.cleanup();
  });

  /** A collector with three agents that have delivered three reports each; returns what the test needs. */
  const scenario = async (env: Record<string, string>, schools: string[]) => {
    const collector = new CollectorChild(influx, { CAMPUSLINK_HTTP_UNAUTHENTICATED_TIMEOUT_MS: '8000', CAMPUSLINK_LOG_LEVEL: 'info', ...env });
    collectors.push(collector);
    await collector.start();
    const child = collector.proc!.child;
    const output = captureOutput(child);
    const agents = schools.map((school) => startAgent({ school, url: collector.url, token: collector.token(school), cycleEveryMs: 300 }));
    const runs = agents.map((a) => a.run());
    await until(() => agents.every((a) => a.spool.lastSeq() >= 3 && a.spool.waiting().length === 0), 30_000, 'three reports delivered by every agent');
    /** Stops the agents once each has delivered `more` further reports, then checks InfluxDB holds every one once. */
    const finish = async (more: number) => {
      const at = agents.map((a) => a.spool.lastSeq());
      await until(() => agents.every((a, i) => a.spool.lastSeq() >= (at[i] as number) + more && a.spool.waiting().length === 0), 60_000, 'the agents delivering again');
      await Promise.all(runs.map((r) => r.stop()));
      for (const a of agents) await a.flush();
      for (const [i, a] of agents.entries()) {
        await expectExactlyOnce(influx, { school: schools[i] as string, agent: 'gw-01', collected: a.spool.lastSeq() });
        a.close();
      }
    };
    return { collector, child, output, agents, finish };
  };

  it('with the default descriptor reserve, the flood meets the connection cap (lowered with prlimit at run time), never EMFILE; connected agents keep delivering', async () => {
    const { collector, child, output, agents, finish } = await scenario({}, SCHOOLS.slice(0, 3));
    const limit = (await openFds(child.pid!)) + 256 + 30;
    await setFdLimit(child.pid!, limit);
    await until(async () => (await healthOf(collector.url)).connections.maxConnections === limit - 256, 30_000, 'the cap to follow the new descriptor limit');
    openIdleSessions(collector.url, 120, idle);
    await until(() => /"code":"COL_ERR_OVERLOADED".*"cap":"maxConnections"/.test(output()), 30_000, 'the collector to log the connection cap');
    // During the flood the agents' own sessions still carry their uploads.
    const during = agents.map((a) => a.spool.lastSeq());
    await until(() => agents.every((a, i) => a.spool.lastSeq() >= (during[i] as number) + 3 && a.spool.waiting().length === 0), 30_000, 'deliveries during the flood');
    expect(output()).to.not.match(/EMFILE|ENFILE/);
    await until(async () => (await healthz(collector.url)) === 200, 60_000, '/healthz once the idle sessions time out');
    await finish(3);
    const health = await healthOf(collector.url);
    expect(health.connections.refused).to.be.greaterThan(0);
    expect(health.connections.resourceErrors).to.deep.equal({});
    expect(child.exitCode).to.equal(null);
  });

  it('with no reserve the flood runs the collector into EMFILE: it stays up, serves again by itself once the idle sessions time out, and every acknowledged report is in InfluxDB once', async () => {
    const { collector, child, output, finish } = await scenario({ CAMPUSLINK_HTTP_RESERVED_FDS: '0' }, SCHOOLS.slice(3, 6));
    await setFdLimit(child.pid!, (await openFds(child.pid!)) + 40);
    openIdleSessions(collector.url, 120, idle);
    // Descriptors are gone once a new connection is no longer answered (libuv accepts and closes it).
    await until(async () => (await healthz(collector.url, 1000)) !== 200, 30_000, 'the collector to run out of descriptors');
    // Out of descriptors for longer than any state timer's period (a heartbeat every 2 s).
    await new Promise((r) => setTimeout(r, 5000));
    expect(child.exitCode, `collector exited while out of descriptors:\n${output().slice(-2000)}`).to.equal(null);
    // No client closes anything: the collector's own unauthenticated-session timeout gives the descriptors back.
    await until(async () => (await healthz(collector.url)) === 200, 60_000, '/healthz to answer again');
    await finish(3);
    expect(child.exitCode).to.equal(null);
  });
});
