import { expect } from 'chai';
import { loadProxyConfig } from '../../../agent/config.js';
import { cyclesPerHour, PROXY_REPORT_BYTES, proxyHeapBytes, proxyHeapProblem, proxySpoolSizing } from '../../../agent/proxy/sizing.js';
import { ConfigError } from '../../../protocol/config.js';
import { runCli } from '../../helpers/cli.js';
import { REGISTRY_HEADER, registryRow, tmpFiles } from './fixtures.js';

const GIB = 1024 ** 3;
const county = (n: number) => [REGISTRY_HEADER, ...Array.from({ length: n }, (_, k) => registryRow(`1640104${String(k).padStart(3, '0')}`, { gateway: `127.${1 + (k >> 8)}.${k & 255}.1` }))].join('\n') + '\n';

describe('agent/proxy/sizing', () => {
  it('cyclesPerHour() counts the rate of the schedule: 60 a minute, 360 every 10 s, 25 for every minute of 8-17 h (600 a day)', () => {
    expect(cyclesPerHour('* * * * *')).to.equal(60);
    expect(cyclesPerHour('*/10 * * * * *')).to.equal(360);
    expect(cyclesPerHour('* 8-17 * * *')).to.equal(25);
    expect(cyclesPerHour('0 0 L * *')).to.equal(undefined);
  });

  it('cyclesPerHour() averages a week: a school-days schedule loaded on a Saturday is not 0, and its spool is not refused', () => {
    const saturday = new Date(2026, 11, 5, 10, 0).getTime();
    // Every 5 minutes, 7:00-17:55, Monday to Friday: 132 a day, 660 a week.
    expect(cyclesPerHour('*/5 7-17 * * 1-5', saturday)).to.be.closeTo(660 / 168, 1e-9);
    expect(cyclesPerHour('* * * * * *', saturday)).to.equal(3600);
    const s = proxySpoolSizing({ schools: 2000, dir: '/x', minFreeBytes: 0, schedule: '*/5 7-17 * * 1-5', freeBytes: 200 * GIB, now: saturday });
    expect(s.problem).to.equal(undefined);
    expect(s.maxSpoolBytes).to.be.greaterThan(s.cycleBytes);
    expect(s.hours).to.be.closeTo(24, 1e-6);
  });

  it('proxySpoolSizing() defaults to 24 hours of all schools, capped by half the free disk, and says how many hours it holds', () => {
    const day = 2000 * PROXY_REPORT_BYTES * 60 * 24;
    const roomy = proxySpoolSizing({ schools: 2000, dir: '/x', minFreeBytes: 0, schedule: '* * * * *', freeBytes: 200 * GIB });
    expect(roomy).to.deep.include({ maxSpoolBytes: day, defaulted: true, hours: 24 });
    expect(roomy.problem).to.equal(undefined);
    const tight = proxySpoolSizing({ schools: 2000, dir: '/x', minFreeBytes: 1 * GIB, schedule: '* * * * *', freeBytes: 5 * GIB });
    expect(tight.maxSpoolBytes).to.equal(2 * GIB);
    expect(tight.hours).to.be.closeTo((2 * GIB) / (2000 * PROXY_REPORT_BYTES * 60), 1e-9);
    // Free space unreadable: the 24 hours wanted.
    expect(proxySpoolSizing({ schools: 10, dir: '/x', minFreeBytes: 0, schedule: '* * * * *', freeBytes: undefined }).maxSpoolBytes).to.equal(10 * PROXY_REPORT_BYTES * 60 * 24);
    // Configured: taken as it is (the full agent's 64 MiB holds about 4 minutes of 2,000 schools).
    const shared = proxySpoolSizing({ schools: 2000, maxSpoolBytes: 64 * 1024 * 1024, dir: '/x', minFreeBytes: 0, schedule: '* * * * *', freeBytes: 200 * GIB });
    expect(shared).to.include({ maxSpoolBytes: 64 * 1024 * 1024, defaulted: false });
    expect((shared.hours as number) * 60).to.be.within(2, 3);
  });

  it('proxySpoolSizing() holds the default to what its index leaves of the heap: 2,000 schools under the unit\'s 512 MB hold ~19 hours', () => {
    const MIB = 1024 * 1024;
    const s = proxySpoolSizing({ schools: 2000, dir: '/x', minFreeBytes: 0, schedule: '* * * * *', freeBytes: 1024 * GIB, heapLimitBytes: 536 * MIB });
    expect(s.hours).to.be.within(18.5, 19.5);
    expect(proxyHeapProblem(2000, 536 * MIB, s.maxSpoolBytes)).to.equal(undefined);
    // Configured: a day of 2,000 schools is 2.9 million reports indexed, too much for that heap.
    const day = 2000 * PROXY_REPORT_BYTES * 60 * 24;
    expect(proxyHeapProblem(2000, 536 * MIB, day)).to.match(/too small for 2000 schools and a spool of 39375\.0 MiB: .* each of the spool's ~2880000 reports/).and.include('or lower spool.maxSpoolBytes');
  });

  it('proxySpoolSizing() names a limit below one cycle of all schools as a problem, configured or from a full disk', () => {
    const cycle = 2000 * PROXY_REPORT_BYTES;
    expect(proxySpoolSizing({ schools: 2000, maxSpoolBytes: cycle, dir: '/x', minFreeBytes: 0, schedule: '* * * * *', freeBytes: GIB }).problem).to.equal(undefined);
    expect(proxySpoolSizing({ schools: 2000, maxSpoolBytes: cycle - 1, dir: '/x', minFreeBytes: 0, schedule: '* * * * *', freeBytes: GIB }).problem).to.match(/^spool\.maxSpoolBytes 28671999 .*holds less than one cycle of the 2000 schools/);
    expect(proxySpoolSizing({ schools: 2000, dir: '/var/spool', minFreeBytes: 0, schedule: '* * * * *', freeBytes: 20 * 1024 * 1024 }).problem).to.match(/^the default \(10\.0 MiB: at most half the free space of \/var\/spool's filesystem .*holds less than one cycle/);
  });

  it('a proxy config whose spool holds less than one cycle is refused with the registry\'s problems; the default is sized by the schools', () => {
    const f = tmpFiles({ 'registry.csv': county(300), 'bad.csv': county(300) + registryRow('1640104999') + '\n' });
    const env = { CAMPUSLINK_MODE: 'proxy', CAMPUSLINK_PROXY_REGISTRY: f.path('registry.csv'), CAMPUSLINK_PROXY_REGION: '640104', CAMPUSLINK_PROXY_GATEWAY_COLUMN: 'x_gateway', CAMPUSLINK_SPOOL_DIR: f.path('spool') };
    let text = '';
    try {
      loadProxyConfig(undefined, { ...env, CAMPUSLINK_SPOOL_MAX_SPOOL_BYTES: String(64 * 1024 * 4), CAMPUSLINK_PROXY_REGISTRY: f.path('bad.csv') });
    } catch (e) {
      expect(e).to.be.instanceOf(ConfigError);
      text = (e as ConfigError).message;
    }
    expect(text).to.match(/spool\.maxSpoolBytes: .*spool\.maxSpoolBytes 262144 .*less than one cycle of the 300 schools/).and.match(/school 1640104999 .* has no gateway address/);
    const c = loadProxyConfig(undefined, env);
    expect(c.spool.maxSpoolBytes).to.be.at.least(300 * PROXY_REPORT_BYTES).and.at.most(300 * PROXY_REPORT_BYTES * 60 * 24);
    expect(c.spoolSizing.defaulted).to.equal(true);
  });

  it('proxyHeapProblem() refuses a heap below what the schools need, naming the flag, the unit line and the value', () => {
    expect(proxyHeapProblem(2000, 512 * 1024 * 1024)).to.equal(undefined);
    expect(proxyHeapBytes(6000, 0)).to.be.below(512 * 1024 * 1024);
    const msg = proxyHeapProblem(10_000, 536 * 1024 * 1024);
    expect(msg).to.match(/heap limit \(536 MiB\) is too small for 10000 schools: they need about 797 MiB/).and.include('--max-old-space-size=896').and.include('ExecStart=').and.include('MemoryMax= to at least 1152M');
  });

  it('campuslink-agent once under a heap too small for the schools exits 2 naming --max-old-space-size', async function () {
    this.timeout(60_000);
    const f = tmpFiles({ 'registry.csv': county(1000), 'proxy.yaml': 'mode: proxy\nstateDir: SD/state\nspool: { dir: SD/spool }\nproxy:\n  registry: SD/registry.csv\n  region: "640104"\n  gatewayColumn: x_gateway\n' });
    const { readFileSync, writeFileSync, existsSync } = await import('node:fs');
    writeFileSync(f.path('proxy.yaml'), readFileSync(f.path('proxy.yaml'), 'utf8').replaceAll('SD', f.dir));
    const r = await runCli('agent', ['once', '-c', f.path('proxy.yaml')], { NODE_OPTIONS: '--max-old-space-size=64' });
    expect(r.stderr).to.include('AGT_ERR_CONFIG_INVALID').and.match(/proxy\.schools: the V8 heap limit \(\d+ MiB\) is too small for 1000 schools/).and.include('--max-old-space-size=256');
    expect(r.code).to.equal(2);
    expect(existsSync(f.path('spool'))).to.equal(false);
  });
});
