import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadRegistry } from '../../../collector/registry/load.js';
import type { Point, Sink } from '../../../collector/sink/sink.js';
import { CoverageModel } from '../../../collector/views/coverage/model.js';
import { LivenessStore } from '../../../collector/views/liveness/store.js';
import { writeSchoolStatus } from '../../../collector/views/school-status.js';
import { T0 } from '../../helpers/reports.js';

const HEAD = 'school_id,school_name,school_type,province_code,province_name,city_code,city_name,county_code,county_name,link_type,contracted_mbps,students,classrooms,lat,lon,hub_school_id';

/** A registry of `n` schools in one county (more than one status slice of 500). */
function registryOf(dir: string, n: number) {
  const rows = Array.from({ length: n }, (_, i) => `${6401040000 + i},学校${i},primary,640000,宁夏回族自治区,640100,银川市,640104,兴庆区,fiber,100,100,4,38.47,106.28,`);
  const path = join(dir, 'schools.csv');
  writeFileSync(path, [HEAD, ...rows].join('\n'));
  return loadRegistry(path);
}

describe('collector/views/school-status', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'school-status-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writeSchoolStatus() rejects with the first failed slice and leaves no unhandled rejection while later slices are built (an InfluxDB 500 crashed the collector)', async () => {
    const reg = registryOf(dir, 1200);
    const model = new CoverageModel({ registry: reg, store: new LivenessStore(), onlineWindowMs: 15 * 60_000, nowMs: T0 });
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    // Mocha's own listener would turn the rejection into a failure of some other test: take its place meanwhile.
    const others = process.listeners('unhandledRejection');
    process.removeAllListeners('unhandledRejection');
    process.on('unhandledRejection', onUnhandled);
    const written: number[] = [];
    const refusal = new Error('InfluxDB answered 500: engine: cache-max-memory-size exceeded');
    const sink: Pick<Sink, 'write'> = {
      write: (points: Point[]) => {
        written.push(points.length);
        // The first slice fails at once, before the next slice is built.
        return written.length === 1 ? Promise.reject(refusal) : Promise.resolve();
      },
    };
    try {
      let caught: unknown;
      await writeSchoolStatus(sink, model, T0, T0).catch((e: unknown) => (caught = e));
      await new Promise((r) => setTimeout(r, 20));
      expect(caught).to.equal(refusal);
      expect(written).to.deep.equal([500, 500, 200]);
      expect(unhandled).to.deep.equal([]);
    } finally {
      process.removeListener('unhandledRejection', onUnhandled);
      for (const l of others) process.on('unhandledRejection', l);
    }
  });

  it('writeSchoolStatus() resolves with the number of status points, one per registered school', async () => {
    const reg = registryOf(dir, 700);
    const model = new CoverageModel({ registry: reg, store: new LivenessStore(), onlineWindowMs: 15 * 60_000, nowMs: T0 });
    const statuses: string[] = [];
    const sink: Pick<Sink, 'write'> = { write: async (points: Point[]) => void statuses.push(...points.map((p) => String(p.fields.status))) };
    expect(await writeSchoolStatus(sink, model, T0, T0)).to.equal(700);
    expect(new Set(statuses)).to.deep.equal(new Set(['never_seen']));
  });
});
