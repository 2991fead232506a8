/**
 * The collector's last line of defence against a promise that rejects with nobody waiting for it: Node's
 * default ends the process, which for a collector means every school's uploads fail until a restart. Such a
 * rejection is a bug (every write, timer and callback is meant to catch its own errors); it is logged loudly
 * with `COL_ERR_INTERNAL` and counted, and the collector goes on serving. Nothing awaited the promise, so no
 * request is left unanswered by going on.
 */
import type { Logger } from 'pino';

/** What the guard logs and counts; `uninstall` puts Node's default back. */
export interface RejectionGuard {
  /** Rejections seen with nobody waiting, since the guard was installed. */
  count(): number;
  uninstall(): void;
}

/** Installs the guard on `proc` (default the process). */
export function installRejectionGuard(opts: { log: Pick<Logger, 'error'>; proc?: NodeJS.EventEmitter }): RejectionGuard {
  const proc = opts.proc ?? process;
  let seen = 0;
  const onRejection = (reason: unknown) => {
    seen++;
    const err = reason instanceof Error ? (reason.stack ?? reason.message) : String(reason);
    opts.log.error({ code: 'COL_ERR_INTERNAL', err, unhandledRejections: seen }, 'a promise rejected with nobody waiting for it (a bug in the collector); logged, the collector goes on');
  };
  proc.on('unhandledRejection', onRejection);
  return { count: () => seen, uninstall: () => void proc.removeListener('unhandledRejection', onRejection) };
}
