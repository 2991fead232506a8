/** `enroll issue --proxy <name> (--region <code> | --schools <file>)`: the one enrollment code of a county proxy. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { notRegistered, stderrLog } from '../auth/cli.js';
import { MAX_PROXY_SCHOOLS, PROXY_NAME, describeScope, proxyAgentId, type ProxyScope } from '../auth/proxies.js';
import { loadCollectorConfig } from '../config.js';
import { readCsv } from '../registry/csv.js';
import { loadRegistry } from '../registry/load.js';
import type { Registry } from '../registry/registry.js';
import { openStateDb } from '../state/db.js';
import { importLegacyAuth } from '../state/legacy.js';
import { issueProxyCode } from './codes.js';
import { schoolsOfScope } from './proxy.js';

/** A bad schools file: every problem, with its line (start-up style: all of them at once). */
export class SchoolsFileError extends Error {
  readonly code = 'COL_ERR_CONFIG_INVALID';
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n  ${problems.join('\n  ')}`);
  }
}

const SCHOOL_ID = /^\d{10}$/;
const MAX_PROBLEMS = 50;

/**
 * The school ids of a scope file: a CSV whose header has a `school` or `school_id` column (a registry
 * extract works as it is), or ids in the first column, one per line; `#` comments and empty lines are
 * skipped. Every id must be in the registry: unknown ones and malformed lines are all listed at once.
 */
export function readSchoolsFile(file: string, registry: Pick<Registry, 'get'>): Set<string> {
  const text = readFileSync(file, 'utf8');
  const out = new Set<string>();
  const problems: string[] = [];
  let column = 0;
  let first = true;
  const problem = (p: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push(p);
    else if (problems.length === MAX_PROBLEMS) problems.push('… (more problems not shown)');
  };
  readCsv(text, (fields, line, csvProblem) => {
    const head = fields[0]?.trim() ?? '';
    if (fields.length === 1 && (head === '' || head.startsWith('#'))) return;
    if (first) {
      first = false;
      const at = fields.findIndex((f) => ['school', 'school_id'].includes(f.trim().toLowerCase()));
      if (at >= 0) {
        column = at;
        return;
      }
    }
    if (csvProblem) return problem(`line ${line}: ${csvProblem.message}`);
    const id = fields[column]?.trim() ?? '';
    if (!SCHOOL_ID.test(id)) return problem(`line ${line}: "${id.slice(0, 40)}" is not a 10-digit school id`);
    if (!registry.get(id)) return problem(`line ${line}: school ${id} is not in the registry`);
    out.add(id);
  });
  if (problems.length) throw new SchoolsFileError(file, problems);
  if (out.size === 0) throw new SchoolsFileError(file, ['no school id in the file']);
  if (out.size > MAX_PROXY_SCHOOLS) throw new SchoolsFileError(file, [`${out.size} schools; one proxy may have at most ${MAX_PROXY_SCHOOLS}`]);
  return out;
}

export interface ProxyIssueOptions {
  name: string;
  region?: string;
  schoolsFile?: string;
  uses: number;
  expiresAtMs: number;
  config?: string;
}

/** Checks the scope against the registry, stores it with one code, prints the code (stdout) and what it is for (stderr). */
export async function issueProxyEnrollment(opts: ProxyIssueOptions): Promise<void> {
  if (!PROXY_NAME.test(opts.name)) throw new Error(`--proxy must be 1-58 characters of a-z 0-9 - starting with a letter or digit, got "${opts.name}"`);
  if ((opts.region === undefined) === (opts.schoolsFile === undefined)) throw new Error('--proxy needs exactly one of --region <code> or --schools <file>');
  const config = loadCollectorConfig(opts.config);
  const registry = loadRegistry(resolve(config.registry));
  const agent = proxyAgentId(opts.name);
  let scope: ProxyScope;
  if (opts.region !== undefined) {
    if (!/^\d{6}$/.test(opts.region) || !registry.region(opts.region)) throw notRegistered(`no school of the registry ${config.registry} is under region ${opts.region}`);
    scope = { agent, name: opts.name, region: opts.region };
  } else scope = { agent, name: opts.name, schools: readSchoolsFile(opts.schoolsFile as string, registry) };
  const state = openStateDb({ stateDir: resolve(config.stateDir) });
  try {
    importLegacyAuth({ state, stateDir: resolve(config.stateDir), log: stderrLog });
    const { code, record } = issueProxyCode({ state, scope, uses: opts.uses, expiresAtMs: opts.expiresAtMs });
    const n = schoolsOfScope(scope, { tagsFor: (id) => registry.tagsFor(id), current: () => registry }).length;
    process.stderr.write(`enrollment code ${record.id} for proxy ${agent} (${describeScope(scope)}, ${n} school${n === 1 ? '' : 's'} in the registry now): ${opts.uses} use${opts.uses === 1 ? '' : 's'} until ${new Date(opts.expiresAtMs).toISOString()}; store it now, it is not shown again\n`);
    process.stdout.write(`${code}\n`);
  } finally {
    await state.close();
  }
}
