/** The `token` and `viewer` command groups of `campuslink-collector`. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadCollectorConfig } from '../config.js';
import { loadRegistry } from '../registry/load.js';
import { issueToken } from './tokens.js';
import { issueViewer, removeViewer } from './viewers.js';

export interface AuthCommandsOptions {
  /** Reports an error and exits (the CLI decides the exit code). */
  fail: (e: unknown) => never;
}

/** Adds `token …` and `viewer …` to the program. */
export function registerAuthCommands(program: Command, { fail }: AuthCommandsOptions): void {
  const token = program.command('token').description('Manage agent tokens.');
  token
    .command('issue')
    .description("Issue a new token for one school. Prints it as the last line of stdout; only its hash is stored.")
    .requiredOption('-s, --school <id>', '10-digit school id (must be in the registry)')
    .option('-c, --config <file>', 'YAML config file (its stateDir and registry are used)')
    .action((opts: { school: string; config?: string }) => {
      try {
        const config = loadCollectorConfig(opts.config);
        const registry = loadRegistry(resolve(config.registry));
        if (!registry.get(opts.school)) throw Object.assign(new Error(`school ${opts.school} is not in the registry ${config.registry}`), { code: 'COL_ERR_SCHOOL_NOT_REGISTERED' });
        const { token: t, record } = issueToken({ stateDir: resolve(config.stateDir), school: opts.school });
        process.stderr.write(`issued token ${record.id} for school ${record.school}; store it now, it is not shown again\n`);
        process.stdout.write(`${t}\n`);
      } catch (e) {
        fail(e);
      }
    });

  const viewer = program.command('viewer').description('Manage viewer accounts for the read APIs and the console (HTTP Basic).');
  viewer
    .command('add')
    .description('Add a viewer, or give an existing one a new password. Prints the password as the last line of stdout; only its hash is stored.')
    .requiredOption('-n, --name <name>', 'account name (A-Z a-z 0-9 . _ @ -)')
    .option('-c, --config <file>', 'YAML config file (its stateDir is used)')
    .action((opts: { name: string; config?: string }) => {
      try {
        const config = loadCollectorConfig(opts.config);
        const { password, replaced } = issueViewer({ stateDir: resolve(config.stateDir), name: opts.name });
        process.stderr.write(`${replaced ? 'new password for' : 'added'} viewer ${opts.name}; from now on the read APIs and the console need a viewer account; store the password now, it is not shown again\n`);
        process.stdout.write(`${password}\n`);
      } catch (e) {
        fail(e);
      }
    });
  viewer
    .command('remove')
    .description('Remove a viewer. With none left, the read APIs and the console are open again.')
    .requiredOption('-n, --name <name>', 'account name')
    .option('-c, --config <file>', 'YAML config file (its stateDir is used)')
    .action((opts: { name: string; config?: string }) => {
      try {
        const config = loadCollectorConfig(opts.config);
        if (!removeViewer({ stateDir: resolve(config.stateDir), name: opts.name })) throw new Error(`no viewer named ${opts.name}`);
        process.stderr.write(`removed viewer ${opts.name}\n`);
      } catch (e) {
        fail(e);
      }
    });
}
