/** The `state` command group of `campuslink-collector`: backup of the state database. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadCollectorConfig } from '../config.js';
import { openStateDb } from './db.js';

export interface StateCommandsOptions {
  /** Reports an error and exits (the CLI decides the exit code). */
  fail: (e: unknown) => never;
}

/** Adds `state backup` to the program. */
export function registerStateCommands(program: Command, { fail }: StateCommandsOptions): void {
  const state = program.command('state').description('The collector state database (<stateDir>/state.db).');
  state
    .command('backup')
    .description('Copy the state database into a new file, consistently, also while the collector serves (SQLite online backup).')
    .requiredOption('--to <file>', 'the backup file to create (an existing file is refused)')
    .option('-c, --config <file>', 'YAML config file (its stateDir is used)')
    .action(async (opts: { to: string; config?: string }) => {
      try {
        const to = resolve(opts.to);
        if (existsSync(to)) throw new Error(`${to} exists; give a new file`);
        const config = loadCollectorConfig(opts.config);
        const db = openStateDb({ stateDir: resolve(config.stateDir) });
        try {
          const { totalPages } = await db.db.backup(to);
          process.stderr.write(`backed up ${db.path} (${totalPages} pages) to ${to}\n`);
        } finally {
          await db.close();
        }
      } catch (e) {
        fail(e);
      }
    });
}
