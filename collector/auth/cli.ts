/** The `token` and `viewer` command groups of `campuslink-collector`. */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { createLogger } from '../../protocol/log.js';
import { loadCollectorConfig } from '../config.js';
import { loadRegistry } from '../registry/load.js';
import { registryLoadOptions } from '../registry/options.js';
import type { Registry } from '../registry/registry.js';
import { openStateDb, type StateDb } from '../state/db.js';
import { importLegacyAuth } from '../state/legacy.js';
import { issueToken, issueTokens, schoolsWithTokens } from './tokens.js';
import { registerEnrollCommands } from '../enroll/cli.js';
import { registerLifecycleCommands } from './lifecycle-cli.js';
import { cliActor, recordAudit, selectionSubject } from './audit.js';
import { checkScope, parseRole, registerScopeCommands } from './scope-cli.js';
import { issueViewer, removeViewer } from './viewers.js';

export interface AuthCommandsOptions {
  /** Reports an error and exits (the CLI decides the exit code). */
  fail: (e: unknown) => never;
}

/** Options of a bulk command over the registry. */
export interface IssueOptions {
  school?: string;
  all?: boolean;
  region?: string;
  missing?: boolean;
  out?: string;
  config?: string;
}

export const notRegistered = (msg: string) => Object.assign(new Error(msg), { code: 'COL_ERR_SCHOOL_NOT_REGISTERED' });

/** Schools of the registry a bulk issue covers, in registry order. */
export function bulkSchools(registry: Registry, opts: IssueOptions): string[] {
  const code = opts.region;
  if (code !== undefined && !registry.region(code)) throw notRegistered(`no school of the registry is under region ${code}`);
  const out: string[] = [];
  for (const s of registry.schools.values()) {
    if (code === undefined || s.provinceCode === code || s.cityCode === code || s.countyCode === code) out.push(s.id);
  }
  return out;
}

/** Writes CSV lines in chunks of about 64 KiB, so 250,000 tokens never make one string. */
export function csvWriter(fd: number): { line(s: string): void; end(): void } {
  let buf: string[] = [];
  let size = 0;
  const flush = () => {
    if (!buf.length) return;
    writeSync(fd, buf.join(''));
    buf = [];
    size = 0;
  };
  return {
    line(s) {
      buf.push(s);
      size += s.length;
      if (size >= 65_536) flush();
    },
    end: flush,
  };
}

async function issueCommand(opts: IssueOptions): Promise<void> {
  const modes = [opts.school !== undefined, !!opts.all, opts.region !== undefined].filter(Boolean).length;
  if (modes !== 1) throw new Error('give exactly one of --school <id>, --all, --region <code>');
  if (opts.school !== undefined && (opts.out || opts.missing)) throw new Error('--out and --missing go with --all or --region');
  const config = loadCollectorConfig(opts.config);
  const registry = loadRegistry(resolve(config.registry), registryLoadOptions(config));
  const state = openStateDb({ stateDir: resolve(config.stateDir) });
  try {
    importLegacyAuth({ state, stateDir: resolve(config.stateDir), log: stderrLog });
    if (opts.school !== undefined) {
      if (!registry.get(opts.school)) throw notRegistered(`school ${opts.school} is not in the registry ${config.registry}`);
      const { token: t, record } = issueToken({ state, school: opts.school });
      recordAudit(state, { actor: cliActor(), action: 'token.issue', subject: opts.school, detail: `token ${record.id}` });
      process.stderr.write(`issued token ${record.id} for school ${record.school}; store it now, it is not shown again\n`);
      process.stdout.write(`${t}\n`);
      return;
    }
    let schools = bulkSchools(registry, opts);
    if (opts.missing) {
      const have = schoolsWithTokens(state);
      schools = schools.filter((s) => !have.has(s));
    }
    // The file exists (0600, empty) before any token is issued: a refused path costs no tokens.
    const fd = opts.out ? openSync(opts.out, 'wx', 0o600) : 1;
    const csv = csvWriter(fd);
    csv.line('school,token_id,token\n');
    const n = issueTokens({ state, schools, onIssued: (t, r) => csv.line(`${r.school},${r.id},${t}\n`) });
    recordAudit(state, { actor: cliActor(), action: 'token.issue', subject: selectionSubject(opts), detail: `${n} tokens${opts.missing ? ' (schools without one)' : ''}` });
    csv.end();
    if (opts.out) {
      fsyncSync(fd);
      closeSync(fd);
    }
    process.stderr.write(`issued ${n} tokens${opts.region ? ` for region ${opts.region}` : ''}${opts.out ? ` into ${opts.out}` : ''}; store them now, they are not shown again\n`);
  } finally {
    await state.close();
  }
}

/** The CLI's log for a state migration: one JSON line on stderr, as the server would log it. */
export const stderrLog = createLogger({ name: 'collector' });

/** Runs `work` on the state database of `stateDir`, after importing the old auth files once. */
export function withAuthState<T>(stateDir: string, work: (state: StateDb) => T): T {
  const state = openStateDb({ stateDir });
  try {
    importLegacyAuth({ state, stateDir, log: stderrLog });
    return work(state);
  } finally {
    void state.close();
  }
}

/** Adds `token …` and `viewer …` to the program. */
export function registerAuthCommands(program: Command, { fail }: AuthCommandsOptions): void {
  const token = program.command('token').description('Manage agent tokens.');
  token
    .command('issue')
    .description(
      'Issue a new token for one school (printed as the last line of stdout), or one per school of the registry (--all) or of a region (--region), as CSV school,token_id,token. Only hashes are stored; bulk issue is one transaction.',
    )
    .option('-s, --school <id>', '10-digit school id (must be in the registry)')
    .option('--all', 'every school of the registry')
    .option('--region <code>', 'every school of this province, city or county (GB/T 2260 code of the registry)')
    .option('--missing', 'with --all or --region: only schools that have no token yet')
    .option('-o, --out <file>', 'with --all or --region: write the CSV to this new file (created 0600; an existing file is refused) instead of stdout')
    .option('-c, --config <file>', 'YAML config file (its stateDir and registry are used)')
    .action(async (opts: IssueOptions) => {
      try {
        await issueCommand(opts);
      } catch (e) {
        fail(e);
      }
    });

  const viewer = program.command('viewer').description('Manage viewer accounts for the read APIs and the console (HTTP Basic).');
  viewer
    .command('add')
    .description('Add a viewer, or give an existing one a new password. Prints the password as the last line of stdout; only its hash is stored.')
    .requiredOption('-n, --name <name>', 'account name (A-Z a-z 0-9 . _ @ -)')
    .option('--scope <code>', 'region the account sees: a province, city or county code of the registry, 000000 the nation (default; an existing account keeps its own)')
    .option('--role <role>', 'viewer (reads), operator (also acknowledges alerts, edits maintenance windows) or admin (default viewer; an existing account keeps its own)')
    .option('--by <who>', 'who makes the change, for the audit log (default: the OS user)')
    .option('-c, --config <file>', 'YAML config file (its stateDir is used)')
    .action((opts: { name: string; scope?: string; role?: string; by?: string; config?: string }) => {
      try {
        const config = loadCollectorConfig(opts.config);
        const stateDir = resolve(config.stateDir);
        const role = parseRole(opts.role);
        checkScope(opts.config, opts.scope);
        const { password, replaced } = withAuthState(stateDir, (state) => issueViewer({ state, name: opts.name, ...(opts.scope !== undefined && { scope: opts.scope }), ...(role && { role }), by: cliActor(opts.by) }));
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
    .option('--by <who>', 'who makes the change, for the audit log (default: the OS user)')
    .option('-c, --config <file>', 'YAML config file (its stateDir is used)')
    .action((opts: { name: string; by?: string; config?: string }) => {
      try {
        const config = loadCollectorConfig(opts.config);
        if (!withAuthState(resolve(config.stateDir), (state) => removeViewer({ state, name: opts.name, by: cliActor(opts.by) }))) throw new Error(`no viewer named ${opts.name}`);
        process.stderr.write(`removed viewer ${opts.name}\n`);
      } catch (e) {
        fail(e);
      }
    });
  registerLifecycleCommands({ token, viewer, fail });
  registerScopeCommands(program, viewer, { fail, withState: withAuthState });
  registerEnrollCommands(program, { fail });
}
