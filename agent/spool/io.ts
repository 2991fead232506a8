/**
 * Spool file I/O that never leaves a record looking complete when it is not: whole-buffer writes that
 * detect short writes and cut a partial record off again, and the error codes that say "disk full".
 */
import { closeSync, fsyncSync, ftruncateSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { fsyncDir } from '../../protocol/durable.js';

/** True for the errors of a full disk or an exhausted quota. */
export function isNoSpace(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** The catalogue code of a spool write failure: full (ENOSPC, EDQUOT) or any other I/O error. */
export function spoolErrorCode(e: unknown): 'AGT_ERR_SPOOL_FULL' | 'AGT_ERR_SPOOL_IO' {
  return isNoSpace(e) ? 'AGT_ERR_SPOOL_FULL' : 'AGT_ERR_SPOOL_IO';
}

/**
 * Writes all of `buf` at `position` (or at the end of an O_APPEND file when `position` is null) and
 * fsyncs. A short write is retried for the rest; when the disk refuses the rest, the file is cut back to
 * `restoreSize` so no partial record is left behind (a torn tail would otherwise be read as damage),
 * and the error is thrown.
 */
export function writeRecordSync(fd: number, buf: Buffer, position: number | null, restoreSize: number): void {
  let done = 0;
  try {
    while (done < buf.length) {
      const n = writeSync(fd, buf, done, buf.length - done, position === null ? null : position + done);
      if (n <= 0) throw Object.assign(new Error('short write: the disk accepted 0 bytes'), { code: 'ENOSPC' });
      done += n;
    }
    fsyncSync(fd);
  } catch (e) {
    try {
      ftruncateSync(fd, restoreSize);
    } catch {
      // Cutting a file shorter needs no space; if even that fails the reader's checksum still finds the tear.
    }
    throw e;
  }
}

/**
 * Replaces `path` with `data` atomically (temp file, full write checked, fsync, rename, directory fsync).
 * On failure the old file stays as it was and the temp file is removed, so a full disk keeps no half file.
 */
export function replaceFileSync(path: string, data: Buffer): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeRecordSync(fd, data, 0, 0);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dirname(path));
}
