#!/usr/bin/env node
/** `campuslink-collector`: serve, and issue agent tokens. Exit codes: 0 ok, 1 failure, 2 invalid config. */
import { Command } from 'commander';
import { EXIT, errorText, isConfigProblem, packageVersion } from '../protocol/cli.js';
import { createLogger } from '../protocol/log.js';
import { registerAuthCommands } from './auth/cli.js';
import { registerGrafanaCommands } from './grafana/cli.js';
import { registerHubCommands } from './hub/cli.js';
import { loadCollectorConfig } from './config.js';
import { installRejectionGuard } from './rejection-guard.js';
import { startCollector } from './server.js';
import { registerRegistryCommands } from './registry/cli.js';
import { registerStateCommands } from './state/cli.js';

/** Prints why and exits: 2 for an invalid config or registry, 1 for anything else. */
function fail(e: unknown): never {
  process.stderr.write(`${errorText(e)}\n`);
  process.exit(isConfigProblem(e) ? EXIT.invalidConfig : EXIT.failed);
}

const program = new Command('campuslink-collector')
  .description('Receives agent reports and writes them to InfluxDB.')
  .version(packageVersion(import.meta.dirname) ?? 'unknown', '-V, --version', 'print the version and exit');

program
  .command('serve')
  .description('Run the collector HTTP server (starts an embedded influxd when no InfluxDB URL is configured).')
  .option('-c, --config <file>', 'YAML config file; every key can also come from CAMPUSLINK_* variables')
  .action(async (opts: { config?: string }) => {
    // Signals are handled from the first moment: a SIGTERM while influxd is starting waits for the
    // start to settle, then stops what was started, so no influxd is left behind.
    let stopSignal: string | undefined;
    let running: Awaited<ReturnType<typeof startCollector>> | undefined;
    let stopping = false;
    const stop = (signal: string) => {
      stopSignal = signal;
      if (!running || stopping) return;
      stopping = true;
      process.stderr.write(`${signal}: stopping\n`);
      running.stop().then(
        () => process.exit(EXIT.ok),
        (e) => fail(e),
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    try {
      const config = loadCollectorConfig(opts.config);
      const log = createLogger({ name: 'collector', level: config.logLevel });
      installRejectionGuard({ log });
      running = await startCollector({ config, log });
    } catch (e) {
      fail(e);
    }
    // stdout names both URLs, the listening one last, so scripts can wait for it.
    process.stdout.write(`campuslink-collector writing to InfluxDB ${running.influxUrl} database ${running.database}${running.influxd ? ' (embedded)' : ''}\n`);
    process.stdout.write(`campuslink-collector listening on ${running.url}\n`);
    if (stopSignal) stop(stopSignal);
  });

registerAuthCommands(program, { fail });
registerStateCommands(program, { fail });
registerGrafanaCommands(program);
registerRegistryCommands(program, { fail });
registerHubCommands(program, { fail });

program.parseAsync(process.argv).catch(fail);
