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
import { issueProvinceCode } from '../hub/cli.js';

const DAY_MS = 86_400_000;

interface EnrollIssueOptions extends IssueOptions {
  province?: string;
  uses: string;
  expiresDays: string;
}

function positiveInt(v: string, name: string, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`${name} must be a whole number from 1 to ${max}, got "${v}"`);
  return n;
}

async function enrollIssue(opts: EnrollIssueOptions): Promise<void> {
  // On a national hub: a code for a province collector (collector/hub/cli.ts).
  if (opts.province !== undefined) {
    if (opts.school !== undefined || opts.all || opts.region !== undefined || opts.out) throw new Error('--province goes alone (one code for one province collector)');
    return issueProvinceCode({ config: opts.config, province: opts.province, uses: positiveInt(opts.uses, '--uses', 1000), expiresAtMs: Date.now() + positiveInt(opts.expiresDays, '--expires-days', 3650) * DAY_MS });
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
    .description('Issue an enrollment code for one school (printed as the last line of stdout), or one per school of the registry (--all) or a region (--region), as CSV school,code_id,code,expires_at,uses. Only hashes are stored.')
    .option('-s, --school <id>', '10-digit school id (must be in the registry)')
    .option('--all', 'every school of the registry')
    .option('--region <code>', 'every school of this province, city or county (GB/T 2260 code of the registry)')
    .option('--province <code>', 'on a national hub (role: national): one code for the collector of this province (2 digits, e.g. 32)')
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
