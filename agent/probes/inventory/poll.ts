/**
 * One poll of one SNMP device's inventory tables: neighbours (ipNetToPhysicalTable, falling back to
 * ipNetToMediaTable), LLDP neighbours, and the bridge forwarding table (dot1d, falling back to dot1q).
 * Only the needed columns are walked. A timeout before anything answered stops the poll (a dead device
 * costs one timeout, not six). A table walk that fails on a device that does answer (a timeout or an
 * error: some switches cannot send a GetBulk answer full of the long strings after a table's end, as a
 * Huawei S5720 does after dot1qTpFdbTable) is retried with fewer repetitions, down to one row per
 * request; a table that still fails is counted, named in `failedTables`, and the poll goes on.
 */
import { SnmpError, type SnmpClient, type SnmpTable } from '../snmp/client.js';
import { DOT1D_TP_FDB_ENTRY, DOT1Q_TP_FDB_ENTRY, IP_NET_TO_MEDIA_ENTRY, IP_NET_TO_PHYSICAL_ENTRY, LLDP_REM_ENTRY, LLDP_REM_MAN_ADDR_ENTRY } from './oids.js';
import {
  parseDot1dFdb,
  parseDot1qFdb,
  parseIpNetToMedia,
  parseIpNetToPhysical,
  parseLldpRemote,
  type FdbEntry,
  type LldpNeighbour,
  type NeighbourEntry,
} from './tables.js';

/** What one device's tables held. */
export interface TablesReading {
  neighbours: NeighbourEntry[];
  lldp: LldpNeighbour[];
  fdb: FdbEntry[];
  /** Failed table walks. */
  errors: number;
  /** True when the neighbour table could not be read at all (timeout or error on both tables). */
  neighboursFailed: boolean;
  /**
   * `timeout` when the device stopped answering, `error` when no neighbour table could be read for
   * another reason, `tableFailed` when the device answered but some table could not be read, `ok` otherwise.
   */
  result: 'ok' | 'timeout' | 'error' | 'tableFailed';
  /** Tables that could not be read, even with fewer repetitions (their entry OIDs' names). */
  failedTables: string[];
  /** Tables read only after a retry with fewer repetitions. */
  retriedTables: string[];
  /** First failure, for the log. */
  firstError?: string;
}

/** Max-repetitions of the retries of a failed walk: fewer rows per answer, then one (as small as GETNEXT). */
export const RETRY_REPETITIONS = [5, 1] as const;

const TABLE_NAMES: Record<string, string> = {
  [IP_NET_TO_PHYSICAL_ENTRY]: 'ipNetToPhysicalTable',
  [IP_NET_TO_MEDIA_ENTRY]: 'ipNetToMediaTable',
  [LLDP_REM_ENTRY]: 'lldpRemTable',
  [LLDP_REM_MAN_ADDR_ENTRY]: 'lldpRemManAddrTable',
  [DOT1D_TP_FDB_ENTRY]: 'dot1dTpFdbTable',
  [DOT1Q_TP_FDB_ENTRY]: 'dot1qTpFdbTable',
};

/** Reads every inventory table of the device behind `client`. Never throws for device failures. */
export async function pollTables(client: SnmpClient): Promise<TablesReading> {
  const r: TablesReading = { neighbours: [], lldp: [], fdb: [], errors: 0, neighboursFailed: false, result: 'ok', failedTables: [], retriedTables: [] };
  let dead = false;
  let answered = false;
  const walk = async (entry: string, columns: number[]): Promise<SnmpTable | undefined> => {
    if (dead) return undefined;
    const name = TABLE_NAMES[entry] ?? entry;
    for (const repetitions of [undefined, ...RETRY_REPETITIONS]) {
      try {
        const rows = await client.table(entry, columns, repetitions === undefined ? undefined : { maxRepetitions: repetitions });
        answered = true;
        if (repetitions !== undefined) r.retriedTables.push(name);
        return rows;
      } catch (e) {
        r.errors++;
        r.firstError ??= `${name}: ${(e as Error).message}`;
        const timeout = e instanceof SnmpError && e.kind === 'timeout';
        // Nothing answered yet: a dead device, not an answer too large. Stop here.
        if (timeout && !answered) {
          dead = true;
          r.result = 'timeout';
          return undefined;
        }
      }
    }
    r.failedTables.push(name);
    return undefined;
  };

  const physical = await walk(IP_NET_TO_PHYSICAL_ENTRY, [4, 6]);
  r.neighbours = physical ? parseIpNetToPhysical(physical) : [];
  if (r.neighbours.length === 0) {
    const media = await walk(IP_NET_TO_MEDIA_ENTRY, [2, 4]);
    r.neighbours = media ? parseIpNetToMedia(media) : [];
    r.neighboursFailed = !physical && !media;
    if (media && !physical) r.failedTables = r.failedTables.filter((t) => t !== 'ipNetToPhysicalTable');
  }
  const lldp = await walk(LLDP_REM_ENTRY, [4, 5, 6, 7, 9, 10, 12]);
  if (lldp && lldp.size > 0) {
    const man = await walk(LLDP_REM_MAN_ADDR_ENTRY, [3]);
    r.lldp = parseLldpRemote(lldp, man ?? new Map());
  }
  const dot1d = await walk(DOT1D_TP_FDB_ENTRY, [2, 3]);
  r.fdb = dot1d ? parseDot1dFdb(dot1d) : [];
  if (r.fdb.length === 0) {
    const dot1q = await walk(DOT1Q_TP_FDB_ENTRY, [2, 3]);
    r.fdb = dot1q ? parseDot1qFdb(dot1q) : [];
    // A bridge that has no dot1d table but a readable dot1q one has not failed its bridge table.
    if (dot1q && !dot1d) r.failedTables = r.failedTables.filter((t) => t !== 'dot1dTpFdbTable');
  }
  if (r.result === 'ok' && r.neighboursFailed) r.result = 'error';
  else if (r.result === 'ok' && r.failedTables.length) r.result = 'tableFailed';
  return r;
}
