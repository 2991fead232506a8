#!/usr/bin/env node
/** `campuslink-collector`: serve, and issue agent tokens. */
import { Command } from 'commander';
import { ConfigError } from '../protocol/config.js';
import { createLogger } from '../protocol/log.js';
import { registerAuthCommands } from './auth/cli.js';
import { registerGrafanaCommands } from './grafana/cli.js';
import { loadCollectorConfig } from './config.js';
import { startCollector } from './server.js';
import { registerStateCommands } from './state/cli.js';

function fail(e: unknown): never {
  const err = e as Error & { code?: string };
  process.stderr.write(`${e instanceof ConfigError ? err.message : `${err.code ? `${err.code}: ` : ''}${err.message}`}\n`);
  process.exit(1);
}

const program = new Command('campuslink-collector').description('Receives agent reports and writes them to InfluxDB.');

program
  .command('serve')
  .description('Run the collector HTTP server (starts an embedded influxd when no InfluxDB URL is configured).')
  .option('-c, --config <file>', 'YAML config file; every key can also come from CAMPUSLINK_* variables')
  .action(async (opts: { config?: string }) => {
    let running: Awaited<ReturnType<typeof startCollector>>;
    try {
      const config = loadCollectorConfig(opts.config);
      const log = createLogger({ name: 'collector', level: config.logLevel });
      running = await startCollector({ config, log });
    } catch (e) {
      fail(e);
    }
    // stdout names both URLs, the listening one last, so scripts can wait for it.
    process.stdout.write(`campuslink-collector writing to InfluxDB ${running.influxUrl} database ${running.database}${running.influxd ? ' (embedded)' : ''}\n`);
    process.stdout.write(`campuslink-collector listening on ${running.url}\n`);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`${signal}: stopping\n`);
      running.stop().then(
        () => process.exit(0),
        (e) => fail(e),
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });

registerAuthCommands(program, { fail });
registerStateCommands(program, { fail });
registerGrafanaCommands(program);

program.parseAsync(process.argv).catch(fail);
