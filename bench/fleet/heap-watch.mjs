/**
 * A preload for the collector under a soak (issue 11): where its memory goes over time, and what it
 * allocates. Loaded with `--import`, e.g.
 *
 *   SOAK_COLLECTOR_NODE_ARGS="--import=$PWD/bench/fleet/heap-watch.mjs" HEAP_WATCH_DIR=/tmp/hw \
 *     npx tsx bench/province-soak.bench.ts --schools 5000 --minutes 1.5 --warmup 0.5 --seed-days 1
 *
 * - Every HEAP_WATCH_EVERY_S (default 5) seconds one JSON line of process.memoryUsage() and the V8
 *   heap spaces' used sizes into `<dir>/memory-<pid>.jsonl`: whether an RSS slope is the JS heap
 *   or native memory (nghttp2 buffers, backing stores, malloc).
 * - With HEAP_WATCH_ALLOC_AT_S set, the sampling heap profiler runs from that many seconds after start
 *   for HEAP_WATCH_ALLOC_FOR_S (default 60) seconds, counting objects the scavenger and mark-compact
 *   collected too (not only what is still alive at the end, as `--heap-prof` does), and writes
 *   `<dir>/alloc-<pid>.heapprofile` (open in Chrome DevTools, or summarise with bench/heap-alloc.ts).
 *
 * Every timer catches its errors: the watch must never take the collector down.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { getHeapSpaceStatistics } from 'node:v8';

const dir = process.env.HEAP_WATCH_DIR;
if (dir) {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    console.error(`heap-watch: cannot create ${dir}: ${e}`);
  }
  const everyMs = Number(process.env.HEAP_WATCH_EVERY_S ?? 5) * 1000;
  const memFile = join(dir, `memory-${process.pid}.jsonl`);
  const t0 = Date.now();
  setInterval(() => {
    try {
      const m = process.memoryUsage();
      const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size]));
      appendFileSync(memFile, `${JSON.stringify({ t: Math.round((Date.now() - t0) / 1000), ...m, spaces })}\n`);
    } catch (e) {
      console.error(`heap-watch: memory sample not written: ${e}`);
    }
  }, everyMs).unref();

  const atS = process.env.HEAP_WATCH_ALLOC_AT_S;
  if (atS !== undefined && atS !== '') {
    const forMs = Number(process.env.HEAP_WATCH_ALLOC_FOR_S ?? 60) * 1000;
    const session = new Session();
    const post = (method, params) =>
      new Promise((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
    setTimeout(() => {
      try {
        session.connect();
        post('HeapProfiler.startSampling', { samplingInterval: 32 * 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true })
          .then(() => {
            console.error(`heap-watch: allocation sampling started for ${forMs / 1000} s`);
            setTimeout(() => {
              post('HeapProfiler.stopSampling')
                .then((res) => {
                  writeFileSync(join(dir, `alloc-${process.pid}.heapprofile`), JSON.stringify(res.profile));
                  console.error('heap-watch: allocation profile written');
                })
                .catch((e) => console.error(`heap-watch: allocation profile not written: ${e}`))
                .finally(() => session.disconnect());
            }, forMs).unref();
          })
          .catch((e) => console.error(`heap-watch: allocation sampling not started: ${e}`));
      } catch (e) {
        console.error(`heap-watch: allocation sampling not started: ${e}`);
      }
    }, Number(atS) * 1000).unref();
  }
}
