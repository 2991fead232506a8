/** A small tmpfs the test mounts itself (root only), to make a filesystem full for real. */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tmpfs {
  dir: string;
  /** Free bytes now (statfs). */
  free(): number;
  /**
   * Writes a filler file until at most `leaveBytes` are free (0: until the disk refuses); returns its path.
   * Stands for another program filling the disk.
   */
  fill(name: string, leaveBytes?: number): string;
  unmount(): void;
}

/** Whether this process may mount (root, `mount` present). */
export function canMount(): boolean {
  return process.getuid?.() === 0 && spawnSync('mount', ['--version']).status === 0;
}

/** Mounts a tmpfs of `sizeBytes` on a fresh temporary directory. */
export function mountTmpfs(sizeBytes: number): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), 'cl-tmpfs-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount tmpfs: ${r.stderr}`);
  const free = () => {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  };
  return {
    dir,
    free,
    fill(name, leaveBytes = 0) {
      const path = join(dir, name);
      const fd = openSync(path, 'a');
      const page = Buffer.alloc(4096, 0x5a);
      try {
        while (free() > leaveBytes) {
          const want = Math.min(page.length, free() - leaveBytes);
          writeSync(fd, page, 0, want);
        }
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      } finally {
        closeSync(fd);
      }
      return path;
    },
    unmount() {
      spawnSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
