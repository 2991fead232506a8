/**
 * Report fields the collector does not store because InfluxDB can derive them from fields it does store
 * (issue 11: influxd's CPU is per stored value). Agents still send them and the collector still validates
 * them (the wire contract is unchanged); readers derive them with the InfluxQL of `DERIVED_FIELDS`, which
 * gives the same answer on points written before (which have them) and after (which do not).
 *
 * A field is dropped only from a point whose value is what the derivation gives back (within the agent's
 * own rounding): a value an agent computed some other way is stored as sent.
 */

/** One report field that is not stored. */
export interface DerivedField {
  measurement: string;
  field: string;
  /** The stored fields of the same point it is derived from. */
  from: readonly string[];
  /** InfluxQL over one point's fields that gives the value back (use per point, e.g. in a subquery). */
  influxql: string;
  /** Why it is derivable: how the agents compute it. */
  why: string;
  /** Whether this point's value is the derivation's (within the agent's rounding), so it can be dropped. */
  derivable(fields: Readonly<Record<string, unknown>>): boolean;
}

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Utilisation as both agents compute it (agent/probes/snmp/counters.ts `ifaceDeltas`, agent/tiny/lib/iface.awk):
 * rate (capped at the speed) / `speed_bps` × 100 to hundredths of a percent, while the rate itself is sent to
 * the whole bit/s. So the stored rate gives it back within 0.005 (the percentage's rounding) + 50 / speed
 * (the rate's).
 */
function utilisation(dir: 'in' | 'out'): DerivedField {
  const bpsKey = `${dir}_bps`;
  const field = `${dir}_util_pct`;
  return {
    measurement: 'iface',
    field,
    from: [bpsKey, 'speed_bps'],
    influxql: `"${bpsKey}" / "speed_bps" * 100`,
    why: `${bpsKey} / speed_bps × 100: the agents send it rounded to hundredths, from the rate they send to the whole bit/s (and cap at the speed)`,
    derivable: (f) => {
      const bps = f[bpsKey];
      const speed = f.speed_bps;
      const pct = f[field];
      return num(bps) && num(speed) && speed > 0 && num(pct) && Math.abs((bps / speed) * 100 - pct) <= 0.005 + 50 / speed + 1e-9;
    },
  };
}

/**
 * The table of fields not stored. `ping.received`: both agents send `loss_pct` = 100 × (sent − received) / sent
 * to 0.001 (agent/probes/ping/parse.ts, agent/tiny/lib/ping.awk), so round(sent × (100 − loss_pct) / 100) is
 * received exactly for any sent below 100,000. Readers asking "did anything come back" use `loss_pct` < 100.
 */
export const DERIVED_FIELDS: readonly DerivedField[] = [
  utilisation('in'),
  utilisation('out'),
  {
    measurement: 'ping',
    field: 'received',
    from: ['sent', 'loss_pct'],
    influxql: 'round("sent" * (100 - "loss_pct") / 100)',
    why: 'sent × (100 − loss_pct) / 100, rounded: the agents send loss_pct = 100 × (sent − received) / sent to 0.001',
    derivable: (f) => {
      const { sent, loss_pct: loss, received } = f;
      return num(sent) && sent > 0 && num(loss) && received === Math.round((sent * (100 - loss)) / 100);
    },
  },
];

/** Measurement → field → its entry. */
export type DerivedFieldMap = ReadonlyMap<string, DerivedField>;

const BY_MEASUREMENT: ReadonlyMap<string, DerivedFieldMap> = (() => {
  const m = new Map<string, Map<string, DerivedField>>();
  for (const d of DERIVED_FIELDS) {
    let fields = m.get(d.measurement);
    if (!fields) m.set(d.measurement, (fields = new Map()));
    fields.set(d.field, d);
  }
  return m;
})();

/** The fields of this measurement that may not be stored; undefined when all are (look it up once per layout). */
export function derivedFieldsOf(measurement: string): DerivedFieldMap | undefined {
  return BY_MEASUREMENT.get(measurement);
}

/** Whether field `key` of a point with these `fields` is left out of the store (`derived` from derivedFieldsOf). */
export function notStored(derived: DerivedFieldMap | undefined, key: string, fields: Readonly<Record<string, unknown>>): boolean {
  if (derived === undefined) return false;
  const d = derived.get(key);
  return d !== undefined && d.derivable(fields);
}

/** The fields to store of one point: the same object when nothing is left out, else a copy without those. */
export function storedFields<T extends Readonly<Record<string, unknown>>>(measurement: string, fields: T): T {
  const derived = BY_MEASUREMENT.get(measurement);
  if (derived === undefined) return fields;
  let out: Record<string, unknown> | undefined;
  for (const k of derived.keys()) {
    if (!notStored(derived, k, fields)) continue;
    out ??= Object.assign(Object.create(null) as Record<string, unknown>, fields);
    delete out[k];
  }
  return (out ?? fields) as T;
}
