#!/usr/bin/env node
/** `campuslink-agent`: one cycle (`once`) or cycles on a schedule (`run`). */
import { Command } from 'commander';
import { ConfigError } from '../protocol/config.js';
import { createLogger } from '../protocol/log.js';
import { loadAgentConfig, type AgentConfig } from './config.js';
import { AgentRuntime } from './runtime.js';

function fail(e: unknown, code = 1): never {
  const err = e as Error & { code?: string };
  process.stderr.write(`${e instanceof ConfigError ? err.message : `${err.code ? `${err.code}: ` : ''}${err.stack ?? err.message}`}\n`);
  process.exit(code);
}

function setup(file: string | undefined): { config: Readonly<AgentConfig>; runtime: AgentRuntime } {
  const config = loadAgentConfig(file);
  const log = createLogger({ name: 'agent', level: config.logLevel });
  return { config, runtime: new AgentRuntime({ config, log }) };
}

const program = new Command('campuslink-agent').description('Measures a school link and sends reports to the collector.');

program
  .command('once')
  .description('Run one collection cycle; exit 0 only when its report was acknowledged (or printed with --print).')
  .option('-c, --config <file>', 'YAML config file; every key can also come from CAMPUSLINK_* variables')
  .option('--print', 'write the report JSON to stdout and send nothing')
  .action(async (opts: { config?: string; print?: boolean }) => {
    let runtime: AgentRuntime;
    try {
      ({ runtime } = setup(opts.config));
    } catch (e) {
      fail(e, 2);
    }
    if (opts.print) {
      process.stdout.write(JSON.stringify(await runtime.preview(), null, 2) + '\n');
      process.exit(0);
    }
    const result = await runtime.once();
    process.exit(result.delivered ? 0 : 1);
  });

program
  .command('run')
  .description('Run collection cycles on the configured schedule until SIGINT/SIGTERM.')
  .option('-c, --config <file>', 'YAML config file; every key can also come from CAMPUSLINK_* variables')
  .action((opts: { config?: string }) => {
    let runtime: AgentRuntime;
    try {
      ({ runtime } = setup(opts.config));
    } catch (e) {
      fail(e, 2);
    }
    const handle = runtime.run();
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      handle.stop().then(() => process.exit(0), (e) => fail(e));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });

program.parseAsync(process.argv).catch((e) => fail(e));
