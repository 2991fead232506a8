/** The JSON files of the auth stores (tokens, viewers): read with a check, and re-read when they change. */
import { readFileSync, statSync } from 'node:fs';

/** Reads a JSON state file; a missing file is `empty()`, a file that fails `valid` throws naming it. */
export function readStateFile<T>(path: string, opts: { valid: (x: unknown) => x is T; empty: () => T; what: string }): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return opts.empty();
    throw e;
  }
  if (!opts.valid(parsed)) throw new Error(`${path}: not a campuslink ${opts.what} file`);
  return parsed;
}

/** A value built from a file, built again whenever the file's mtime changes (or it appears or goes). */
export class FileBacked<T> {
  private mtimeMs = -1;
  private current: T | undefined;

  constructor(
    private readonly path: string,
    private readonly build: () => T,
  ) {}

  get value(): T {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(this.path).mtimeMs;
    } catch {
      mtimeMs = 0;
    }
    if (mtimeMs !== this.mtimeMs || this.current === undefined) {
      this.current = this.build();
      this.mtimeMs = mtimeMs;
    }
    return this.current;
  }
}
