/**
 * Viewer accounts for the read side: the coverage, compliance and device APIs and the console. Device
 * lists name the MAC and IP addresses of a school's equipment, so a collector reachable beyond the
 * operators' own network should not serve them to anyone.
 *
 * Accounts are issued with `campuslink-collector viewer add`, which prints a random password once;
 * only its SHA-256 is kept, in `<stateDir>/viewers.json` (random 144-bit passwords cannot be guessed,
 * so no stretching is needed, as with agent tokens). With no account the read side stays open, as
 * before, and the collector says so at start. Browsers ask for HTTP Basic credentials by themselves,
 * so the console works unchanged behind it.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import { writeFileDurable } from '../../protocol/durable.js';
import { sendError } from '../http/errors.js';
import { FileBacked, readStateFile } from './state-file.js';

/** One viewer account, as stored. */
export interface ViewerRecord {
  name: string;
  sha256: string;
  issuedAt: string;
}

interface ViewerFile {
  version: 1;
  viewers: ViewerRecord[];
}

/** What a viewer name may be: no colon (HTTP Basic splits there), no spaces. */
export const VIEWER_NAME = /^[A-Za-z0-9._@-]{1,64}$/;

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/** Path of the viewer file under a state directory. */
export function viewerFilePath(stateDir: string): string {
  return join(stateDir, 'viewers.json');
}

function readViewers(path: string): ViewerFile {
  return readStateFile(path, { what: 'viewer', empty: () => ({ version: 1, viewers: [] }), valid: (x): x is ViewerFile => (x as ViewerFile)?.version === 1 && Array.isArray((x as ViewerFile).viewers) });
}

/** Creates a viewer, or gives an existing one a new password; returns the password (shown once, never stored). */
export function issueViewer(opts: { stateDir: string; name: string; now?: () => number }): { password: string; record: ViewerRecord; replaced: boolean } {
  if (!VIEWER_NAME.test(opts.name)) throw new Error(`viewer name "${opts.name}" must be 1-64 characters of A-Z a-z 0-9 . _ @ -`);
  const path = viewerFilePath(opts.stateDir);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const password = randomBytes(18).toString('base64url');
  const record: ViewerRecord = { name: opts.name, sha256: sha256(password), issuedAt: new Date((opts.now ?? Date.now)()).toISOString() };
  const file = readViewers(path);
  const replaced = file.viewers.some((v) => v.name === opts.name);
  file.viewers = [...file.viewers.filter((v) => v.name !== opts.name), record];
  writeFileDurable(path, JSON.stringify(file, null, 2) + '\n');
  return { password, record, replaced };
}

/** Removes a viewer; false when there was none of that name. */
export function removeViewer(opts: { stateDir: string; name: string }): boolean {
  const path = viewerFilePath(opts.stateDir);
  const file = readViewers(path);
  const kept = file.viewers.filter((v) => v.name !== opts.name);
  if (kept.length === file.viewers.length) return false;
  writeFileDurable(path, JSON.stringify({ ...file, viewers: kept }, null, 2) + '\n');
  return true;
}

/** What the app needs to check viewers. */
export interface ViewerVerifier {
  /** Number of accounts; 0 leaves the read side open. */
  readonly size: number;
  verify(name: string, password: string): boolean;
}

/** Looks viewers up by name; re-reads the file when it changed, so accounts added while serving work at once. */
export class ViewerStore implements ViewerVerifier {
  private readonly byName: FileBacked<Map<string, ViewerRecord>>;

  constructor(stateDir: string) {
    const path = viewerFilePath(stateDir);
    this.byName = new FileBacked(path, () => new Map(readViewers(path).viewers.map((v) => [v.name, v])));
    void this.byName.value;
  }

  get size(): number {
    return this.byName.value.size;
  }

  verify(name: string, password: string): boolean {
    const rec = this.byName.value.get(name);
    // Compare digests in constant time; an unknown name costs the same hash as a known one.
    const presented = Buffer.from(sha256(password), 'hex');
    return rec !== undefined && timingSafeEqual(presented, Buffer.from(rec.sha256, 'hex'));
  }
}

/** Express middleware: lets a request through when there are no viewers or its Basic credentials are a viewer's. */
export function requireViewer(viewers: ViewerVerifier): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    if (viewers.size === 0) return next();
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.get('authorization') ?? '');
    const decoded = m?.[1] ? Buffer.from(m[1], 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (colon > 0 && viewers.verify(decoded.slice(0, colon), decoded.slice(colon + 1))) return next();
    res.set('WWW-Authenticate', 'Basic realm="campuslink", charset="UTF-8"');
    sendError(res, 'COL_ERR_VIEWER_UNAUTHENTICATED', m ? 'unknown viewer or wrong password' : 'this collector needs a viewer account (HTTP Basic); ask its operator for one');
  };
}
