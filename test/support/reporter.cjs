// mocha's spec reporter plus, at the end, where the time went (the 25 slowest tests, the 25 slowest files
// with their hook time included) and one closing line in the plain form CI reads: "N passed, N failed, N skipped".
// CAMPUSLINK_TEST_TIMES=<path> also writes every test's and file's duration there as JSON (for comparing runs).
// Under --parallel the files are timed in the workers by file-times.cjs (see there) and read back here.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const Mocha = require('mocha');
const { Spec } = Mocha.reporters;
const { EVENT_RUN_END, EVENT_TEST_END, EVENT_HOOK_BEGIN, EVENT_HOOK_END, EVENT_SUITE_BEGIN, EVENT_SUITE_END } =
  Mocha.Runner.constants;

const SLOWEST_SHOWN = 25;

function fileOf(runnable) {
  for (let r = runnable; r; r = r.parent) if (r.file) return path.relative(process.cwd(), r.file);
  return '(unknown file)';
}

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Replaces the per-file times with what the workers measured (their events reach the main process late). */
function readWorkerTimes(file, files) {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  } catch (err) {
    process.stderr.write(`no per-file times from the workers (${err.message})\n`);
  }
  for (const line of text.split('\n').filter(Boolean)) {
    const t = JSON.parse(line);
    const entry = files.get(t.file) ?? { file: t.file, tests: 0 };
    files.set(t.file, { ...entry, ms: t.ms, workerCpuMs: t.workerCpuMs, worker: t.worker });
  }
}

class SpecWithSummary extends Spec {
  constructor(runner, options) {
    super(runner, options);
    const tests = [];
    // Per file: wall time from its first suite starting to its last ending (hooks included, which is where
    // servers start), measured here rather than summed from tests so before/after hooks count.
    const files = new Map();
    const hookStart = new Map();
    let hookMsTotal = 0;
    runner.on(EVENT_SUITE_BEGIN, (suite) => {
      if (!suite.file) return;
      const f = fileOf(suite);
      const entry = files.get(f) ?? { file: f, startedAt: Date.now(), ms: 0, depth: 0, tests: 0 };
      if (entry.depth === 0) entry.startedAt = Date.now();
      entry.depth += 1;
      files.set(f, entry);
    });
    runner.on(EVENT_SUITE_END, (suite) => {
      if (!suite.file) return;
      const entry = files.get(fileOf(suite));
      if (!entry) return;
      entry.depth -= 1;
      if (entry.depth === 0) entry.ms += Date.now() - entry.startedAt;
    });
    runner.on(EVENT_HOOK_BEGIN, (hook) => hookStart.set(hook, Date.now()));
    runner.on(EVENT_HOOK_END, (hook) => {
      const t0 = hookStart.get(hook);
      hookStart.delete(hook);
      if (t0 !== undefined) hookMsTotal += Date.now() - t0;
    });
    runner.on(EVENT_TEST_END, (test) => {
      const f = fileOf(test);
      // Under --parallel the suites arrive without their file: the tests make the entry.
      const entry = files.get(f) ?? { file: f, startedAt: Date.now(), ms: 0, depth: 0, tests: 0 };
      entry.tests += 1;
      files.set(f, entry);
      tests.push({ file: f, title: test.fullTitle(), ms: test.duration ?? 0, state: test.state ?? 'pending' });
    });
    const parallel = typeof runner.isParallelMode === 'function' && runner.isParallelMode();
    let workerTimesPath;
    if (parallel) {
      workerTimesPath = path.join(fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'cl-test-times-')), 'files.jsonl');
      // Inherited by the workers, which are forked once the run starts (after this constructor).
      process.env.CAMPUSLINK_TEST_FILE_TIMES = workerTimesPath;
    }
    // Read now: tests of the configuration loaders delete CAMPUSLINK_* variables from process.env.
    const timesPath = process.env.CAMPUSLINK_TEST_TIMES;
    const startedAt = Date.now();
    runner.once(EVENT_RUN_END, () => {
      if (parallel) readWorkerTimes(workerTimesPath, files);
      const s = this.stats;
      const totalMs = Date.now() - startedAt;
      const out = [];
      const slowTests = [...tests].sort((a, b) => b.ms - a.ms).slice(0, SLOWEST_SHOWN);
      out.push('', `Slowest ${slowTests.length} tests (test body only):`);
      for (const t of slowTests) out.push(`  ${seconds(t.ms).padStart(8)}  ${t.file}  ${t.title}`);
      const slowFiles = [...files.values()].sort((a, b) => b.ms - a.ms);
      out.push('', `Slowest ${Math.min(SLOWEST_SHOWN, slowFiles.length)} of ${slowFiles.length} files (hooks included):`);
      for (const f of slowFiles.slice(0, SLOWEST_SHOWN)) {
        const cpu = f.workerCpuMs !== undefined ? `  (worker ${f.worker}, its own CPU ${seconds(f.workerCpuMs)})` : '';
        out.push(`  ${seconds(f.ms).padStart(8)}  ${String(f.tests).padStart(4)} tests  ${f.file}${cpu}`);
      }
      const hooks = parallel ? 'parallel: files timed in their workers' : `hooks ${seconds(hookMsTotal)}`;
      out.push('', `Total ${seconds(totalMs)} (${hooks}), load average ${require('node:os').loadavg().map((l) => l.toFixed(2)).join(' ')}`);
      process.stdout.write(out.join('\n') + '\n');
      if (timesPath) {
        try {
          fs.writeFileSync(timesPath, JSON.stringify({ totalMs, hookMsTotal, files: slowFiles, tests }, null, 1));
        } catch (err) {
          process.stderr.write(`could not write CAMPUSLINK_TEST_TIMES=${timesPath}: ${err.message}\n`);
        }
      }
      process.stdout.write(`${s.passes} passed, ${s.failures} failed, ${s.pending} skipped\n`);
    });
  }
}
module.exports = SpecWithSummary;
