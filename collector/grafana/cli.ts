/** The `grafana` command group of `campuslink-collector`: `grafana push`. */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { GrafanaClient } from './client.js';
import { formatChange, pushToGrafana } from './push.js';

/** The repository's `dashboards/` directory, found upward from this file (works from source and from dist/). */
export function defaultDashboardsDir(from = import.meta.dirname): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'dashboards');
    if (existsSync(candidate) && readdirSync(candidate).some((f) => f.endsWith('.json'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

interface PushCliOptions {
  url: string;
  token?: string;
  folder: string;
  dryRun?: boolean;
  force?: boolean;
  dashboards?: string;
  influxUrl: string;
  influxDb: string;
  influxUser?: string;
  timeoutMs: string;
}

/**
 * Adds `grafana push` to a commander program. Writes one line per object to stdout and exits 1
 * with the error (401, 403, 404, 412 explained) on stderr.
 */
export function registerGrafanaCommands(program: Command, env: NodeJS.ProcessEnv = process.env): void {
  const grafana = program.command('grafana').description('Provision Grafana over its HTTP API.');
  grafana
    .command('push')
    .description('Create or update the campuslink data source, folder and dashboards in Grafana; a second run changes nothing.')
    .requiredOption('--url <url>', 'Grafana base URL, e.g. http://127.0.0.1:3000')
    .option('--token <token>', 'service-account token (default: $CAMPUSLINK_GRAFANA_TOKEN; prefer the variable, arguments show in ps)')
    .option('--folder <title>', 'folder for the dashboards', 'campuslink')
    .option('--dry-run', 'print what would change and change nothing')
    .option('--force', 'overwrite dashboards changed in Grafana since they were read, or with a clashing title')
    .option('--dashboards <dir>', 'directory of dashboard JSON files (default: the bundled dashboards/)')
    .option('--influx-url <url>', 'InfluxDB URL as Grafana reaches it ($CAMPUSLINK_GRAFANA_INFLUX_URL)', env.CAMPUSLINK_GRAFANA_INFLUX_URL || 'http://influxdb:8086')
    .option('--influx-db <name>', 'InfluxQL database ($CAMPUSLINK_GRAFANA_INFLUX_DB)', env.CAMPUSLINK_GRAFANA_INFLUX_DB || 'campuslink')
    .option('--influx-user <user>', 'InfluxDB user ($CAMPUSLINK_GRAFANA_INFLUX_USER); the password comes from $CAMPUSLINK_GRAFANA_INFLUX_PASSWORD', env.CAMPUSLINK_GRAFANA_INFLUX_USER || undefined)
    .option('--timeout-ms <ms>', 'timeout of one request to Grafana', '10000')
    .action(async (opts: PushCliOptions) => {
      try {
        const token = opts.token ?? env.CAMPUSLINK_GRAFANA_TOKEN;
        if (!token) throw new Error('no token: pass --token or set CAMPUSLINK_GRAFANA_TOKEN');
        const dashboardsDir = opts.dashboards ? resolve(opts.dashboards) : defaultDashboardsDir();
        if (!dashboardsDir) throw new Error('no dashboards directory found; pass --dashboards');
        const client = new GrafanaClient({ url: opts.url, token, timeoutMs: Number(opts.timeoutMs) });
        const changes = await pushToGrafana({
          client,
          dashboardsDir,
          folder: opts.folder,
          dryRun: opts.dryRun,
          force: opts.force,
          datasource: { influxUrl: opts.influxUrl, database: opts.influxDb, user: opts.influxUser, password: env.CAMPUSLINK_GRAFANA_INFLUX_PASSWORD || undefined },
        });
        for (const c of changes) process.stdout.write(`${formatChange(c, !!opts.dryRun)}\n`);
        const n = changes.filter((c) => c.action !== 'unchanged').length;
        process.stdout.write(`${opts.dryRun ? `dry run: ${n} change${n === 1 ? '' : 's'} would be made` : `${n} change${n === 1 ? '' : 's'} made`}\n`);
      } catch (e) {
        const err = e as Error & { code?: string };
        process.stderr.write(`${err.code ? `${err.code}: ` : ''}${err.message}\n`);
        process.exitCode = 1;
      }
    });
}
