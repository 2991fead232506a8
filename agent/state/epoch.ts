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

/** Earlier epochs remembered as aliases of the current one (a clone's reports are re-sent under the new epoch). */
export const MAX_EPOCH_ALIASES = 4;
/** How the legacy epoch is written among the aliases (not hex: never a real epoch). */
const LEGACY_ALIAS = 'legacyepoch';

export class EpochStore {
  private readonly path: string;
  private current: string | undefined;
  /** Earlier epochs of this state whose unsent reports go out under the current one (after a clone was found). */
  private readonly aliases: string[] = [];
  /** Whether this start made a new epoch (first start, lost or damaged state). */
  readonly started: boolean = false;

  /** The epoch this state counts in; undefined: the legacy epoch (state made by an agent older than epochs). */
  get epoch(): string | undefined {
    return this.current;
  }

  constructor(stateDir: string, opts: EpochStoreOptions) {
    this.path = join(stateDir, 'epoch');
    let text: string | undefined;
    let problem: string | undefined;
    try {
      const lines = readIfExists(() => readFileSync(this.path, 'utf8'))?.split('\n').map((l) => l.trim());
      text = lines?.[0];
      for (const l of lines?.slice(1) ?? []) if (EPOCH.test(l) && this.aliases.length < MAX_EPOCH_ALIASES) this.aliases.push(l);
    } catch (e) {
      problem = String((e as Error).message ?? e);
    }
    if (text !== undefined && !EPOCH.test(text)) problem = `not an epoch: ${JSON.stringify(text.slice(0, 40))}`;
    if (problem !== undefined) setAside({ path: this.path, problem, instead: 'a new epoch starts', log: opts.log, now: opts.now });
    if (!opts.renew && problem === undefined && text !== undefined) {
      this.current = text;
      return;
    }
    if (!opts.renew && problem === undefined && opts.legacyState) {
      // An upgraded agent: its sequence goes on in the legacy epoch, so nothing it sent is counted twice.
      this.current = undefined;
      return;
    }
    this.aliases.length = 0;
    this.current = newEpoch();
    this.started = true;
    this.save(opts.log);
  }

  private save(log?: Logger): void {
    try {
      writeFileDurable(this.path, [this.current, ...this.aliases].join('\n') + '\n');
    } catch (e) {
      // Kept in memory: the next start makes another epoch, which the collector records as one more reset.
      log?.error({ code: 'AGT_ERR_STATE_CORRUPT', file: this.path, err: String(e) }, 'epoch could not be written; it holds until the agent restarts');
    }
  }

  /**
   * Starts a new epoch now (another install was found using this one): the old epoch becomes an alias, so
   * its reports still in the spool go out under the new one. Returns the new epoch.
   */
  renew(log?: Logger): string {
    this.aliases.unshift(this.current ?? LEGACY_ALIAS);
    this.aliases.splice(MAX_EPOCH_ALIASES);
    this.current = newEpoch();
    this.save(log);
    return this.current;
  }

  /** The epoch a spooled report goes out under: the current one when its own is an alias (or legacy, after a renewal). */
  sendAs(epoch: string | undefined): string | undefined {
    return epoch !== this.current && this.aliases.includes(epoch ?? LEGACY_ALIAS) ? this.current : epoch;
  }
}
