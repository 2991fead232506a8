import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { writeFileDurable, writeFileDurableAsync } from '../../protocol/durable.js';

describe('protocol/durable', () => {
  let dir: string;
  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'clk-durable-'));
    // A 64 KiB filesystem of our own, so "disk full" is real and touches nothing else.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
  });
  after(() => {
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('writeFileDurable() on a full disk throws, keeps the old content and leaves no temporary file', () => {
    const path = join(dir, 'state.json');
    writeFileDurable(path, 'old');
    expect(() => writeFileDurable(path, Buffer.alloc(256 * 1024, 1))).to.throw(/ENOSPC/);
    expect(readFileSync(path, 'utf8')).to.equal('old');
    expect(readdirSync(dir)).to.deep.equal(['state.json']);
  });

  it('writeFileDurableAsync() on a full disk rejects, keeps the old content and leaves no temporary file', async () => {
    const path = join(dir, 'async.json');
    await writeFileDurableAsync(path, 'old');
    let err: unknown;
    await writeFileDurableAsync(path, Buffer.alloc(256 * 1024, 1)).catch((e: unknown) => (err = e));
    expect(String(err)).to.match(/ENOSPC/);
    expect(readFileSync(path, 'utf8')).to.equal('old');
    expect(readdirSync(dir).filter((f) => f.startsWith('async'))).to.deep.equal(['async.json']);
    expect(existsSync(join(dir, 'state.json'))).to.equal(true);
  });
});
