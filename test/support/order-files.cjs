// Prints every test file (test/**/*.test.ts), one a line, the slowest first, for `mocha --parallel`:
// mocha hands files to its workers in the order given, so the long ones starting first keeps one worker
// from being left alone with a 2-minute file at the end. The weights are seconds per file from a measured
// run (file-weights.json); a file not in it counts as WEIGHT_UNKNOWN_S. Order only: every file is listed.
//   node test/support/order-files.cjs                          # the ordered list
//   node test/support/order-files.cjs --update <times.json>    # new weights from CAMPUSLINK_TEST_TIMES output
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const WEIGHTS = path.join(__dirname, 'file-weights.json');
const WEIGHT_UNKNOWN_S = 5;

function testFiles(dir) {
  const out = [];
  for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...testFiles(rel));
    else if (entry.name.endsWith('.test.ts')) out.push(rel);
  }
  return out;
}

function readWeights() {
  try {
    return JSON.parse(fs.readFileSync(WEIGHTS, 'utf8'));
  } catch (err) {
    if (err.code === 'ENOENT') return {};
    throw new Error(`${WEIGHTS}: ${err.message}`);
  }
}

if (process.argv[2] === '--update') {
  const times = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
  const weights = {};
  for (const f of [...times.files].sort((a, b) => a.file.localeCompare(b.file))) weights[f.file] = Math.round(f.ms / 100) / 10;
  fs.writeFileSync(WEIGHTS, JSON.stringify(weights, null, 1) + '\n');
  process.stderr.write(`${Object.keys(weights).length} file weights written to ${path.relative(ROOT, WEIGHTS)}\n`);
} else {
  const weights = readWeights();
  const weight = (f) => (typeof weights[f] === 'number' ? weights[f] : WEIGHT_UNKNOWN_S);
  const files = testFiles('test').sort((a, b) => weight(b) - weight(a) || a.localeCompare(b));
  process.stdout.write(files.join('\n') + '\n');
}
