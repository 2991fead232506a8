/** Finding the programs the collector starts as children (influxd, HAProxy). */
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import path from 'node:path';

/** True when `file` is a regular file this process may execute. */
export function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves an executable: `binary` itself (absolute) when it contains a slash, else the first match in the
 * directories of `pathEnv`, then of `extraDirs`. Undefined when none is executable.
 */
export function findExecutable(binary: string, pathEnv = process.env.PATH ?? '', extraDirs: readonly string[] = []): string | undefined {
  if (binary.includes('/')) return isExecutableFile(binary) ? path.resolve(binary) : undefined;
  for (const dir of [...pathEnv.split(path.delimiter), ...extraDirs]) {
    if (!dir) continue;
    const candidate = path.join(dir, binary);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}
