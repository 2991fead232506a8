/** What the agent does with a state file it cannot read: set it aside, say so, and go on. */
import { renameSync } from 'node:fs';
import type { Logger } from 'pino';

/**
 * Moves a damaged state file to `<path>.corrupt-<ms>` (kept for a post-mortem, never read again) and logs
 * `AGT_ERR_STATE_CORRUPT` with what the caller does instead. Never throws: a file that cannot even be
 * renamed is left where it is and overwritten by the next durable write.
 */
export function setAside(opts: { path: string; problem: string; instead: string; log?: Logger; now?: () => number }): string | undefined {
  const aside = `${opts.path}.corrupt-${(opts.now ?? Date.now)()}`;
  let moved: string | undefined = aside;
  try {
    renameSync(opts.path, aside);
  } catch {
    moved = undefined;
  }
  opts.log?.error({ code: 'AGT_ERR_STATE_CORRUPT', file: opts.path, movedTo: moved, problem: opts.problem }, `state file unreadable (${opts.problem}); ${opts.instead}`);
  return moved;
}

/** The file's text, undefined when it does not exist; other read errors (EIO) are thrown to the caller. */
export function readIfExists(read: () => string): string | undefined {
  try {
    return read();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}
