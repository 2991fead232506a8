/**
 * Hub commands of `campuslink-collector`: `enroll issue --province NN` on the national hub (a code for a
 * province collector), and `hub enroll --code X` on a provincial collector (exchanges it for the
 * credential, stored under stateDir; `serve` also does it by itself from `hub.enrollCode`).
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadCollectorConfig } from '../config.js';
import { issueCodes } from '../enroll/codes.js';
import { openStateDb } from '../state/db.js';
import { enrollWithHub, loadHubCredential } from '../rollup/credential.js';
import { provinceOfRegistry } from '../rollup/build.js';
import { loadRegistry } from '../registry/load.js';
import { registryLoadOptions } from '../registry/options.js';

/** Issues one enrollment code for a province collector on the hub; prints it as the last line of stdout. */
export async function issueProvinceCode(opts: { config?: string; province: string; uses: number; expiresAtMs: number }): Promise<void> {
  if (!/^\d{2}$/.test(opts.province)) throw new Error(`--province must be a 2-digit province code (e.g. 32 for 江苏省), got "${opts.province}"`);
  const config = loadCollectorConfig(opts.config);
  if (config.role !== 'national') throw new Error('--province issues a code for a province collector to enroll with this national hub: it needs role: national in the config');
  const state = openStateDb({ stateDir: resolve(config.stateDir) });
  try {
    const expires = new Date(opts.expiresAtMs).toISOString();
    issueCodes({
      state,
      schools: [opts.province],
      uses: opts.uses,
      expiresAtMs: opts.expiresAtMs,
      onIssued: (code, r) => {
        process.stderr.write(`enrollment code ${r.id} for province ${opts.province}: ${opts.uses} use${opts.uses === 1 ? '' : 's'} until ${expires}; give it to the province's collector (hub.enrollCode or hub enroll --code); it is not shown again\n`);
        process.stdout.write(`${code}\n`);
      },
    });
  } finally {
    await state.close();
  }
}

/** Adds `hub …` to the program. */
export function registerHubCommands(program: Command, { fail }: { fail: (e: unknown) => never }): void {
  const hub = program.command('hub').description('A provincial collector and its national hub: enroll, show the credential.');
  hub
    .command('enroll')
    .description('Exchange an enrollment code from the hub (enroll issue --province on the hub) for this collector\'s credential, stored under stateDir.')
    .requiredOption('--code <code>', 'the enrollment code')
    .option('-c, --config <file>', 'YAML config file (its hub.url, hub.caFile, stateDir and registry are used)')
    .action(async (opts: { code: string; config?: string }) => {
      try {
        const config = loadCollectorConfig(opts.config);
        if (config.role !== 'provincial' || !config.hub?.url) throw new Error('hub enroll needs a provincial collector config with hub.url');
        const registry = loadRegistry(resolve(config.registry), registryLoadOptions(config));
        const province = provinceOfRegistry(registry);
        const cred = await enrollWithHub({ hub: config.hub, stateDir: resolve(config.stateDir), code: opts.code, province });
        process.stdout.write(`enrolled with ${config.hub.url} as collector ${cred.collector} of province ${cred.province} (credential ${cred.tokenId})\n`);
      } catch (e) {
        fail(e);
      }
    });
  hub
    .command('status')
    .description('Show the stored hub credential (never the token).')
    .option('-c, --config <file>', 'YAML config file')
    .action((opts: { config?: string }) => {
      try {
        const config = loadCollectorConfig(opts.config);
        const cred = loadHubCredential(resolve(config.stateDir));
        process.stdout.write(cred ? `${JSON.stringify({ hub: cred.hub, province: cred.province, collector: cred.collector, tokenId: cred.tokenId, enrolledAt: new Date(cred.enrolledAtMs).toISOString() })}\n` : 'not enrolled with a hub\n');
      } catch (e) {
        fail(e);
      }
    });
}
