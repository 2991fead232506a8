/**
 * The agent state's epoch (`<stateDir>/epoch`): a random id made when the state is created, sent in every
 * report. The collector dedupes and finds gaps per (agent, epoch), so an agent whose state was lost
 * (reflashed, state on tmpfs, SD card replaced, a damaged `seq`) or a second box with the same agent id
 * starts a sequence space of its own instead of having its reports taken for repeats.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { writeFileDurable } from '../../protocol/durable.js';
import { readIfExists, setAside } from './damaged.js';

const EPOCH = /^[0-9a-z]{8,32}$/;

export interface EpochStoreOptions {
  /** Whether a `seq` file existed: with it and no epoch file, the state predates epochs (legacy epoch). */
  legacyState: boolean;
  /** Force a new epoch (the sequence state was damaged). */
  renew?: boolean;
  log?: Logger;
  now?: () => number;
}

/** A new epoch id: 16 hex digits (64 random bits). */
export function newEpoch(): string {
  return randomBytes(8).toString('hex');
}

export class EpochStore {
  private readonly path: string;
  /** The epoch this state counts in; undefined: the legacy epoch (state made by an agent older than epochs). */
  readonly epoch: string | undefined;
  /** Whether this start made a new epoch (first start, lost or damaged state). */
  readonly started: boolean = false;

  constructor(stateDir: string, opts: EpochStoreOptions) {
    this.path = join(stateDir, 'epoch');
    let text: string | undefined;
    let problem: string | undefined;
    try {
      text = readIfExists(() => readFileSync(this.path, 'utf8'))?.trim();
    } catch (e) {
      problem = String((e as Error).message ?? e);
    }
    if (text !== undefined && !EPOCH.test(text)) problem = `not an epoch: ${JSON.stringify(text.slice(0, 40))}`;
    if (problem !== undefined) setAside({ path: this.path, problem, instead: 'a new epoch starts', log: opts.log, now: opts.now });
    if (!opts.renew && problem === undefined && text !== undefined) {
      this.epoch = text;
      return;
    }
    if (!opts.renew && problem === undefined && opts.legacyState) {
      // An upgraded agent: its sequence goes on in the legacy epoch, so nothing it sent is counted twice.
      this.epoch = undefined;
      return;
    }
    this.epoch = newEpoch();
    this.started = true;
    try {
      writeFileDurable(this.path, `${this.epoch}\n`);
    } catch (e) {
      // Kept in memory: the next start makes another epoch, which the collector records as one more reset.
      opts.log?.error({ code: 'AGT_ERR_STATE_CORRUPT', file: this.path, err: String(e) }, 'epoch could not be written; it holds until the agent restarts');
    }
  }
}
