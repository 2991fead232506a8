/** The one error a bad registry file raises, listing every problem found. */
import type { ErrorCode } from '../../protocol/errors.js';

/** One problem of the registry file: where it is, and what is wrong. */
export interface RegistryProblem {
  /** 1-based physical line (header = 1); null for a problem of the whole file. */
  readonly line: number | null;
  /** The column (header name) the problem is in; null for a problem of a whole row or the file. */
  readonly column: string | null;
  /** What is wrong, e.g. `must be a number > 0, got "abc"`. */
  readonly message: string;
}

/** Problems listed in the error message; the rest are counted. */
export const MAX_LISTED_PROBLEMS = 50;
/** Problems kept in `RegistryError.problems`; the rest are only counted in `total`. */
export const MAX_KEPT_PROBLEMS = 1000;

/** `schools.csv:7 column contracted_mbps: must be a number > 0, got "abc"`. */
export function formatProblem(source: string, p: RegistryProblem): string {
  const where = p.line === null ? source : `${source}:${p.line}`;
  return p.column === null ? `${where}: ${p.message}` : `${where} column ${p.column}: ${p.message}`;
}

/**
 * The registry file is invalid. Thrown once, after the whole file was read, with every problem
 * (sorted by line; the first 50 are in the message). The message does not repeat the code:
 * callers print `${code}: ${message}`.
 */
export class RegistryError extends Error {
  readonly code = 'COL_ERR_REGISTRY_INVALID' satisfies ErrorCode;

  constructor(
    /** The file name (or label) the problems are reported against. */
    readonly source: string,
    /** The problems, sorted by line, at most `MAX_KEPT_PROBLEMS`. */
    readonly problems: readonly RegistryProblem[],
    /** How many problems were found in all (may exceed `problems.length`). */
    readonly total: number = problems.length,
    options?: { cause?: unknown },
  ) {
    const listed = problems.slice(0, MAX_LISTED_PROBLEMS).map((p) => `  ${formatProblem(source, p)}`);
    const more = total - listed.length;
    if (more > 0) listed.push(`  ... and ${more} more problem${more === 1 ? '' : 's'}`);
    super(`invalid schools registry ${source} (${total} problem${total === 1 ? '' : 's'}):\n${listed.join('\n')}`, options);
    this.name = 'RegistryError';
  }
}
