import { expect } from 'chai';
import fc from 'fast-check';
import { MEASUREMENT_SPECS, isPlainValidBatch, parseBatch } from '../../protocol/batch-check.js';
import { MEASUREMENT_FIELD_ORDER, RESERVED_FIELD_NAMES, TAG_KEYS, batchSchema, measurementSchema, toIssues } from '../../protocol/index.js';
import { typicalReport } from '../helpers/reports.js';
import { reorderKeys, report } from '../helpers/report-arbitraries.js';

/** Every path to a value inside a JSON value. */
function paths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  return out;
}

type Mutation = { kind: 'set'; value: unknown } | { kind: 'delete' } | { kind: 'add'; key: string; value: unknown };

function mutate(batch: unknown, path: (string | number)[], m: Mutation): unknown {
  const copy = JSON.parse(JSON.stringify(batch)) as unknown;
  if (path.length === 0) return m.kind === 'set' ? m.value : copy;
  let parent = copy as Record<string | number, unknown>;
  for (const p of path.slice(0, -1)) parent = parent[p] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (m.kind === 'set') parent[last] = m.value;
  else if (m.kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else {
    const target = parent[last];
    if (typeof target === 'object' && target !== null && !Array.isArray(target)) Object.defineProperty(target, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
    else parent[last] = m.value;
  }
  return copy;
}

const odd = fc.constantFrom<unknown>(-1, -0, 0, 0.5, 1, 3, 4, 100, 100.5, 1e12, 1e13, 2 ** 53, '', 'x', 'a\tb', 'gateway', 'wan', 'ping', 'proxy', 'Full', null, true, [], {}, 'z'.repeat(257), '1640104001');
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  odd.map((value) => ({ kind: 'set' as const, value })),
  fc.constant({ kind: 'delete' as const }),
  fc.record({ kind: fc.constant('add' as const), key: fc.constantFrom('extra', '__proto__', 'toString', 'devices', 'name', 'school', 'target', 'time', 'ok_field', 'agentKind'), value: odd }),
);

describe('protocol/batch-check', () => {
  it('MEASUREMENT_SPECS has the measurements, tags and fields of measurementSchema, and MEASUREMENT_FIELD_ORDER its field order', () => {
    for (const o of measurementSchema.options) {
      const name = o.shape.name.value as string;
      const s = MEASUREMENT_SPECS.get(name);
      expect(s, name).to.not.equal(undefined);
      expect([...(s?.tags.keys() ?? [])].sort(), name).to.deep.equal(Object.keys(o.shape.tags.shape).sort());
      const fields = 'shape' in o.shape.fields ? Object.keys(o.shape.fields.shape) : undefined;
      expect(s?.fields && [...s.fields.keys()], name).to.deep.equal(fields);
      expect(MEASUREMENT_FIELD_ORDER.get(name), name).to.deep.equal(fields);
    }
    expect(MEASUREMENT_SPECS.size).to.equal(measurementSchema.options.length);
  });

  it('isPlainValidBatch() accepts every valid batch without devices, in any key order, as the schema does', () => {
    fc.assert(
      fc.property(fc.array(report(), { minLength: 1, maxLength: 4 }), fc.nat(), (reports, seed) => {
        const batch = reorderKeys(JSON.parse(JSON.stringify({ reports })) as unknown, seed);
        expect(batchSchema.safeParse(batch).success).to.equal(true);
        expect(isPlainValidBatch(batch)).to.equal(true);
      }),
      { numRuns: 1000 },
    );
    expect(isPlainValidBatch({ reports: [typicalReport({ seq: 1 }), typicalReport({ seq: 2 })] })).to.equal(true);
  });

  it('isPlainValidBatch() never accepts what the schema refuses, and parseBatch() answers what the schema answers', () => {
    fc.assert(
      fc.property(fc.array(report(), { minLength: 1, maxLength: 2 }), fc.nat(), mutation, (reports, pick, m) => {
        const valid = { reports };
        const all = paths(valid);
        const broken = mutate(valid, all[pick % all.length] as (string | number)[], m);
        const zod = batchSchema.safeParse(broken);
        if (isPlainValidBatch(broken)) {
          expect(zod.success, JSON.stringify(broken)).to.equal(true);
          expect(broken).to.deep.equal(zod.data);
        }
        const ours = parseBatch(broken);
        expect(ours.success).to.equal(zod.success);
        if (!ours.success && !zod.success) expect(toIssues(ours.error)).to.deep.equal(toIssues(zod.error));
      }),
      { numRuns: 3000 },
    );
  });

  it('a modem field named like a tag key (school, agent, device) or `time` is refused by the schema and by isPlainValidBatch() alike, naming the field', () => {
    for (const key of ['school', 'agent', 'county', 'device', 'target', 'time']) {
      const r = typicalReport({ seq: 1 });
      const modem = r.measurements.find((m) => m.name === 'modem') as { fields: Record<string, number> };
      modem.fields[key] = 1;
      const batch = { reports: [r] };
      expect(isPlainValidBatch(batch), key).to.equal(false);
      const zod = batchSchema.safeParse(batch);
      expect(zod.success, key).to.equal(false);
      if (!zod.success) expect(toIssues(zod.error).map((i) => i.path).join(' '), key).to.match(new RegExp(`fields\\.${key}$`));
    }
    // No fixed field of any measurement is named like a tag key either.
    for (const o of measurementSchema.options) {
      if ('shape' in o.shape.fields) for (const f of Object.keys(o.shape.fields.shape)) expect(RESERVED_FIELD_NAMES.has(f), `${o.shape.name.value}.${f}`).to.equal(false);
    }
    expect([...TAG_KEYS].sort()).to.include.members(['agent', 'class', 'city', 'county', 'device', 'ifname', 'link', 'profile', 'province', 'role', 'school', 'target', 'version']);
    const ok = typicalReport({ seq: 1 });
    (ok.measurements.find((m) => m.name === 'modem') as { fields: Record<string, number> }).fields.schoolish = 1;
    expect(isPlainValidBatch({ reports: [ok] })).to.equal(true);
  });

  it('a batch with devices goes to the schema: parseBatch() gives its output', () => {
    const r = { ...typicalReport({ seq: 1 }), devices: { full: true } };
    const zod = batchSchema.safeParse({ reports: [r] });
    expect(isPlainValidBatch({ reports: [r] })).to.equal(false);
    expect(parseBatch({ reports: [r] })).to.deep.equal(zod);
  });
});
