import { mkdtempSync, rmSync } from 'node:fs';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import type { InfluxDB } from 'influx';
import { pino } from 'pino';
import { collectorConfigSchema } from '../../../collector/config.js';
import { issueCodes } from '../../../collector/enroll/codes.js';
import { createHub, type Hub } from '../../../collector/hub/server.js';
import { rollupLines, rollupPoints } from '../../../collector/hub/points.js';
import { openStateDb, type StateDb } from '../../../collector/state/db.js';
import { SinkError } from '../../../collector/sink/sink.js';
import type { Rollup } from '../../../protocol/rollup.js';
import { MemorySink } from '../../helpers/memory-sink.js';
import { T0, makeRollup } from './fixtures.js';

const log = pino({ level: 'silent' });

describe('collector/hub: roll-up ingest and province enrollment', () => {
  let dir: string;
  let state: StateDb;
  let sink: MemorySink;
  let hub: Hub;
  let server: Server;
  let base: string;
  let clock = T0 + 5000;

  const code = (province: string): string => {
    let out = '';
    issueCodes({ state, schools: [province], uses: 1, expiresAtMs: T0 + 86_400_000, now: () => T0, onIssued: (c) => (out = c) });
    return out;
  };
  const enroll = async (province: string, c = code(province), nonce = `nonce-${province}-0123456789`) => {
    const res = await fetch(`${base}/api/v1/hub/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ v: 1, code: c, nonce, province }) });
    return { status: res.status, body: (await res.json()) as any };
  };
  const send = async (token: string, rollups: unknown[], gzip = false) => {
    const json = Buffer.from(JSON.stringify({ rollups }));
    const res = await fetch(`${base}/api/v1/rollups`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...(gzip && { 'content-encoding': 'gzip' }) }, body: gzip ? gzipSync(json) : json });
    return { status: res.status, body: (await res.json()) as any };
  };
  const of = (cred: { collector: string }, pp: string, over: Partial<Rollup> = {}, online?: [number, number, number]) => makeRollup(pp, { collector: cred.collector, ...over }, online);

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hub-ingest-'));
    state = openStateDb({ stateDir: dir, checkpointIntervalMs: 0 });
    sink = new MemorySink();
    const config = collectorConfigSchema.parse({ role: 'national', stateDir: dir, hub: { staleAfterMs: 60_000 } });
    hub = createHub({ config, state, stateDir: dir, sink, influx: {} as InfluxDB, log, now: () => clock });
    await hub.start();
    server = http.createServer(hub.app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise((r) => server.close(r));
    await hub.stop();
    await state.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a province enrolls with its code, delivers; a repeat is a duplicate, written once; the store and the feeds follow', async () => {
    const e = await enroll('32');
    expect(e.status).to.equal(200);
    expect(e.body).to.include({ v: 1, province: '32' });
    expect(e.body.collector).to.match(/^p32-[0-9a-f]{8}$/);
    const first = await send(e.body.token, [of(e.body, '32')], true);
    expect(first.status, JSON.stringify(first.body)).to.equal(200);
    expect(first.body).to.include({ heldThrough: 1, epoch: 'epoch0001' });
    expect(first.body.accepted).to.deep.equal([1]);
    expect(sink.points.filter((p) => p.measurement === 'rollup')).to.have.length(5);
    const again = await send(e.body.token, [of(e.body, '32'), of(e.body, '32', { seq: 2, asOf: T0 + 60_000 }, [9, 2, 1])]);
    expect(again.body).to.deep.include({ accepted: [1, 2], duplicates: [1], heldThrough: 2 });
    expect(sink.points.filter((p) => p.measurement === 'rollup')).to.have.length(10);
    expect(hub.store.latest('320102')?.online).to.equal(9);
    const feeds = (await (await fetch(`${base}/api/v1/hub/feeds`)).json()) as any;
    expect(feeds.provinces[0]).to.include({ province: '32', collector: e.body.collector, lastSeq: 2, stale: false, online: 12, offline: 3, registered: 15 });
    clock += 61_000;
    const later = (await (await fetch(`${base}/api/v1/hub/feeds`)).json()) as any;
    expect(later.provinces[0]).to.include({ stale: true, staleSince: new Date(T0 + 60_000).toISOString(), online: 12 });
    expect(later.national).to.deep.include({ online: 12, staleProvinces: ['32'] });
  });

  it('a roll-up forged for another province is refused with 403 and nothing is written', async () => {
    const e = await enroll('32');
    const forged = await send(e.body.token, [of(e.body, '11')]);
    expect(forged.status).to.equal(403);
    expect(forged.body.error.code).to.equal('COL_ERR_ROLLUP_WRONG_PROVINCE');
    expect(forged.body.error.message).to.match(/province 32.*province 11/);
    const otherCollector = await send(e.body.token, [makeRollup('32', { collector: 'p32-deadbeef' })]);
    expect(otherCollector.status).to.equal(403);
    expect(sink.points).to.have.length(0);
    expect(hub.store.feeds()).to.deep.equal([]);
  });

  it('401 without a credential; 400 naming each problem; 503 when InfluxDB does not confirm (nothing held, the resend is written)', async () => {
    expect((await send('clkp_nope', [makeRollup('32')])).status).to.equal(401);
    const e = await enroll('32');
    const bad = of(e.body, '32');
    (bad.regions[2] as { online: number }).online = 99;
    const invalid = await send(e.body.token, [bad]);
    expect(invalid.status).to.equal(400);
    expect(invalid.body.error.code).to.equal('COL_ERR_INVALID_PAYLOAD');
    expect(invalid.body.error.issues.map((i: { path: string }) => i.path)).to.deep.equal(['rollups.0.regions.2.registered']);
    sink.failWith = new SinkError('down', true);
    const down = await send(e.body.token, [of(e.body, '32')]);
    expect(down.status).to.equal(503);
    expect(hub.store.feeds()).to.deep.equal([]);
    sink.failWith = undefined;
    const ok = await send(e.body.token, [of(e.body, '32')]);
    expect(ok.body).to.deep.include({ accepted: [1], heldThrough: 1 });
    expect(ok.body.duplicates).to.equal(undefined);
  });

  it('enrollment: a code of another province is refused; a used code is refused; a repeated nonce keeps the collector id and revokes the unused token', async () => {
    const wrong = await enroll('11', code('32'));
    expect(wrong.status).to.equal(403);
    expect(wrong.body.error.code).to.equal('COL_ERR_ROLLUP_WRONG_PROVINCE');
    const c = code('32');
    const a = await enroll('32', c, 'same-nonce-0123456789');
    const b = await enroll('32', c, 'same-nonce-0123456789');
    expect(b.body.collector).to.equal(a.body.collector);
    expect((await send(a.body.token, [of(a.body, '32')])).status).to.equal(401);
    expect((await send(b.body.token, [of(b.body, '32')])).status).to.equal(200);
    const used = await enroll('32', c, 'other-nonce-0123456789');
    expect(used.status).to.equal(403);
    expect(used.body.error.message).to.match(/used up/);
  });

  it('agent reports and agent enrollment are not served by a hub: 403 COL_ERR_HUB_ROLE', async () => {
    for (const path of ['/api/v1/reports', '/api/v1/enroll']) {
      const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(res.status).to.equal(403);
      expect(((await res.json()) as any).error.code).to.equal('COL_ERR_HUB_ROLE');
    }
  });

  it('the rollup measurement: integer counts, sanitised keys, the rate as a float and left out when unknown', () => {
    const r = makeRollup('32');
    (r.regions[1] as { schoolHoursOnlinePct: number | null; schoolHoursUnknownReason?: string }).schoolHoursOnlinePct = null;
    (r.regions[1] as { schoolHoursUnknownReason?: string }).schoolHoursUnknownReason = 'holidays';
    r.regions[0]!.links = { fiber: 10, 'sat-geo': 2 };
    const [province, city] = rollupLines(r);
    expect(province).to.equal(
      `rollup,level=province,province=32,region=320000 registered=9i,online=6i,offline=3i,never_seen=0i,tier_unknown=0i,tier_100_measured=6i,tier_100_contracted=3i,link_fiber=10i,link_sat_geo=2i,compliance_cn_bb_02_pass=6i,compliance_cn_bb_02_fail=3i,compliance_cn_bb_02_unknown=0i,alerts_school_offline=3i,school_hours_online_pct=90 ${T0}`,
    );
    expect(city).to.match(/^rollup,level=city,province=32,region=320100 registered=7i,/);
    // The same fields as the point objects a sink without line protocol gets.
    const fields = Object.fromEntries(province!.split(' ')[1]!.split(',').map((kv) => [kv.split('=')[0], Number(kv.split('=')[1]!.replace(/i$/, ''))]));
    expect(fields).to.deep.equal(rollupPoints(r)[0]!.fields);
    expect(city).not.to.include('school_hours_online_pct');
  });
});
