/** `viewer roles`, `viewer token issue|list|revoke` and `audit list`: scoped accounts, read-only tokens and who changed them. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadCollectorConfig } from '../config.js';
import { loadRegistry } from '../registry/load.js';
import { registryLoadOptions } from '../registry/options.js';
import type { StateDb } from '../state/db.js';
import { cliActor, listAudit } from './audit.js';
import { NATION, ROLES, type Role } from './scope.js';
import { issueReadToken, listReadTokens, revokeReadToken } from './scope-tokens.js';
import { viewerRoles } from './viewers.js';

type WithState = <T>(stateDir: string, work: (state: StateDb) => T) => T;

/** Checks a scope against the registry of the config: a code no school lies under would see nothing. */
export function checkScope(configPath: string | undefined, scope: string | undefined): void {
  if (scope === undefined || scope === NATION) return;
  if (!/^\d{6}$/.test(scope)) throw new Error(`--scope ${scope}: must be a 6-digit GB/T 2260 region code (${NATION}: the nation)`);
  const config = loadCollectorConfig(configPath);
  const reg = loadRegistry(resolve(config.registry), registryLoadOptions(config));
  if (!reg.region(scope) && !reg.region(reg.resolve(scope))) throw new Error(`--scope ${scope}: no school of the registry ${config.registry} is under this region code`);
}

/** Checks a --role value. */
export function parseRole(role: string | undefined): Role | undefined {
  if (role === undefined) return undefined;
  if (!(ROLES as readonly string[]).includes(role)) throw new Error(`--role ${role}: must be one of ${ROLES.join(', ')}`);
  return role as Role;
}

const table = (rows: Record<string, unknown>[], cols: string[]): string => rows.map((r) => cols.map((c) => String(r[c] ?? '-')).join('\t')).join('\n') + (rows.length ? '\n' : '');

/** Adds the scope commands under `viewer` and the `audit` group. */
export function registerScopeCommands(program: Command, viewer: Command, opts: { fail: (e: unknown) => never; withState: WithState }): void {
  const run = (work: () => void) => {
    try {
      work();
    } catch (e) {
      opts.fail(e);
    }
  };
  const stateDirOf = (config?: string) => resolve(loadCollectorConfig(config).stateDir);

  viewer
    .command('roles')
    .description('List viewer accounts with their scope and role (tab-separated: name scope role issued_at).')
    .option('-c, --config <file>', 'YAML config file (its stateDir is used)')
    .action((o: { config?: string }) => run(() => process.stdout.write(table(opts.withState(stateDirOf(o.config), viewerRoles), ['name', 'scope', 'role', 'issuedAt']))));

  const token = viewer.command('token').description('Read-only API tokens for scripts and Grafana (Authorization: Bearer clr1_…), scoped like accounts; never accepted for ingest.');
  token
    .command('issue')
    .description('Issue a read-only token; printed as the last line of stdout, only its hash is stored.')
    .requiredOption('-l, --label <text>', 'what the token is for, e.g. "grafana 640104"')
    .option('--scope <code>', 'region code the token sees (default 000000, the nation)')
    .option('--expires-days <n>', 'the token stops working after this many days')
    .option('--by <who>', 'who issues it, for the audit log (default: the OS user)')
    .option('-c, --config <file>', 'YAML config file (its stateDir and registry are used)')
    .action((o: { label: string; scope?: string; expiresDays?: string; by?: string; config?: string }) =>
      run(() => {
        checkScope(o.config, o.scope);
        const days = o.expiresDays === undefined ? undefined : Number(o.expiresDays);
        if (days !== undefined && !(Number.isFinite(days) && days > 0)) throw new Error(`--expires-days ${o.expiresDays}: must be a positive number`);
        const { token: t, record } = opts.withState(stateDirOf(o.config), (state) =>
          issueReadToken({ state, label: o.label, ...(o.scope !== undefined && { scope: o.scope }), by: cliActor(o.by), ...(days !== undefined && { expiresAtMs: Date.now() + days * 86_400_000 }) }),
        );
        process.stderr.write(`issued read token ${record.id} (scope ${record.scope}); store it now, it is not shown again\n`);
        process.stdout.write(`${t}\n`);
      }),
    );
  token
    .command('list')
    .description('List read tokens (tab-separated: id scope label issued_at issued_by expires_at revoked_at); never the secrets.')
    .option('-c, --config <file>', 'YAML config file (its stateDir is used)')
    .action((o: { config?: string }) => run(() => process.stdout.write(table(opts.withState(stateDirOf(o.config), listReadTokens) as unknown as Record<string, unknown>[], ['id', 'scope', 'label', 'issuedAt', 'issuedBy', 'expiresAt', 'revokedAt']))));
  token
    .command('revoke')
    .description('Revoke a read token by id; it stops working at once.')
    .requiredOption('--id <id>', 'token id (viewer token list)')
    .option('--by <who>', 'who revokes it, for the audit log (default: the OS user)')
    .option('-c, --config <file>', 'YAML config file (its stateDir is used)')
    .action((o: { id: string; by?: string; config?: string }) =>
      run(() => {
        if (!opts.withState(stateDirOf(o.config), (state) => revokeReadToken({ state, id: o.id, by: cliActor(o.by) }))) throw new Error(`no read token ${o.id} in force`);
        process.stderr.write(`revoked read token ${o.id}\n`);
      }),
    );

  program
    .command('audit')
    .description('The audit log of account and token changes.')
    .command('list')
    .description('Newest first, tab-separated: at actor action subject detail.')
    .option('-n, --limit <n>', 'how many entries', '100')
    .option('--subject <name>', 'only this account or token id')
    .option('-c, --config <file>', 'YAML config file (its stateDir is used)')
    .action((o: { limit: string; subject?: string; config?: string }) =>
      run(() => {
        const rows = opts.withState(stateDirOf(o.config), (state) => listAudit(state, { limit: Number(o.limit) || 100, ...(o.subject !== undefined && { subject: o.subject }) }));
        process.stdout.write(table(rows as unknown as Record<string, unknown>[], ['at', 'actor', 'action', 'subject', 'detail']));
      }),
    );
}
