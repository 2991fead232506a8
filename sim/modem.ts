/**
 * A simulated satellite modem: net-snmp's `Agent` serving one modem profile's OIDs on loopback, with
 * hooks to change a value, drop a field (as a firmware that lacks it) and lose or regain lock.
 *
 * Each profile field's OID is served as the profile expects it: `number` fields as the raw value
 * (value − offset) / scale, an Integer unless the field's `syntax` is `string` (iDirect's DisplayStrings);
 * `enum` fields as the first raw value that maps to the wanted number. Scalars end in `.0`; other
 * OIDs are served as a one-row table whose index is the OID's last arc (so `{index}` must be one
 * integer in the simulator). Changes re-register the providers, which is cheap at this size.
 */
import { fieldOid, type ModemFieldSpec, type ModemProfile } from '../agent/probes/modem/profile.js';
import { createSimAgent, NA, RO, snmp } from './snmp-agent.js';

/** Options of `startModem`. */
export interface ModemSimOptions {
  /** The profile whose OIDs are served. */
  profile: ModemProfile;
  /** Replaces `{index}` (one integer here; default `1`). */
  index?: string;
  /** Field values as the probe should read them (after scale), e.g. `{ snr_db: 12.5, locked: 1 }`. Fields without a value are not served. */
  values: Record<string, number>;
  /** Loopback address (default 127.0.0.1). */
  host?: string;
  /** Read community (default `public`). */
  community?: string;
  /** UDP port; 0 or absent picks a free one. */
  port?: number;
}

/** A running simulated modem. */
export interface ModemSim {
  host: string;
  port: number;
  community: string;
  /** Sets a field's value (after scale) and serves it again if it was dropped. */
  setValue(field: string, value: number): void;
  /** Stops serving a field, like a firmware without it. */
  dropField(field: string): void;
  /** Sets the `locked` field to the raw value that the profile maps to 1 or 0. */
  setLocked(locked: boolean): void;
  stop(): Promise<void>;
}

function syntaxOf(spec: ModemFieldSpec): number {
  if (spec.syntax === 'string') return snmp.ObjectType.OctetString as number;
  if (spec.syntax === 'gauge') return snmp.ObjectType.Gauge as number;
  return snmp.ObjectType.Integer as number;
}

function rawValue(spec: ModemFieldSpec, value: number): number | string {
  if (spec.type === 'enum') {
    const hit = Object.entries(spec.map).find(([, v]) => v === value);
    if (!hit) throw new RangeError(`sim modem: no raw value of ${spec.field} maps to ${value}`);
    return spec.syntax === 'string' ? hit[0] : Number(hit[0]);
  }
  const raw = (value - spec.offset) / spec.scale;
  return spec.syntax === 'string' ? raw.toFixed(2) : Math.round(raw);
}

/** Starts a simulated modem on a free loopback UDP port. */
export async function startModem(options: ModemSimOptions): Promise<ModemSim> {
  const host = options.host ?? '127.0.0.1';
  const community = options.community ?? 'public';
  const { profile } = options;
  const index = options.index ?? '1';
  if (!/^\d+$/.test(index)) throw new RangeError(`sim modem: index must be one integer, got ${index}`);
  const values = new Map(Object.entries(options.values));
  for (const f of values.keys()) if (!profile.fields.some((s) => s.field === f)) throw new RangeError(`sim modem: profile ${profile.name} has no field ${f}`);

  const sim = createSimAgent({ kind: 'modem', host, community, ...(options.port !== undefined && { port: options.port }) });
  const { agent, mib, bindHost } = sim;
  let registered: { name: string; row?: number }[] = [];

  const apply = (): void => {
    // A table provider with rows cannot be unregistered: its row goes first.
    for (const { name, row } of registered) {
      if (row !== undefined) mib.deleteTableRow(name, [row]);
      mib.unregisterProvider(name);
    }
    registered = [];
    const tables = new Map<string, { spec: ModemFieldSpec; column: number; row: string; value: number | string }[]>();
    for (const spec of profile.fields) {
      const v = values.get(spec.field);
      if (v === undefined) continue;
      const oid = fieldOid(spec, index);
      const raw = rawValue(spec, v);
      if (oid.endsWith('.0')) {
        const name = `scalar_${spec.field}`;
        mib.registerProvider({ name, type: snmp.MibProviderType.Scalar, oid: oid.slice(0, -2), scalarType: syntaxOf(spec), maxAccess: RO });
        mib.setScalarValue(name, raw);
        registered.push({ name });
        continue;
      }
      const arcs = oid.split('.');
      const entry = arcs.slice(0, -2).join('.');
      const list = tables.get(entry) ?? [];
      list.push({ spec, column: Number(arcs[arcs.length - 2]), row: arcs[arcs.length - 1] as string, value: raw });
      tables.set(entry, list);
    }
    let t = 0;
    for (const [entry, cells] of tables) {
      const name = `table_${t++}`;
      const used = new Set(cells.map((c) => c.column));
      let indexColumn = 1;
      while (used.has(indexColumn)) indexColumn += 1000;
      const columns = [...cells].sort((a, b) => a.column - b.column);
      mib.registerProvider({
        name,
        type: snmp.MibProviderType.Table,
        oid: entry,
        maxAccess: NA,
        tableColumns: [
          { number: indexColumn, name: `${name}_index`, type: snmp.ObjectType.Integer as number, maxAccess: NA },
          ...columns.map((c) => ({ number: c.column, name: `${name}_${c.spec.field}`, type: syntaxOf(c.spec), maxAccess: RO })),
        ],
        tableIndex: [{ columnName: `${name}_index` }],
      });
      const row = Number(columns[0]?.row ?? index);
      mib.addTableRow(name, [row, ...columns.map((c) => c.value)]);
      registered.push({ name, row });
    }
  };
  apply();

  const port = await sim.listening();
  let stopped: Promise<void> | undefined;
  const locked = profile.fields.find((f) => f.field === 'locked');
  return {
    host: bindHost,
    port,
    community,
    setValue(field, value) {
      if (!profile.fields.some((s) => s.field === field)) throw new RangeError(`sim modem: profile ${profile.name} has no field ${field}`);
      values.set(field, value);
      apply();
    },
    dropField(field) {
      values.delete(field);
      apply();
    },
    setLocked(isLocked) {
      if (!locked) throw new RangeError(`sim modem: profile ${profile.name} has no locked field`);
      values.set('locked', isLocked ? 1 : 0);
      apply();
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        try {
          agent.close(() => resolve());
        } catch {
          resolve();
        }
      });
      return stopped;
    },
  };
}
