/**
 * Reads a Go CPU profile (`/debug/pprof/profile` of influxd with `pprof-enabled = true`: gzipped
 * profile.proto) without `go tool pprof`, and sums its samples by function: self (leaf) and cumulative
 * (anywhere on the stack), plus by an optional grouping of functions (e.g. by package).
 *
 *   npx tsx bench/fleet/pprof.ts PROFILE.pb.gz [--top 30]
 *
 * Only the fields a CPU profile needs are decoded (samples, locations with their lines, functions, strings).
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';

/** A decoded profile: each sample's stack as function names, leaf first, and its CPU nanoseconds. */
export interface GoProfile {
  samples: { stack: string[]; cpuNs: number }[];
  durationNs: number;
}

/** Protobuf fields of one message: [field number, wire type, value] (varint as number, length-delimited as bytes). */
function* fields(buf: Uint8Array): Generator<[number, number, number | Uint8Array]> {
  let i = 0;
  const varint = (): number => {
    let result = 0;
    let mul = 1;
    for (;;) {
      const b = buf[i++] as number;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) yield [field, wire, varint()];
    else if (wire === 2) {
      const len = varint();
      yield [field, wire, buf.subarray(i, i + len)];
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`pprof: unsupported protobuf wire type ${wire}`);
  }
}

/** A repeated integer field, packed (bytes) or not (one number). */
function ints(v: number | Uint8Array): number[] {
  if (typeof v === 'number') return [v];
  const out: number[] = [];
  for (const [, , x] of fields(prefixPacked(v))) out.push(x as number);
  return out;
}

/** Packed varints as a sequence of field-1 varints, so `fields` can read them. */
function prefixPacked(v: Uint8Array): Uint8Array {
  const out: number[] = [];
  let start = 0;
  for (let i = 0; i < v.length; i++) {
    if ((v[i] as number) < 0x80) {
      out.push(0x08, ...v.subarray(start, i + 1));
      start = i + 1;
    }
  }
  return Uint8Array.from(out);
}

/** Decodes a (gzipped or plain) Go profile.proto. */
export function readGoProfile(data: Uint8Array): GoProfile {
  const buf = data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : data;
  const strings: string[] = [];
  const sampleTypes: { type: number; unit: number }[] = [];
  const rawSamples: { locs: number[]; values: number[] }[] = [];
  const locations = new Map<number, number[]>(); // id → function ids, innermost first
  const functions = new Map<number, number>(); // id → name string index
  let durationNs = 0;
  for (const [f, , v] of fields(buf)) {
    if (f === 6) strings.push(Buffer.from(v as Uint8Array).toString('utf8'));
    else if (f === 1) {
      const t = { type: 0, unit: 0 };
      for (const [g, , x] of fields(v as Uint8Array)) (g === 1 ? (t.type = x as number) : g === 2 && (t.unit = x as number));
      sampleTypes.push(t);
    } else if (f === 2) {
      const s = { locs: [] as number[], values: [] as number[] };
      for (const [g, , x] of fields(v as Uint8Array)) {
        if (g === 1) s.locs.push(...ints(x));
        else if (g === 2) s.values.push(...ints(x));
      }
      rawSamples.push(s);
    } else if (f === 4) {
      let id = 0;
      const fns: number[] = [];
      for (const [g, , x] of fields(v as Uint8Array)) {
        if (g === 1) id = x as number;
        else if (g === 4) for (const [h, , y] of fields(x as Uint8Array)) if (h === 1) fns.push(y as number);
      }
      locations.set(id, fns);
    } else if (f === 5) {
      let id = 0;
      let name = 0;
      for (const [g, , x] of fields(v as Uint8Array)) (g === 1 ? (id = x as number) : g === 2 && (name = x as number));
      functions.set(id, name);
    } else if (f === 10) durationNs = v as number;
  }
  // CPU profiles carry [samples count, cpu nanoseconds]: take the nanoseconds.
  const cpuIndex = Math.max(0, sampleTypes.findIndex((t) => strings[t.unit] === 'nanoseconds'));
  const samples = rawSamples.map((s) => ({
    stack: s.locs.flatMap((l) => (locations.get(l) ?? []).map((fn) => strings[functions.get(fn) ?? 0] ?? '?')),
    cpuNs: s.values[cpuIndex] ?? 0,
  }));
  return { samples, durationNs };
}

/** What influxd's CPU does, by the first matching frame anywhere on the stack (order matters: GC assists run inside writes). */
const INFLUXD_PARTS: readonly [string, RegExp][] = [
  ['Go GC', /^runtime\.(gcBgMarkWorker|gcAssistAlloc|bgsweep|bgscavenge|gcDrain)/],
  // The snapshot's encoders and key sort run in goroutines of their own, without WriteSnapshot on their stacks.
  ['cache snapshot to TSM', /tsm1\.\(\*Compactor\)\.WriteSnapshot|tsm1\.\(\*Engine\)\.(compactCache|WriteSnapshot)|tsm1\.\(\*cacheKeyIterator\)|tsm1\.\(\*ring\)\.(apply|keys)|tsm1\.\(\*Cache\)\.Keys/],
  ['TSM compaction', /tsm1\.\(\*Compactor\)\.(Compact|compact)|compactGroup|tsm1\.\(\*Engine\)\.compact/],
  ['TSI index compaction', /tsi1\.\(\*(Partition|Index)\)\.(compact|Compact)/],
  ['write: parse', /models\.(ParsePoints|parsePoint)/],
  ['write: series index', /CreateSeriesListIfNotExists|tsi1\.|SeriesFile|SeriesPartition/],
  ['write: cache + WAL', /tsm1\.\(\*(Cache|WAL|Engine)\)\.(WriteMulti|WritePoints|writeToLog)|tsm1\.\(\*WAL\)/],
  ['HTTP and the rest of a write', /httpd\.\(\*Handler\)\.serveWrite|coordinator\./],
];

/** CPU shares of `parts` (first matching frame class wins; the rest is "other"). */
export function byPart(p: GoProfile, parts: readonly [string, RegExp][] = INFLUXD_PARTS): [string, number][] {
  const total = p.samples.reduce((a, s) => a + s.cpuNs, 0) || 1;
  const sums = new Map<string, number>();
  for (const s of p.samples) {
    const part = parts.find(([, re]) => s.stack.some((fn) => re.test(fn)))?.[0] ?? 'other';
    sums.set(part, (sums.get(part) ?? 0) + s.cpuNs);
  }
  return [...sums].sort((a, b) => b[1] - a[1]).map(([k, ns]) => [k, ns / total]);
}

/** Top functions by self and cumulative CPU, as text lines. */
export function topFunctions(p: GoProfile, top = 30): string[] {
  const total = p.samples.reduce((a, s) => a + s.cpuNs, 0);
  const self = new Map<string, number>();
  const cum = new Map<string, number>();
  for (const s of p.samples) {
    const leaf = s.stack[0] ?? '?';
    self.set(leaf, (self.get(leaf) ?? 0) + s.cpuNs);
    for (const fn of new Set(s.stack)) cum.set(fn, (cum.get(fn) ?? 0) + s.cpuNs);
  }
  const pct = (x: number) => `${((100 * x) / (total || 1)).toFixed(1).padStart(5)} %`;
  const rows = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([fn, ns]) => `  ${pct(ns)}  ${fn}`);
  return [
    `${(total / 1e9).toFixed(1)} s CPU in ${(p.durationNs / 1e9).toFixed(1)} s (${((100 * total) / (p.durationNs || 1)).toFixed(0)} % of a core)`,
    `by part: ${byPart(p).map(([k, f]) => `${k} ${(100 * f).toFixed(0)} %`).join(', ')}`,
    'self:',
    ...rows(self),
    'cumulative:',
    ...rows(cum),
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: npx tsx bench/fleet/pprof.ts PROFILE.pb.gz [--top 30]');
    process.exit(2);
  }
  const i = process.argv.indexOf('--top');
  console.log(topFunctions(readGoProfile(readFileSync(file)), i > 0 ? Number(process.argv[i + 1]) : 30).join('\n'));
}
