/**
 * The province soak's parts, small: the fleet model, the batch templates, the state seeder, and the
 * load generator against the real collector CLI (dist/, `npm run build` first) with its embedded influxd.
 * No timing assertions: the benchmark measures; these prove that what it measures is real.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectorConfigYaml, startCollectorProcess, type CollectorProcess } from '../../bench/fleet/collector-process.js';
import { makeFleet, registryCsv, rnd, type FleetSchool } from '../../bench/fleet/fleet.js';
import { LoadGenerator, percentile, postOneBatch } from '../../bench/fleet/generator.js';
import { MinHeap } from '../../bench/fleet/heap.js';
import { BodyRing } from '../../bench/fleet/body-ring.js';
import { cheapAsyncBind } from '../../bench/fleet/cheap-bind.js';
import { AsyncResource, executionAsyncId } from 'node:async_hooks';
import { cpuByModule } from '../../bench/fleet/cpu-by-module.js';
import { loopDelayFromHealthz, slopePerMin } from '../../bench/fleet/probes.js';
import { cpuMs, rssBytes, rssParts, threadCpuMs } from '../../bench/fleet/procstat.js';
import { restartCollector } from '../../bench/fleet/restart.js';
import { seedState } from '../../bench/fleet/seed.js';
import { ReusedDeflate, TemplateBank, VARIANTS } from '../../bench/fleet/templates.js';
import { startAckServer } from '../../bench/fleet/ack-server.js';
import { deflateRawSync } from 'node:zlib';
import http2 from 'node:http2';
import { COLUMNS_DICTIONARY } from '../../protocol/index.js';
import { parseRegistry } from '../../collector/registry/index.js';
import { createInflux1Client } from '../../collector/sink/influx1.js';
import { decodeBatch } from '../../protocol/index.js';

describe('bench/fleet (province soak, small)', () => {
  describe('makeFleet()', () => {
    it('gives 1, 2 and 4 reports per batch by the agent upload policy of the link type', () => {
      const fleet = makeFleet(800);
      const by = (t: string) => fleet.filter((s) => s.linkType === t).map((s) => s.reportsPerBatch);
      expect(new Set(by('fiber'))).to.deep.equal(new Set([1]));
      expect(new Set(by('cellular'))).to.deep.equal(new Set([2]));
      expect(new Set(by('sat-leo'))).to.deep.equal(new Set([2]));
      expect(new Set(by('sat-geo'))).to.deep.equal(new Set([4]));
      for (const s of fleet) expect(s.phaseMs).to.be.within(0, s.uploadIntervalMs - 1);
    });

    it('writes a registry the collector parses, with every school once', () => {
      const fleet = makeFleet(5000);
      const reg = parseRegistry(registryCsv(fleet), { source: 'fleet.csv' });
      expect(reg.schools.size).to.equal(5000);
      for (const s of fleet.slice(0, 50)) expect(reg.schools.get(s.id)?.linkType).to.equal(s.linkType);
    });
  });

  describe('TemplateBank', () => {
    it('makes bodies byte for byte equal to encodeBatch() of the same reports, across kinds and sequence lengths', () => {
      const bank = new TemplateBank();
      let checked = 0;
      for (const reports of [1, 2, 4])
        for (let variant = 0; variant < VARIANTS; variant += 3)
          for (const satellite of [false, true])
            for (const seq of [1, 9, 10, 97, 998, 10081, 99_997, 123_456, 9_999_999]) {
              const v = { school: '5301010001', seq, collectedAt: 1_795_420_800_000 + seq * 60_000, sentAt: 1_795_420_800_000 + seq * 60_000 + 1500 };
              const kind = { reports, variant, satellite };
              expect(bank.verify(kind, v, bank.bodySync(kind, v)), JSON.stringify({ kind, seq })).to.equal(true);
              checked++;
            }
      expect(checked).to.equal(3 * 6 * 2 * 9);
    });

    it('patches school, sequences and times into what the collector decodes', () => {
      const bank = new TemplateBank();
      const body = bank.bodySync({ reports: 4, variant: 5, satellite: true }, { school: '5302030007', seq: 20_161, collectedAt: 1_795_420_800_000, sentAt: 1_795_420_981_000 });
      const { reports } = decodeBatch(body, 'x-campuslink-cols1', { maxBytes: 1 << 20 }) as { reports: { school: string; seq: number; collectedAt: number; sentAt: number }[] };
      expect(reports.map((r) => [r.school, r.seq, r.collectedAt, r.sentAt])).to.deep.equal([0, 1, 2, 3].map((j) => ['5302030007', 20_161 + j, 1_795_420_800_000 + j * 60_000, 1_795_420_981_000]));
    });
  });

  describe('ReusedDeflate', () => {
    it('gives what deflateRawSync gives at level 9 with the dictionary, input after input, also for input larger than its buffer', () => {
      const d = new ReusedDeflate(COLUMNS_DICTIONARY);
      const bank = new TemplateBank();
      const inputs = [1, 2, 4].flatMap((reports) => [10_081, 10_085].map((seq) => Buffer.from(bank.json({ reports, variant: 3, satellite: reports === 4 }, { school: '5301010001', seq, collectedAt: 1_795_420_800_000, sentAt: 1_795_420_801_000 }))));
      // Random bytes do not compress: 200 kB of them outgrow the 64 kB output buffer.
      inputs.push(Buffer.from(Array.from({ length: 200_000 }, (_, i) => Math.floor(rnd(i) * 256))), Buffer.alloc(0), ...inputs.slice(0, 1));
      for (const input of inputs) expect(d.deflate(input).equals(deflateRawSync(input, { level: 9, dictionary: COLUMNS_DICTIONARY })), `${input.length} bytes`).to.equal(true);
      d.close();
    });
  });

  describe('LoadGenerator sessions (against a stand-in collector)', function () {
    this.timeout(30_000);
    it('opens a session on each school\'s first upload, keeps it between uploads, and reopens it on the next upload after the collector closed it', async () => {
      // The stand-in closes a session after 2 s without a stream, as the collector's idle timeout does.
      const srv = await startAckServer({ sessionIdleTimeoutMs: 2000 });
      // Two fiber schools (a batch a minute) first due at +0.3 s and +1 s; the clock jumps a minute at a time.
      const fleet = makeFleet(2).map((s) => ({ ...s, phaseMs: s.index === 0 ? 300 : 1000 }));
      let offset = 0;
      const liveStartMs = Date.now() + 200;
      const gen = new LoadGenerator({ url: `http://127.0.0.1:${srv.port}`, fleet, tokens: ['t0', 't1'], lastSeq: [1000, 1000], liveStartMs, verifyEvery: 1, now: () => Date.now() + offset });
      const until = async (ok: () => boolean) => {
        while (!ok()) await new Promise((r) => setTimeout(r, 20));
      };
      const c = gen.counters;
      try {
        gen.start(liveStartMs);
        expect(c.sessionsOpened).to.equal(0);
        await until(() => c.batchesOk === 1);
        // School 0 has uploaded on its session; school 1 has not opened one yet.
        expect([c.sessionsOpened, srv.counts.sessions]).to.deep.equal([1, 1]);
        await until(() => c.batchesOk === 2);
        expect(c.sessionsOpened).to.equal(2);
        offset += 60_000;
        await until(() => c.batchesOk === 4);
        expect([c.sessionsOpened, c.sessionsClosedByCollector]).to.deep.equal([2, 0]);
        await until(() => c.sessionsClosedByCollector === 2);
        expect(c.sessionsOpen).to.equal(0);
        offset += 60_000;
        await until(() => c.batchesOk === 6);
        expect([c.sessionsOpened, c.sessionsOpen, c.sessionsDropped]).to.deep.equal([4, 2, 0]);
      } finally {
        gen.stop();
        srv.server.close();
      }
      expect(c.failures).to.deep.equal({});
      expect(c.templateMismatches).to.equal(0);
      expect(srv.counts.reports).to.equal(c.reportsSent);
    });
  });

  describe('LoadGenerator deadline', function () {
    this.timeout(20_000);
    it('cancels an upload left unanswered past timeoutMs and counts it TIMEOUT (the once-a-second sweep)', async () => {
      const server = http2.createServer();
      server.on('stream', () => undefined);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const fleet = makeFleet(1).map((s) => ({ ...s, phaseMs: 0 }));
      const liveStartMs = Date.now() + 100;
      const gen = new LoadGenerator({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, fleet, tokens: ['t0'], lastSeq: [10_000], liveStartMs, timeoutMs: 1500 });
      const t0 = Date.now();
      try {
        gen.start(liveStartMs);
        while (!gen.counters.failures.TIMEOUT) await new Promise((r) => setTimeout(r, 20));
      } finally {
        gen.stop();
        server.close();
      }
      expect(Date.now() - t0).to.be.within(1500, 4000);
      expect(gen.counters.failures).to.deep.equal({ TIMEOUT: 1 });
      expect(gen.counters.inFlight).to.equal(0);
    });
  });

  describe('BodyRing', () => {
    it('keeps each agent\'s bodies by batch number, never over the slot of the batch taken last, and forgets skipped ones', () => {
      const ring = new BodyRing({ slots: [3, 2], slotBytes: 8, slabBytes: 16 });
      expect(ring.bytes).to.equal(40);
      const b = (s: string) => Buffer.from(s);
      expect([ring.put(0, 0, b('a0')), ring.put(0, 1, b('a1')), ring.put(0, 2, b('a2'))]).to.deep.equal([true, true, false]);
      expect(ring.put(1, 0, b('too long a body'))).to.equal(false);
      expect(ring.put(1, 0, b('b0'))).to.equal(true);
      expect(ring.take(0, 0)?.toString()).to.equal('a0');
      // Batch 0's slot is the one taken last: batch 3 (same slot) must wait; batch 2 has room now.
      expect([ring.put(0, 3, b('a3')), ring.put(0, 2, b('a2'))]).to.deep.equal([false, true]);
      ring.skipTo(0, 2);
      expect(ring.take(0, 2)?.toString()).to.equal('a2');
      expect(ring.take(0, 1)).to.equal(undefined);
      expect(ring.take(1, 0)?.toString()).to.equal('b0');
      expect(ring.take(1, 1)).to.equal(undefined);
    });
  });

  describe('LoadGenerator with bodies rendered ahead (against a stand-in collector)', function () {
    this.timeout(30_000);
    it('sends bodies rendered before they are due that decode to distinct valid reports, the agent encoder\'s bytes', async () => {
      const srv = await startAckServer();
      const seen: { school: string; seq: number; collectedAt: number; sentAt: number }[] = [];
      srv.server.prependListener('stream', (stream, headers) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => seen.push(...(decodeBatch(Buffer.concat(chunks), headers['content-encoding'] as string, { maxBytes: 1 << 20 }) as { reports: (typeof seen)[number][] }).reports));
      });
      // 8 schools (every link type: 1, 2 and 4 reports a batch), due within the first second; the clock jumps 4 minutes at a time.
      const fleet = makeFleet(8).map((s) => ({ ...s, phaseMs: 100 * s.index }));
      let offset = 0;
      const liveStartMs = Date.now() + 300;
      const gen = new LoadGenerator({ url: `http://127.0.0.1:${srv.port}`, fleet, tokens: fleet.map((s) => `t${s.index}`), lastSeq: fleet.map(() => 5000), liveStartMs, verifyEvery: 1, renderAheadMs: 10 * 60_000, now: () => Date.now() + offset });
      const c = gen.counters;
      const until = async (ok: () => boolean) => {
        while (!ok()) await new Promise((r) => setTimeout(r, 20));
      };
      try {
        gen.start(liveStartMs);
        // Everything due in the first 10 minutes is rendered, in slices of a few ms, well before it is due; nothing later.
        const batchesIn10Min = fleet.reduce((a, s) => a + Math.floor((10 * 60_000 - s.phaseMs) / s.uploadIntervalMs) + 1, 0);
        await until(() => c.batchesOk === 8);
        expect(c.bodiesRenderedAhead).to.equal(batchesIn10Min);
        // Two jumps: the clock stays inside what was rendered at the start (a jump past it outruns the renderer).
        for (let m = 0; m < 2; m++) {
          offset += 240_000;
          await until(() => c.batchesOk === 8 * (m + 2));
        }
      } finally {
        gen.stop();
        srv.server.close();
      }
      expect(c.failures).to.deep.equal({});
      expect(c.bodiesRenderedAtSend).to.equal(0);
      expect([c.templateChecks, c.templateMismatches]).to.deep.equal([c.batchesSent, 0]);
      // Distinct reports: a school's sequences and collection times never repeat, and follow its cycle.
      expect(new Set(seen.map((r) => `${r.school}/${r.seq}`)).size).to.equal(seen.length);
      for (const s of fleet) {
        const mine = seen.filter((r) => r.school === s.id).sort((x, y) => x.seq - y.seq);
        expect(mine[0]?.seq).to.equal(5001);
        for (const r of mine) expect(r.collectedAt - (mine[0] as (typeof mine)[number]).collectedAt).to.equal((r.seq - 5001) * 60_000);
        for (const r of mine) expect(r.sentAt).to.be.above(r.collectedAt);
      }
    });
  });

  describe('cheapAsyncBind()', () => {
    it('binds as AsyncResource.bind does (async scope, this, arguments), without the deprecated accessor, and puts node\'s own back', () => {
      const restore = cheapAsyncBind();
      expect(restore, 'Node 20 has the DEP0172 accessor').to.be.a('function');
      try {
        const r = new AsyncResource('H9Test');
        const seen: unknown[] = [];
        const f = r.bind(function (this: unknown, a: number, b: number) {
          seen.push(executionAsyncId(), this, a + b);
          return a * b;
        });
        expect('asyncResource' in f).to.equal(false);
        const that = { x: 1 };
        expect(f.call(that, 3, 4)).to.equal(12);
        expect(seen).to.deep.equal([r.asyncId(), that, 7]);
        // @types/node 20 leaves out bind's thisArg, which Node has taken since 14.
        const g = (r.bind as (fn: (a: number) => unknown[], thisArg: unknown) => (a: number) => unknown[])((a: number) => [executionAsyncId(), a], that);
        expect(g(5)).to.deep.equal([r.asyncId(), 5]);
        expect(cheapAsyncBind(), 'already in').to.equal(undefined);
      } finally {
        restore?.();
      }
      expect('asyncResource' in new AsyncResource('H9Test').bind(() => undefined)).to.equal(true);
    });
  });

  describe('MinHeap', () => {
    it('pops ids in key order', () => {
      const h = new MinHeap(100);
      const keys = Array.from({ length: 100 }, (_, i) => (i * 7919) % 101);
      keys.forEach((k, i) => h.push(i, k));
      const out: number[] = [];
      while (h.size) out.push(keys[h.pop()] as number);
      expect(out).to.deep.equal([...keys].sort((a, b) => a - b));
    });
  });

  describe('probes', () => {
    it('reads a loop-delay maximum from a /healthz answer, in ms', () => {
      expect(loopDelayFromHealthz({ status: 'ok', eventLoop: { delayMaxMs: 12.5, delayP99Ms: 3 } })).to.equal(12.5);
      expect(loopDelayFromHealthz({ eventLoop: { sinceStart: { maxMs: 900, p99Ms: 2 }, window: { maxMs: 31, windowS: 10 } } })).to.equal(31);
      expect(loopDelayFromHealthz({ status: 'ok', loop: { maxNs: 40e6 } })).to.equal(40);
      expect(loopDelayFromHealthz({ status: 'ok' })).to.equal(undefined);
    });

    it('fits a slope per minute and reads /proc of this process', () => {
      expect(slopePerMin([{ atMs: 0, y: 10 }, { atMs: 60_000, y: 12 }, { atMs: 120_000, y: 14 }])).to.be.closeTo(2, 1e-9);
      expect(rssBytes(process.pid)).to.be.greaterThan(1 << 20);
      const parts = rssParts(process.pid);
      expect(parts.anon).to.be.greaterThan(1 << 20);
      expect(parts.file).to.be.greaterThan(0);
      // VmRSS is their sum (read a moment later: within a few MiB).
      expect(Math.abs(parts.anon + parts.file + parts.shmem - rssBytes(process.pid))).to.be.below(8 << 20);
      expect(rssParts(2 ** 22 + 7).anon).to.be.NaN;
      expect(cpuMs(process.pid)).to.be.greaterThan(0);
      expect(percentile([1, 2, 3, 4], 50)).to.equal(2);
      const threads = threadCpuMs(process.pid);
      expect(threads.main).to.be.greaterThan(0);
      expect(Object.values(threads).reduce((a, b) => a + b, 0)).to.be.at.most(cpuMs(process.pid) + 100);
    });

    it('cpuByModule() charges a sample to the innermost project frame, else to the runtime bucket, and skips idle and the outside of the window', () => {
      const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0 });
      const nodes = [
        { id: 1, callFrame: frame('(root)', ''), children: [2, 5, 6, 7] },
        { id: 2, callFrame: frame('handle', 'file:///x/dist/collector/http/ingest.js'), children: [3] },
        { id: 3, callFrame: frame('flush', 'file:///x/dist/collector/state/db.js'), children: [4] },
        { id: 4, callFrame: frame('run', 'file:///x/node_modules/better-sqlite3/lib/methods/wrappers.js') },
        { id: 5, callFrame: frame('(garbage collector)', '') },
        { id: 6, callFrame: frame('(idle)', '') },
        { id: 7, callFrame: frame('processTicksAndRejections', 'node:internal/process/task_queues') },
      ];
      // Samples 1 ms apart: db (via SQLite) twice, ingest, GC, idle, node:process, then one past the window.
      const samples = [4, 4, 2, 5, 6, 7, 2];
      const p = { nodes, startTime: 0, endTime: 7000, samples, timeDeltas: samples.map(() => 1000) };
      const r = cpuByModule(p, { fromMs: 0, toMs: 6.5 });
      expect(Object.fromEntries(r.rows.map((x) => [x.name, x.ms]))).to.deep.equal({ 'dist/collector/state/db.js': 2, 'dist/collector/http/ingest.js': 1, '(garbage collector)': 1, 'node:process': 1 });
      expect(r.busyMs).to.equal(5);
      expect(cpuByModule(p, { fromMs: 0, toMs: 6.5, functions: true }).rows[0]?.name).to.equal('dist/collector/state/db.js flush:1');
    });
  });

  describe('seedState()', () => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'soak-seed-'))));
    // withStateDb() closes the state database (and its checkpointer worker) asynchronously: its files may still be going.
    afterEach(() => removeWhenSettled(dir));

    it('leaves a token per school, dedupe lines through the seeded sequences and gap pairs ending before the live start', () => {
      const fleet = makeFleet(40);
      const nowMs = Date.now();
      const seed = seedState({ stateDir: dir, fleet, days: 0.5, nowMs, dedupeTailHours: 1 });
      expect(new Set(seed.tokens).size).to.equal(40);
      expect(seed.lastSeq).to.deep.equal(fleet.map(() => 720));
      // The compacted line of each agent, then one line per batch of the last hour: together every sequence to 720.
      const held = new Map<string, Set<number>>();
      for (const line of readFileSync(join(dir, 'dedupe.log'), 'utf8').trim().split('\n')) {
        const e = JSON.parse(line) as { s: string; h?: number; q: number[] };
        const set = held.get(e.s) ?? new Set<number>();
        for (let q = 1; q <= (e.h ?? 0); q++) set.add(q);
        for (const q of e.q) set.add(q);
        held.set(e.s, set);
      }
      for (const s of fleet) expect([...(held.get(s.id) ?? [])].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 720 }, (_, i) => i + 1));
      const gaps = JSON.parse(readFileSync(join(dir, 'gaps', 'agents.json'), 'utf8')) as Record<string, { times: [number, number][]; intervalMs: number }>;
      const first = gaps[`${fleet[0]?.id}/gw-01`];
      expect(first?.times).to.have.length(720);
      expect(first?.times.at(-1)?.[0]).to.equal(720);
      expect(first?.times.at(-1)?.[1]).to.be.below(nowMs);
      expect(seed.gapPairs).to.equal(720);
      expect(seed.dedupeTailLines).to.be.greaterThan(40);
    });
  });

  describe('LoadGenerator against the real collector CLI', function () {
    this.timeout(180_000);
    let dir: string;
    let col: CollectorProcess | undefined;
    after(async () => {
      col?.child.kill('SIGTERM');
      if (col) await col.exited;
      await removeWhenSettled(dir);
    });

    it('uploads every school once over its own HTTP/2 session, all held; a repeat counts as duplicate; a restart is timed', async () => {
      dir = mkdtempSync(join(tmpdir(), 'soak-gen-'));
      // Phases squeezed into the first 1.5 s, so each school's first batch comes at once.
      const fleet: FleetSchool[] = makeFleet(16).map((s) => ({ ...s, phaseMs: s.index * 100 }));
      const liveStartMs = Date.now() + 10_000;
      const seed = seedState({ stateDir: join(dir, 'state'), fleet, days: 1 / 24, nowMs: liveStartMs });
      writeFileSync(join(dir, 'schools.csv'), registryCsv(fleet));
      const configPath = join(dir, 'collector.yaml');
      writeFileSync(configPath, collectorConfigYaml({ port: 0, stateDir: join(dir, 'state'), registry: join(dir, 'schools.csv') }));
      col = await startCollectorProcess({ configPath, logPath: join(dir, 'collector.log') });
      expect(col.influxdPid).to.be.a('number');

      const runOnce = async () => {
        const gen = new LoadGenerator({ url: (col as CollectorProcess).url, fleet, tokens: seed.tokens, lastSeq: seed.lastSeq, liveStartMs, verifyEvery: 1 });
        if (Date.now() < liveStartMs) await new Promise((r) => setTimeout(r, liveStartMs - Date.now()));
        const from = Date.now();
        gen.start();
        while (gen.counters.batchesOk + Object.values(gen.counters.failures).reduce((a, b) => a + b, 0) < fleet.length) await new Promise((r) => setTimeout(r, 100));
        const c = { ...gen.counters, latency: gen.latency(from, Date.now() + 1) };
        gen.stop();
        return c;
      };
      const first = await runOnce();
      const reports = fleet.reduce((a, s) => a + s.reportsPerBatch, 0);
      expect(first.failures).to.deep.equal({});
      expect(first.sessionsOpened).to.equal(16);
      expect(first.reportsHeld).to.equal(reports);
      expect(first.reportsDuplicate).to.equal(0);
      expect(first.templateMismatches).to.equal(0);
      expect(first.templateChecks).to.equal(16);
      expect(first.latency.count).to.equal(16);

      const influx = createInflux1Client({ url: `http://127.0.0.1:${/:(\d+)/.exec(readInfluxUrl(dir))?.[1]}`, database: 'campuslink' });
      const rows = (await influx.query('SELECT count("rtt_avg_ms") FROM "ping" WHERE "role" = \'internet\'')) as unknown as { count: number }[];
      expect(rows[0]?.count).to.equal(reports);

      // A seeded sequence: the collector read the seeded dedupe marks (and the token).
      const seeded = await postOneBatch({ url: col.url, school: fleet[0] as FleetSchool, token: seed.tokens[0] as string, seq: seed.lastSeq[0] as number, collectedAt: liveStartMs - 120_000, timeoutMs: 10_000 });
      expect(seeded.status).to.equal(200);
      expect((JSON.parse(seeded.text) as { duplicates?: number[] }).duplicates).to.deep.equal([seed.lastSeq[0]]);

      // The same schedule again: the same sequences, which the collector already holds.
      const again = await runOnce();
      expect(again.reportsHeld).to.equal(0);
      expect(again.reportsDuplicate).to.equal(reports);

      const school = fleet[0] as FleetSchool;
      const r = await restartCollector({ running: col, signal: 'SIGTERM', configPath, logPath: join(dir, 'collector.log'), probe: { school, token: seed.tokens[0] as string, seq: 1_000_000 } });
      col = r.next;
      expect(r.result.error).to.equal(undefined);
      expect(r.result.readyMs).to.be.a('number').and.not.NaN;
      expect(r.result.firstBatchMs).to.be.at.least(r.result.listenMs);
    });
  });
});

/**
 * Removes a directory whose files may still be changing: the state database's checkpointer worker closes
 * after withStateDb() returns (on a loaded box, seconds later: the first tries meet ENOTEMPTY), influxd
 * may outlive the collector by a moment. Tries again every 100 ms for up to 15 s, the event loop free between.
 */
async function removeWhenSettled(dir: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      rmSync(dir, { recursive: true, force: true });
      return;
    } catch (e) {
      if (i >= 150 || !['ENOTEMPTY', 'EBUSY', 'EPERM'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** The embedded influxd's URL from the collector's log line. */
function readInfluxUrl(dir: string): string {
  const text = readFileSync(join(dir, 'collector.log'), 'utf8');
  return /writing to InfluxDB (\S+)/.exec(text)?.[1] ?? '';
}
