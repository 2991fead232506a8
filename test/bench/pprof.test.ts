import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { byPart, readGoProfile, topFunctions } from '../../bench/fleet/pprof.js';
import { startInfluxd, type InfluxdHandle } from '../../collector/sink/influxd.js';

describe('bench/fleet/pprof', function () {
  let dir: string;
  let h: InfluxdHandle;
  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'campuslink-pprof-test-'));
    h = await startInfluxd({ dataDir: dir, settings: { 'http.pprof-enabled': 'true' } });
  });
  after(async function () {
    await h.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("readGoProfile() decodes the real influxd's CPU profile taken while it parses writes: influxd's own functions, CPU in nanoseconds", async function () {
    await fetch(`${h.url}/query?q=CREATE+DATABASE+p`, { method: 'POST' });
    const profile = fetch(`${h.url}/debug/pprof/profile?seconds=2`).then(async (r) => new Uint8Array(await r.arrayBuffer()));
    const lines = Array.from({ length: 5000 }, (_, i) => `m,school=S${i} a=${i},b=${i * 2} 1700000000000`).join('\n');
    const until = Date.now() + 2500;
    while (Date.now() < until) await fetch(`${h.url}/write?db=p&precision=ms`, { method: 'POST', body: lines });
    const p = readGoProfile(await profile);
    expect(p.durationNs).to.be.within(1.5e9, 5e9);
    expect(p.samples.length).to.be.above(0);
    const cpuNs = p.samples.reduce((a, s) => a + s.cpuNs, 0);
    // Go samples at 100 Hz and merges equal stacks: each sample is a whole number of 10 ms ticks.
    expect(p.samples.filter((s) => !(s.cpuNs > 0 && s.cpuNs % 1e7 === 0)).map((s) => s.cpuNs)).to.deep.equal([]);
    expect(cpuNs).to.be.above(0);
    const names = new Set(p.samples.flatMap((s) => s.stack));
    expect([...names].some((n) => /influxdb\/models\.|influxdb\/tsdb/.test(n)), [...names].slice(0, 20).join(', ')).to.equal(true);
    const parts = byPart(p);
    expect(parts.reduce((a, [, f]) => a + f, 0)).to.be.closeTo(1, 1e-9);
    expect(topFunctions(p, 5)[0]).to.match(/^\d+\.\d s CPU in \d+\.\d s/);
  });
});
