/** `token list|revoke|rotate` and `viewer list` of `campuslink-collector`. */
import { cliActor, recordAudit, selectionSubject } from './audit.js';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadCollectorConfig } from '../config.js';
import { csvWriter, withAuthState } from './cli.js';
import { listTokens, listViewers, requestRotation, revokeTokens, type TokenSelection } from './lifecycle.js';
import { TOKEN_CHANGES_CHECK_MS } from './tokens.js';
import { migrateViewers } from './viewers.js';

interface SelectionOptions extends TokenSelection {
  config?: string;
}

const stateDirOf = (config?: string) => resolve(loadCollectorConfig(config).stateDir);

/** Adds the lifecycle commands to the `token` and `viewer` groups. */
export function registerLifecycleCommands({ token, viewer, fail }: { token: Command; viewer: Command; fail: (e: unknown) => never }): void {
  const guarded = <T>(work: (opts: T) => void) => (opts: T) => {
    try {
      work(opts);
    } catch (e) {
      fail(e);
    }
  };
  token
    .command('list')
    .description('List tokens as CSV token_id,school,agent,created,expires,last_seen,state,scope (state: active, rotating, grace, expired, revoked; scope: a county proxy\'s region:CODE or schools:N, its school is "proxy"); no secret is shown.')
    .option('-s, --school <id>', 'only this school')
    .option('--proxy <name>', 'only this county proxy\'s tokens')
    .option('-a, --agent <id>', 'with --school: only this agent')
    .option('-c, --config <file>', 'YAML config file (its stateDir is used)')
    .action(
      guarded((opts: SelectionOptions) => {
        withAuthState(stateDirOf(opts.config), (state) => {
          const csv = csvWriter(1);
          csv.line('token_id,school,agent,created,expires,last_seen,state,scope\n');
          for (const t of listTokens(state, opts, Date.now())) csv.line(`${t.id},${t.school},${t.agent},${t.created},${t.expires},${t.lastSeen},${t.state},${t.scope}\n`);
          csv.end();
        });
      }),
    );
  token
    .command('revoke')
    .description('Revoke a token by id, or every token of a school (or of one agent of it). A running collector answers 401 to it from the next request on.')
    .option('--id <tokenId>', 'the token id (from token list or the issue CSV)')
    .option('-s, --school <id>', 'every token of this school')
    .option('-a, --agent <id>', 'with --school: only this agent\'s tokens (frees its place among the school\'s agents)')
    .option('--proxy <name>', 'every token of this county proxy (frees its place at every school it reported for)')
    .option('-c, --config <file>', 'YAML config file (its stateDir is used)')
    .action(
      guarded((opts: SelectionOptions) => {
        const { revoked, agentsFreed } = withAuthState(stateDirOf(opts.config), (state) => {
          const r = revokeTokens(state, opts, Date.now());
          if (r.revoked || r.agentsFreed) recordAudit(state, { actor: cliActor(), action: 'token.revoke', subject: selectionSubject(opts), detail: `${r.revoked} revoked, ${r.agentsFreed} agent places freed` });
          return r;
        });
        if (revoked === 0 && agentsFreed === 0) throw new Error('no token in force and no agent matches');
        // A running collector reads other processes' token changes at most every TOKEN_CHANGES_CHECK_MS:
        // returning after that keeps "401 from the next request on" true for whoever runs this.
        if (revoked > 0 || agentsFreed > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, TOKEN_CHANGES_CHECK_MS + 10);
        process.stderr.write(`revoked ${revoked} token${revoked === 1 ? '' : 's'}${agentsFreed ? `; ${agentsFreed} agent place${agentsFreed === 1 ? '' : 's'} freed` : ''}\n`);
      }),
    );
  token
    .command('rotate')
    .description('Give agents new tokens without a site visit: each selected token gets a successor in its agent\'s next ack; the old one stays valid for auth.rotationGraceMs after the new one is first used.')
    .option('--id <tokenId>', 'one token')
    .option('-s, --school <id>', 'every token of this school')
    .option('-a, --agent <id>', 'with --school: one agent')
    .option('--proxy <name>', 'a county proxy\'s token')
    .option('--all', 'every token in force')
    .option('-c, --config <file>', 'YAML config file (its stateDir is used)')
    .action(
      guarded((opts: SelectionOptions) => {
        const n = withAuthState(stateDirOf(opts.config), (state) => {
          const k = requestRotation(state, opts, Date.now());
          if (k) recordAudit(state, { actor: cliActor(), action: 'token.rotate', subject: selectionSubject(opts), detail: `${k} marked for rotation` });
          return k;
        });
        process.stderr.write(`${n} token${n === 1 ? '' : 's'} marked for rotation; each agent gets its new token in its next ack\n`);
      }),
    );
  viewer
    .command('list')
    .description('List viewer accounts as CSV name,created; no password is shown.')
    .option('-c, --config <file>', 'YAML config file (its stateDir is used)')
    .action(
      guarded((opts: { config?: string }) => {
        const rows = withAuthState(stateDirOf(opts.config), (state) => (migrateViewers(state), listViewers(state)));
        process.stdout.write(['name,created', ...rows.map((r) => `${r.name},${r.created}`)].join('\n') + '\n');
      }),
    );
}
