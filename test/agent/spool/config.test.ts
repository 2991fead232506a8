import { rmSync, type statfsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { DEFAULT_MAX_SPOOL_BYTES, MIN_DEFAULT_SPOOL_BYTES, defaultSpoolBytes, spoolSectionSchema } from '../../../agent/spool/config.js';
import { agentConfigSchema } from '../../../agent/config.js';
import { canMount, mountTmpfs, type Tmpfs } from './tmpfs.js';

const MiB = 1024 * 1024;

/** A statfs that reports `free` bytes available. */
const statfsWith = (free: number) => (() => ({ bavail: free / 4096, bsize: 4096 })) as unknown as typeof statfsSync;

describe('agent/spool/config', () => {
  let fs: Tmpfs;
  before(function () {
    if (!canMount()) throw new Error('needs root to mount a tmpfs (CI runs as root)');
    fs = mountTmpfs(8 * MiB);
  });
  after(() => fs?.unmount());

  it('maxSpoolBytes defaults to half the free space above minFreeBytes of the spool\'s filesystem, read from its nearest existing parent', () => {
    const spool = spoolSectionSchema.parse({ dir: join(fs.dir, 'not', 'yet', 'spool') });
    const expected = Math.floor((fs.free() - spool.minFreeBytes) / 2);
    expect(spool.maxSpoolBytes).to.equal(expected);
    expect(spool.maxSpoolBytes).to.be.below(4 * MiB);
    // The whole agent config gets the same default.
    const config = agentConfigSchema.parse({ school: '1640104001', spool: { dir: join(fs.dir, 'spool') } });
    expect(config.spool.maxSpoolBytes).to.equal(expected);
  });

  it('a fuller filesystem gives a smaller default, and an explicit maxSpoolBytes is kept as it is', () => {
    const filler = fs.fill('other-program', 5 * MiB);
    try {
      const smaller = spoolSectionSchema.parse({ dir: fs.dir }).maxSpoolBytes;
      expect(smaller).to.be.at.most(2 * MiB);
      expect(spoolSectionSchema.parse({ dir: fs.dir, maxSpoolBytes: 32 * MiB }).maxSpoolBytes).to.equal(32 * MiB);
    } finally {
      rmSync(filler, { force: true });
    }
  });

  it('defaultSpoolBytes() stays within 1 MiB and 64 MiB, and is 64 MiB when the free space cannot be read', () => {
    expect(defaultSpoolBytes('/x', MiB, statfsWith(100 * 1024 * MiB))).to.equal(DEFAULT_MAX_SPOOL_BYTES);
    expect(defaultSpoolBytes('/x', MiB, statfsWith(512 * 1024))).to.equal(MIN_DEFAULT_SPOOL_BYTES);
    expect(defaultSpoolBytes('/x', MiB, statfsWith(21 * MiB))).to.equal(10 * MiB);
    const denied = (() => {
      throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
    }) as unknown as typeof statfsSync;
    expect(defaultSpoolBytes('/x', MiB, denied)).to.equal(DEFAULT_MAX_SPOOL_BYTES);
  });
});
