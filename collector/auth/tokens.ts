/**
 * Agent tokens. Each token belongs to exactly one school; only its SHA-256 hash is stored,
 * in `<stateDir>/tokens.json`. Tokens are 256 random bits, so a plain hash is enough
 * (no password stretching is needed for secrets that cannot be guessed).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileDurable } from '../../protocol/durable.js';
import { FileBacked, readStateFile } from './state-file.js';

/** One issued token, as stored. */
export interface TokenRecord {
  /** Short public id (first 12 hex digits of the hash) for logs and revocation. */
  id: string;
  school: string;
  sha256: string;
  issuedAt: string;
}

interface TokenFile {
  version: 1;
  tokens: TokenRecord[];
}

/** Prefix of every campuslink agent token, so leaked tokens are recognisable. */
export const TOKEN_PREFIX = 'clk1_';

function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Path of the token file under a state directory. */
export function tokenFilePath(stateDir: string): string {
  return join(stateDir, 'tokens.json');
}

function readFile(path: string): TokenFile {
  return readStateFile(path, { what: 'token', empty: () => ({ version: 1, tokens: [] }), valid: (x): x is TokenFile => (x as TokenFile)?.version === 1 && Array.isArray((x as TokenFile).tokens) });
}

/** Creates a token for a school, stores its hash, and returns the token (shown once, never stored). */
export function issueToken(opts: { stateDir: string; school: string; now?: () => number }): { token: string; record: TokenRecord } {
  const path = tokenFilePath(opts.stateDir);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const sha256 = hashToken(token);
  const record: TokenRecord = {
    id: sha256.slice(0, 12),
    school: opts.school,
    sha256,
    issuedAt: new Date((opts.now ?? Date.now)()).toISOString(),
  };
  const file = readFile(path);
  file.tokens.push(record);
  // Durable before the token is printed: a token shown but lost in a power cut would lock its agent out.
  writeFileDurable(path, JSON.stringify(file, null, 2) + '\n');
  return { token, record };
}

/** Looks tokens up by hash; re-reads the file when it changed, so tokens issued while serving work at once. */
export class TokenStore {
  private readonly byHash: FileBacked<Map<string, TokenRecord>>;

  constructor(stateDir: string) {
    const path = tokenFilePath(stateDir);
    this.byHash = new FileBacked(path, () => new Map(readFile(path).tokens.map((t) => [t.sha256, t])));
    void this.byHash.value;
  }

  /** Number of tokens known. */
  get size(): number {
    return this.byHash.value.size;
  }

  /** The record of a presented token, or undefined when unknown. */
  verify(token: string): TokenRecord | undefined {
    // Looking up the hash (not the token) keeps timing independent of how much of a guess matches.
    return this.byHash.value.get(hashToken(token));
  }
}
