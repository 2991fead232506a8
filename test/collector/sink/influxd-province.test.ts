import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { createInflux1Sink } from '../../../collector/sink/influx1.js';
import { EMBEDDED_ENV, EMBEDDED_LIMITS, findFreePort, InfluxdError, startInfluxd, type InfluxdHandle } from '../../../collector/sink/influxd.js';
import { SinkError } from '../../../collector/sink/sink.js';

/** POST /query on `h`; returns the parsed JSON. */
async function query(h: InfluxdHandle, q: string, db = 'p'): Promise<any> {
  const res = await fetch(`${h.url}/query`, { method: 'POST', body: new URLSearchParams({ q, db, epoch: 'ms' }) });
  return res.json();
}

/** Writes one point per tag value `school=S<i>` for i in [from, to), in batches; returns each batch's status and error text. */
async function writeSchools(h: InfluxdHandle, from: number, to: number): Promise<{ status: number; text: string }[]> {
  const out: { status: number; text: string }[] = [];
  for (let start = from; start < to; start += 10_000) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(to, start + 10_000); i++) lines.push(`report,school=S${i} seq=1 1700000000000`);
    const res = await fetch(`${h.url}/write?db=p&precision=ms`, { method: 'POST', body: lines.join('\n') });
    out.push({ status: res.status, text: await res.text() });
  }
  return out;
}

describe('startInfluxd sized for a province', function () {
  const dirs: string[] = [];
  const handles: InfluxdHandle[] = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'campuslink-influxd-prov-'));
    dirs.push(d);
    return d;
  };
  const start = async (o: Partial<Parameters<typeof startInfluxd>[0]> = {}) => {
    const h = await startInfluxd({ dataDir: tempDir(), ...o });
    handles.push(h);
    return h;
  };
  after(async function () {
    await Promise.all(handles.map((h) => h.stop()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('the generated config uses the TSI index with the province limits, and a shard written under it is a tsi1 shard', async function () {
    const h = await start();
    const conf = readFileSync(h.configPath, 'utf8');
    expect(conf).to.include('index-version = "tsi1"');
    expect(conf).to.include(`max-series-per-database = ${EMBEDDED_LIMITS.maxSeriesPerDatabase}`);
    expect(conf).to.include(`max-values-per-tag = ${EMBEDDED_LIMITS.maxValuesPerTag}`);
    if (process.env.GOGC === undefined) expect(readFileSync(`/proc/${h.pid}/environ`, 'utf8').split('\0')).to.include(`GOGC=${EMBEDDED_ENV.GOGC}`);
    await query(h, 'CREATE DATABASE p');
    expect((await writeSchools(h, 0, 10)).map((r) => r.status)).to.deep.equal([204]);
    // tsi1 keeps each shard's index in <shard>/index (partitions); the inmem index has no such directory.
    const rp = join(h.dataDir, 'data', 'p', 'autogen');
    const shards = readdirSync(rp);
    expect(shards).to.have.length(1);
    expect(existsSync(join(rp, shards[0] as string, 'index')), `${rp}/${shards[0]}/index`).to.equal(true);
  });

  it('a full cache (cache-max-memory-size) refuses writes as a retryable SinkError, so ingest answers 503 and the agent retries', async function () {
    const conf = readFileSync((await start()).configPath, 'utf8');
    expect(conf).to.include(`cache-max-memory-size = ${EMBEDDED_LIMITS.cacheMaxBytes}`);
    // The same refusal the 256 MiB bound gives a province, at a size a test can fill: 64 KiB, no snapshot in time.
    const h = await start({ settings: { 'data.cache-max-memory-size': '65536', 'data.cache-snapshot-memory-size': '1073741824' } });
    const sink = createInflux1Sink({ url: h.url, database: 'p', defaultRetryAfterMs: 1500 });
    try {
      const lines = Array.from({ length: 2000 }, (_, i) => `report,school=S${i} seq=${i},lag_s=0.5 1700000000000`);
      let refusal: unknown;
      for (let i = 0; i < 5 && !refusal; i++) await sink.writeLines(lines).catch((e: unknown) => (refusal = e));
      expect(refusal).to.be.instanceOf(SinkError);
      expect((refusal as SinkError).retryable, String(refusal)).to.equal(true);
      expect((refusal as SinkError).retryAfterMs).to.equal(1500);
      expect(String(refusal)).to.match(/cache.*(memory|size)/i);
    } finally {
      await sink.close();
    }
  });

  it('influxd 1.6 does not apply max-series-per-database to tsi1 shards (an inmem index would refuse the 1,001st series)', async function () {
    const h = await start({ maxSeriesPerDatabase: 1000 });
    await query(h, 'CREATE DATABASE p');
    expect((await writeSchools(h, 0, 1500)).map((r) => r.status)).to.deep.equal([204]);
    const card = await query(h, 'SHOW SERIES EXACT CARDINALITY');
    expect(card.results[0].series[0].values[0][0]).to.equal(1500);
  });

  it('influxd 1.6 does not apply max-values-per-tag to tsi1 shards: 1,000 configured, 1,500 values are written (docs/deployment.md)', async function () {
    const h = await start({ maxValuesPerTag: 1000 });
    await query(h, 'CREATE DATABASE p');
    expect((await writeSchools(h, 0, 1500)).map((r) => r.status)).to.deep.equal([204]);
    const card = await query(h, 'SHOW TAG VALUES EXACT CARDINALITY FROM "report" WITH KEY = "school"');
    expect(card.results[0].series[0].values[0][0]).to.equal(1500);
  });

  it('accepts 150,000 distinct values of the school tag, over the 100,000 that influxd allows by default', async function () {
    this.timeout(300_000);
    const h = await start();
    await query(h, 'CREATE DATABASE p');
    const statuses = (await writeSchools(h, 0, 150_000)).map((r) => r.status);
    expect(new Set(statuses)).to.deep.equal(new Set([204]));
    const card = await query(h, 'SHOW TAG VALUES EXACT CARDINALITY FROM "report" WITH KEY = "school"');
    expect(card.results[0].series[0].values[0][0]).to.equal(150_000);
  });

  it('a fixed port is the port after every start; port 0 picks a free one', async function () {
    const port = await findFreePort();
    const h = await start({ port });
    expect(h.port).to.equal(port);
    await h.restart();
    expect(h.port).to.equal(port);
    const any = await start({ port: 0 });
    expect(any.port).to.be.within(1, 65535).and.not.equal(port);
  });

  it('a fixed port held by another process fails with COL_ERR_INFLUXD_START naming influx.embeddedPort', async function () {
    const first = await start();
    try {
      await startInfluxd({ dataDir: tempDir(), port: first.port });
      expect.fail('expected an InfluxdError');
    } catch (e) {
      expect(e).to.be.instanceOf(InfluxdError);
      expect((e as InfluxdError).code).to.equal('COL_ERR_INFLUXD_START');
      expect((e as Error).message).to.include('influx.embeddedPort').and.include('CAMPUSLINK_INFLUX_EMBEDDED_PORT');
    }
  });
});
