/**
 * `campuslink-collector registry check`: reads the registry the config names, against the same code
 * list and alias table `serve` uses, and lists every refused row. Exit 0 when every row loads, 2 when
 * any row is refused or the file cannot be read as a registry (so a pipeline can gate an import).
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { EXIT } from '../../protocol/cli.js';
import { loadCollectorConfig } from '../config.js';
import { formatProblem, MAX_LISTED_PROBLEMS, RegistryError } from './errors.js';
import { loadRegistry } from './load.js';
import { registryLoadOptions } from './options.js';
import type { Registry } from './registry.js';

/** The summary `registry check` prints: counts, the code list, then one line per problem. */
export function checkReport(reg: Registry): string {
  const { extra } = reg;
  const lines = [
    `${reg.source}: ${reg.schools.size} schools in ${reg.provinces.size} provinces, ${reg.cities.size} cities, ${reg.counties.size} counties`,
    `codes checked against: ${extra.edition ?? 'code structure only (registryCodes: none)'}`,
    `refused rows: ${extra.refusedRows}`,
    ...extra.problems.map((p) => `  ${formatProblem(reg.source, p)}`),
  ];
  const more = extra.problemTotal - extra.problems.length;
  if (more > 0) lines.push(`  ... and ${more} more problem${more === 1 ? '' : 's'}`);
  return `${lines.join('\n')}\n`;
}

/** Adds `registry check` to the collector CLI. */
export function registerRegistryCommands(program: Command, opts: { fail: (e: unknown) => never }): void {
  const registry = program.command('registry').description('Check the schools registry.');
  registry
    .command('check')
    .description(`Load the registry as serve would and list every refused row (the first ${MAX_LISTED_PROBLEMS} of a file that cannot load); exit 2 if any.`)
    .option('-c, --config <file>', 'YAML config file; every key can also come from CAMPUSLINK_* variables')
    .action((o: { config?: string }) => {
      try {
        const config = loadCollectorConfig(o.config);
        const reg = loadRegistry(resolve(config.registry), registryLoadOptions(config));
        process.stdout.write(checkReport(reg));
        process.exit(reg.extra.problemTotal > 0 ? EXIT.invalidConfig : EXIT.ok);
      } catch (e) {
        if (e instanceof RegistryError) {
          process.stderr.write(`${e.code}: ${e.message}\n`);
          process.exit(EXIT.invalidConfig);
        }
        opts.fail(e);
      }
    });
}
