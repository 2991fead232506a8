// Root hooks that time each test file, hooks included, for the reporter's "slowest files" table.
// Only needed under `mocha --parallel`: a worker runs one file per mocha run (so the root beforeAll/afterAll
// bracket exactly one file) and the main process sees that file's events replayed at once when it is done,
// too late to time them. The worker appends one JSON line per file to CAMPUSLINK_TEST_FILE_TIMES, which the
// reporter set before the workers were forked. In a serial run this does nothing (the reporter times files itself).
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

// Read at load: tests of the configuration loaders clear CAMPUSLINK_* variables from process.env.
const OUT = process.env.CAMPUSLINK_TEST_FILE_TIMES;
const IN_WORKER = process.env.MOCHA_WORKER_ID !== undefined;
let startedAt = 0;
let cpuAt;

exports.mochaHooks = {
  beforeAll() {
    startedAt = Date.now();
    cpuAt = process.cpuUsage();
  },
  afterAll() {
    const out = OUT;
    if (!out || !IN_WORKER) return;
    const file = this.test?.parent?.suites?.find((s) => s.file)?.file ?? this.test?.parent?.file;
    if (!file) return;
    const cpu = process.cpuUsage(cpuAt);
    const line = {
      file: path.relative(process.cwd(), file),
      ms: Date.now() - startedAt,
      workerCpuMs: Math.round((cpu.user + cpu.system) / 1000),
      worker: Number(process.env.MOCHA_WORKER_ID),
      loadavg1: os.loadavg()[0],
    };
    try {
      fs.appendFileSync(out, JSON.stringify(line) + '\n');
    } catch (err) {
      process.stderr.write(`could not append to CAMPUSLINK_TEST_FILE_TIMES=${out}: ${err.message}\n`);
    }
  },
};
