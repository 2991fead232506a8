/**
 * Fault: the collector's stateDir is on a file system that fills up (a tmpfs this test mounts itself).
 * Ingest must answer 503 with Retry-After for what it cannot record (never 200 for what was not recorded),
 * reads keep answering, the process never exits, and once space is back the same batches are accepted and
 * are in InfluxDB exactly once. The collector must also start on a stateDir that is full already.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startTestInfluxd, type TestInfluxd } from '../helpers/influxd.js';
import { typicalReport } from '../helpers/reports.js';
import { CollectorChild, SCHOOLS, captureOutput, healthz, seqsInInflux, until } from './harness.js';

const FILLER = 'filler.bin';

/** Writes `dir`/filler.bin until the file system says ENOSPC. */
function fill(dir: string): void {
  const fd = openSync(join(dir, FILLER), 'a');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
  // Small writes may still fit in the last partial block: take those too.
  const small = openSync(join(dir, `${FILLER}.tail`), 'a');
  try {
    for (;;) writeSync(small, Buffer.alloc(512, 1));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(small);
  }
}

function free(dir: string): void {
  rmSync(join(dir, FILLER), { force: true });
  rmSync(join(dir, `${FILLER}.tail`), { force: true });
}

/**
 * POSTs reports `seqs` of `school` (collected from an hour ago on, 10 s apart) with `token`. The tests send up
 * to 200 sequences: 10 s apart keeps all of them in the past (a minute apart, seq 61 on would be collected in
 * the future and refused by the time window with 400, not by the full disk).
 */
async function post(url: string, token: string, school: string, seqs: number[], base: number): Promise<{ status: number; retryAfter: string | null; body: any }> {
  const reports = seqs.map((seq) => ({ ...typicalReport({ seq, school, collectedAt: base + seq * 10_000 }), sentAt: Date.now() }));
  const res = await fetch(`${url}/api/v1/reports`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reports }),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
}

describe('fault: stateDir on a full file system', function () {
  this.timeout(240_000);
  let influx: TestInfluxd;
  let mountDir: string;
  let collector: CollectorChild | undefined;
  before(async () => {
    influx = await startTestInfluxd();
    mountDir = mkdtempSync(join(tmpdir(), 'cl-fault-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mountDir]);
  });
  afterEach(async () => {
    await collector?.stop();
    collector = undefined;
    // A failed test must not leave the next one a full disk before it means to.
    free(mountDir);
  });
  after(async () => {
    try {
      execFileSync('umount', [mountDir]);
    } finally {
      rmSync(mountDir, { recursive: true, force: true });
      await influx?.cleanup();
    }
  });

  it('a full stateDir: ingest answers 503 with Retry-After and acknowledges nothing, reads keep answering, the process stays up; with space back the same batch is accepted and in InfluxDB once', async () => {
    const stateDir = join(mountDir, 'running');
    collector = new CollectorChild(influx, {}, stateDir);
    await collector.start();
    const child = collector.proc!.child;
    const output = captureOutput(child);
    const school = SCHOOLS[0] as string;
    const token = collector.token(school);
    const base = Date.now() - 3_600_000;
    expect((await post(collector.url, token, school, [1, 2], base)).status).to.equal(200);

    fill(mountDir);
    // A store may still have room in a block it holds; every 200 until the first 503 must really be recorded.
    let refused = 0;
    let seq = 3;
    for (; seq < 200 && !refused; seq++) {
      const r = await post(collector.url, token, school, [seq], base).catch(async (e: unknown) => {
        await new Promise((res) => setTimeout(res, 500));
        throw new Error(`POST failed (${String(e)}); collector exit code ${child.exitCode}:\n${output().slice(-2000)}`);
      });
      if (r.status === 200) continue;
      expect(r.status, `POST while full: ${JSON.stringify(r.body)}`).to.equal(503);
      expect(r.retryAfter).to.match(/^\d+$/);
      expect(r.body.error.code).to.equal('COL_ERR_STATE_UNAVAILABLE');
      expect(r.body).to.not.have.property('accepted');
      refused = seq;
    }
    expect(refused, 'a batch refused while the stateDir is full').to.be.greaterThan(0);
    const again = await post(collector.url, token, school, [refused, refused + 1], base);
    expect(again.status).to.equal(503);
    // Longer than any state timer's period while full (a heartbeat every 2 s).
    await new Promise((r) => setTimeout(r, 5000));
    expect(child.exitCode, `collector exited on a full disk:\n${output().slice(-2000)}`).to.equal(null);
    expect(await healthz(collector.url)).to.equal(200);
    expect(((await (await fetch(`${collector.url}/healthz`)).json()) as any).state.writable, '/healthz state.writable while full').to.equal(false);
    expect((await fetch(`${collector.url}/api/v1/regions`)).status).to.equal(200);
    expect(output()).to.match(/COL_ERR_RESOURCE_EXHAUSTED|COL_ERR_STATE_UNAVAILABLE/);

    free(mountDir);
    await until(async () => (await post(collector!.url, token, school, [refused, refused + 1], base)).status === 200, 30_000, 'the batch accepted once space is back');
    // state.writable comes back once commits have succeeded for recoverAfterMs (10 s) after the last failure.
    await until(async () => ((await (await fetch(`${collector!.url}/healthz`)).json()) as any).state.writable === true, 30_000, '/healthz state.writable with space back');
    const expected = Array.from({ length: refused + 1 }, (_, i) => i + 1);
    expect(await seqsInInflux(influx, school, 'gw-01')).to.deep.equal(expected);
    expect(child.exitCode).to.equal(null);
  });

  it('starts on a stateDir that is full already, answers 503 for ingest and 200 for reads, and accepts once space is back', async () => {
    const stateDir = join(mountDir, 'prefilled');
    const school = SCHOOLS[1] as string;
    collector = new CollectorChild(influx, {}, stateDir);
    // A first run creates the state (tokens, database) the way an operator's collector would have it.
    await collector.start();
    const token = collector.token(school);
    await collector.stop();

    fill(mountDir);
    await collector.start();
    const child = collector.proc!.child;
    const base = Date.now() - 3_600_000;
    const r = await post(collector.url, token, school, [1, 2], base);
    expect(r.status, JSON.stringify(r.body)).to.equal(503);
    expect(r.retryAfter).to.match(/^\d+$/);
    expect(await healthz(collector.url)).to.equal(200);
    await new Promise((res) => setTimeout(res, 5000));
    expect(child.exitCode).to.equal(null);

    free(mountDir);
    await until(async () => (await post(collector!.url, token, school, [1, 2], base)).status === 200, 30_000, 'the batch accepted once space is back');
    expect(await seqsInInflux(influx, school, 'gw-01')).to.deep.equal([1, 2]);
  });
});
