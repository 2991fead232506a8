/** The project's logger: pino, JSON lines to stderr (stdout stays free for command output). */
import { pino, type Logger } from 'pino';

/** Creates a logger for one program (`agent`, `collector`). */
export function createLogger(opts: { name: string; level?: string }): Logger {
  return pino({ name: opts.name, level: opts.level ?? 'info', base: { pid: process.pid } }, pino.destination(2));
}
