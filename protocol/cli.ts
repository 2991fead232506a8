/** What both command-line programs share: exit codes, how an error is printed, the package version. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from './config.js';

/** Exit codes of `campuslink-agent` and `campuslink-collector`, as the README lists them. */
export const EXIT = {
  ok: 0,
  /** Not delivered (the report stays in the spool), or a start-up failure. */
  failed: 1,
  /** The config (file, environment or the registry it names) is invalid. */
  invalidConfig: 2,
} as const;

/** Whether `e` says the configuration is invalid (exit code 2) rather than that something failed. */
export function isConfigProblem(e: unknown): boolean {
  return e instanceof ConfigError || (e as { code?: unknown } | null)?.code === 'COL_ERR_REGISTRY_INVALID';
}

/** The message an operator sees for `e` on stderr: config problems without a stack, codes first. */
export function errorText(e: unknown, opts: { stack?: boolean } = {}): string {
  const err = e as Error & { code?: string };
  if (e instanceof ConfigError) return err.message;
  const body = opts.stack ? (err.stack ?? err.message) : err.message;
  return `${err.code && !body.startsWith(`${err.code}:`) ? `${err.code}: ` : ''}${body}`;
}

/**
 * The `version` of the nearest package.json above `fromDir` (the source tree and `dist/` both find
 * the repository's), or undefined when there is none (a bundle copied alone).
 */
export function packageVersion(fromDir: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'campuslink' && pkg.version) return pkg.version;
    } catch {
      // No package.json here: look further up.
    }
    if (dirname(dir) === dir) return undefined;
  }
}
