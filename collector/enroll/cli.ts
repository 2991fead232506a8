/** `enroll issue` of `campuslink-collector`: enrollment codes for one school, a region or the whole registry. */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { bulkSchools, csvWriter, notRegistered, stderrLog, type IssueOptions } from '../auth/cli.js';
import { loadCollectorConfig } from '../config.js';
import { loadRegistry } from '../registry/load.js';
import { openStateDb } from '../state/db.js';
import { importLegacyAuth } from '../state/legacy.js';
import { issueCodes } from './codes.js';
import { issueProxyEnrollment } from './proxy-cli.js';

const DAY_MS = 86_400_000;

interface EnrollIssueOptions extends IssueOptions {
  uses: string;
  expiresDays: string;
  /** A county proxy's name: one code for the proxy, scoped by --region or --schools. */
  proxy?: string;
  /** With --proxy: a file of school ids (CSV with a school/school_id column or the ids in the first column, or one id per line). */
  schools?: string;
}

function positiveInt(v: string, name: string, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`${name} must be a whole number from 1 to ${max}, got "${v}"`);
  return n;
}

async function enrollIssue(opts: EnrollIssueOptions): Promise<void> {
  if (opts.proxy !== undefined || opts.schools !== undefined) {
    if (opts.proxy === undefined) throw new Error('--schools goes with --proxy <name>');
    if (opts.school !== undefined || opts.all || opts.out) throw new Error('--proxy takes --region <code> or --schools <file>, not --school, --all or --out');
    const uses = positiveInt(opts.uses, '--uses', 1000);
    const expiresAtMs = Date.now() + positiveInt(opts.expiresDays, '--expires-days', 3650) * DAY_MS;
    return issueProxyEnrollment({ name: opts.proxy, ...(opts.region !== undefined && { region: opts.region }), ...(opts.schools !== undefined && { schoolsFile: opts.schools }), uses, expiresAtMs, ...(opts.config !== undefined && { config: opts.config }) });
  }
  const modes = [opts.school !== undefined, !!opts.all, opts.region !== undefined].filter(Boolean).length;
  if (modes !== 1) throw new Error('give exactly one of --school <id>, --all, --region <code>');
  if (opts.school !== undefined && opts.out) throw new Error('--out goes with --all or --region');
  const uses = positiveInt(opts.uses, '--uses', 1000);
  const expiresAtMs = Date.now() + positiveInt(opts.expiresDays, '--expires-days', 3650) * DAY_MS;
  const config = loadCollectorConfig(opts.config);
  const registry = loadRegistry(resolve(config.registry));
  const state = openStateDb({ stateDir: resolve(config.stateDir) });
  try {
    importLegacyAuth({ state, stateDir: resolve(config.stateDir), log: stderrLog });
    const expires = new Date(expiresAtMs).toISOString();
    if (opts.school !== undefined) {
      if (!registry.get(opts.school)) throw notRegistered(`school ${opts.school} is not in the registry ${config.registry}`);
      issueCodes({ state, schools: [opts.school], uses, expiresAtMs, onIssued: (code, r) => {
        process.stderr.write(`enrollment code ${r.id} for school ${r.school}: ${uses} use${uses === 1 ? '' : 's'} until ${expires}; store it now, it is not shown again\n`);
        process.stdout.write(`${code}\n`);
      } });
      return;
    }
    // The file exists (0600, empty) before any code is issued: a refused path costs no codes.
    const fd = opts.out ? openSync(opts.out, 'wx', 0o600) : 1;
    const csv = csvWriter(fd);
    csv.line('school,code_id,code,expires_at,uses\n');
    const n = issueCodes({ state, schools: bulkSchools(registry, opts), uses, expiresAtMs, onIssued: (code, r) => csv.line(`${r.school},${r.id},${code},${expires},${uses}\n`) });
    csv.end();
    if (opts.out) {
      fsyncSync(fd);
      closeSync(fd);
    }
    process.stderr.write(`issued ${n} enrollment codes${opts.region ? ` for region ${opts.region}` : ''}${opts.out ? ` into ${opts.out}` : ''}, valid until ${expires}; store them now, they are not shown again\n`);
  } finally {
    await state.close();
  }
}

/** Adds `enroll …` to the program. */
export function registerEnrollCommands(program: Command, { fail }: { fail: (e: unknown) => never }): void {
  const enroll = program.command('enroll').description('Enrollment codes: an agent exchanges one (campuslink-agent enroll --code …) for its own agent id and token.');
  enroll
    .command('issue')
    .description('Issue an enrollment code for one school (printed as the last line of stdout), or one per school of the registry (--all) or a region (--region), as CSV school,code_id,code,expires_at,uses; or one code for a county proxy (--proxy NAME with --region or --schools). Only hashes are stored.')
    .option('-s, --school <id>', '10-digit school id (must be in the registry)')
    .option('--all', 'every school of the registry')
    .option('--region <code>', 'every school of this province, city or county (GB/T 2260 code of the registry); with --proxy: the proxy\'s scope')
    .option('--proxy <name>', 'one code for the county proxy proxy-<name>, valid for every school of its scope (--region or --schools); again for the same name: replaces its scope')
    .option('--schools <file>', 'with --proxy: the scope as a file of school ids (CSV with a school or school_id column, or one id per line)')
    .option('--uses <n>', 'enrollments each code allows (one per gateway)', '1')
    .option('--expires-days <n>', 'days until the codes expire', '30')
    .option('-o, --out <file>', 'with --all or --region: write the CSV to this new file (created 0600) instead of stdout')
    .option('-c, --config <file>', 'YAML config file (its stateDir and registry are used)')
    .action(async (opts: EnrollIssueOptions) => {
      try {
        await enrollIssue(opts);
      } catch (e) {
        fail(e);
      }
    });
}
