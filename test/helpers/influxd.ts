/**
 * An embedded influxd for tests: a fresh temp dir, a free loopback port, a query helper, and a
 * cleanup that stops it and removes the dir. Never skips: a missing influxd fails loudly with the
 * Debian package to install.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InfluxDB } from 'influx';
import { createInflux1Client } from '../../collector/sink/influx1.js';
import { InfluxdError, findInfluxd, startInfluxd, type InfluxdHandle } from '../../collector/sink/influxd.js';

/** One row of a query result: the series' measurement and tags, then its columns (`time` in epoch ms). */
export interface Row {
  measurement: string;
  time?: number;
  [column: string]: unknown;
}

export interface TestInfluxd {
  influxd: InfluxdHandle;
  url: string;
  /** An `influx` client on the default database. */
  client: InfluxDB;
  /** Runs InfluxQL (POST /query, epoch=ms) on `database` (default `campuslink`); throws on any statement error. */
  query(influxql: string, database?: string): Promise<Row[]>;
  /** Stops influxd and removes its directory. Idempotent. */
  cleanup(): Promise<void>;
}

interface RawResult {
  results?: {
    error?: string;
    series?: { name: string; tags?: Record<string, string>; columns: string[]; values?: unknown[][] }[];
  }[];
  error?: string;
}

/** A wrapper of the installed influxd that runs it with the inmem index. */
function stockWrapper(dir: string): string {
  const file = join(dir, 'influxd-inmem.sh');
  writeFileSync(file, `#!/bin/sh\nINFLUXDB_DATA_INDEX_VERSION=inmem exec ${JSON.stringify(findInfluxd())} "$@"\n`, { mode: 0o755 });
  return file;
}

export async function startTestInfluxd(options: { database?: string; readyTimeoutMs?: number; maxValuesPerTag?: number; maxSeriesPerDatabase?: number; stockIndex?: boolean } = {}): Promise<TestInfluxd> {
  const dataDir = mkdtempSync(join(tmpdir(), 'campuslink-influxd-'));
  let influxd: InfluxdHandle;
  try {
    // `stockIndex`: the inmem index of a stock InfluxDB 1.x (an external server's default; it enforces
    // max-values-per-tag, which the embedded server's tsi1 does not), through the variable influxd prefers to its config.
    const binary = options.stockIndex ? stockWrapper(dataDir) : undefined;
    influxd = await startInfluxd({
      ...(binary && { binary }), dataDir, readyTimeoutMs: options.readyTimeoutMs ?? 20_000, ...(options.maxValuesPerTag !== undefined && { maxValuesPerTag: options.maxValuesPerTag }), ...(options.maxSeriesPerDatabase !== undefined && { maxSeriesPerDatabase: options.maxSeriesPerDatabase }) });
  } catch (e) {
    rmSync(dataDir, { recursive: true, force: true });
    if (e instanceof InfluxdError && e.code === 'COL_ERR_INFLUXD_MISSING') {
      throw new Error(
        `These tests need a real influxd (InfluxDB 1.x) and none was found. Install the Debian package: ` +
          `apt-get install influxdb\n${e.message}`,
        { cause: e },
      );
    }
    throw e;
  }
  const database = options.database ?? 'campuslink';
  const client = createInflux1Client({ url: influxd.url, database });
  let cleaned = false;
  return {
    influxd,
    url: influxd.url,
    client,
    async query(influxql: string, db = database): Promise<Row[]> {
      const raw = (await client.queryRaw(influxql, { database: db, precision: 'ms', method: 'POST' })) as RawResult;
      if (raw.error) throw new Error(`query ${influxql}: ${raw.error}`);
      const rows: Row[] = [];
      for (const result of raw.results ?? []) {
        if (result.error) throw new Error(`query ${influxql}: ${result.error}`);
        for (const s of result.series ?? []) {
          for (const values of s.values ?? []) {
            const row: Row = { measurement: s.name, ...s.tags };
            s.columns.forEach((c, i) => (row[c] = values[i]));
            rows.push(row);
          }
        }
      }
      return rows;
    },
    async cleanup(): Promise<void> {
      if (cleaned) return;
      cleaned = true;
      try {
        await influxd.stop();
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}
