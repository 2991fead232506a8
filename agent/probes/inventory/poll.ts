/**
 * One poll of one SNMP device's inventory tables: neighbours (ipNetToPhysicalTable, falling back to
 * ipNetToMediaTable), LLDP neighbours, and the bridge forwarding table (dot1d, falling back to dot1q).
 * Only the needed columns are walked. A timeout stops the poll (a dead device costs one timeout, not six);
 * any other failure of one table is counted and the poll goes on with the next.
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
  /** `timeout` when the device stopped answering, `error` for other failures, `ok` otherwise. */
  result: 'ok' | 'timeout' | 'error';
  /** First failure, for the log. */
  firstError?: string;
}

/** Reads every inventory table of the device behind `client`. Never throws for device failures. */
export async function pollTables(client: SnmpClient): Promise<TablesReading> {
  const r: TablesReading = { neighbours: [], lldp: [], fdb: [], errors: 0, neighboursFailed: false, result: 'ok' };
  let dead = false;
  const walk = async (entry: string, columns: number[]): Promise<SnmpTable | undefined> => {
    if (dead) return undefined;
    try {
      return await client.table(entry, columns);
    } catch (e) {
      r.errors++;
      r.firstError ??= (e as Error).message;
      const timeout = e instanceof SnmpError && e.kind === 'timeout';
      if (timeout) dead = true;
      if (r.result !== 'timeout') r.result = timeout ? 'timeout' : 'error';
      return undefined;
    }
  };

  const physical = await walk(IP_NET_TO_PHYSICAL_ENTRY, [4, 6]);
  r.neighbours = physical ? parseIpNetToPhysical(physical) : [];
  if (r.neighbours.length === 0) {
    const media = await walk(IP_NET_TO_MEDIA_ENTRY, [2, 4]);
    r.neighbours = media ? parseIpNetToMedia(media) : [];
    r.neighboursFailed = !physical && !media;
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
  }
  return r;
}
