/**
 * What a V8 heap snapshot holds, by constructor and by retainer (issue 11: the collector's heap at
 * province scale).
 *
 *   npx tsx bench/heap-summary.ts <file.heapsnapshot> [--top 30] [--per 5] [--base <earlier.heapsnapshot>]
 *
 * Prints the object groups (node type and constructor/name) by total self size, with count and bytes
 * per object, and for each of the largest groups the retainers holding its objects (the holder's group
 * and the edge name: `Map.table`, `Liveness.lastReportMs`, …), so a per-school object can be told from
 * per-request garbage. With `--base`, the growth of each group between the two snapshots. `--per-unit
 * <n>` divides every size by n (e.g. the number of schools) and prints bytes per unit too; `--depth 2` names
 * each holder with its own first holder; `--retainers-of <group>` lists the retainers of that group only.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** The parts of a snapshot this summary reads. */
export interface Snapshot {
  nodeFields: string[];
  edgeFields: string[];
  nodeTypes: string[];
  edgeTypes: string[];
  nodes: number[];
  edges: number[];
  strings: string[];
}

/** Parses a `.heapsnapshot` file. */
export function readSnapshot(path: string): Snapshot {
  const j = JSON.parse(readFileSync(path, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; edge_fields: string[]; node_types: [string[]]; edge_types: [string[]] } };
    nodes: number[];
    edges: number[];
    strings: string[];
  };
  const m = j.snapshot.meta;
  return { nodeFields: m.node_fields, edgeFields: m.edge_fields, nodeTypes: m.node_types[0], edgeTypes: m.edge_types[0], nodes: j.nodes, edges: j.edges, strings: j.strings };
}

/** One group of objects: same node type and name. */
export interface Group {
  key: string;
  count: number;
  bytes: number;
}

/** Sizes by group, and the retainers (holder group + edge name) of the nodes of each group. */
export interface Summary {
  groups: Map<string, Group>;
  retainers: Map<string, Map<string, Group>>;
  totalBytes: number;
  totalNodes: number;
}

/** The group a node belongs to: strings, arrays, code, … by type; objects and closures by name. */
function groupKey(type: string, name: string): string {
  if (type === 'object' || type === 'closure' || type === 'native') return `${type === 'object' ? '' : `(${type}) `}${name.length > 60 ? `${name.slice(0, 60)}…` : name}`;
  if (type === 'hidden' || type === 'array' || type === 'object shape') return `(${type}) ${name.length > 40 ? `${name.slice(0, 40)}…` : name}`;
  return `(${type})`;
}

/** Summarises a snapshot; retainers only for the groups in `retainersOf` (all when undefined). */
export function summarise(s: Snapshot, retainersOf?: Set<string>, depth = 1): Summary {
  const nf = s.nodeFields.length;
  const ef = s.edgeFields.length;
  const iType = s.nodeFields.indexOf('type');
  const iName = s.nodeFields.indexOf('name');
  const iSize = s.nodeFields.indexOf('self_size');
  const iEdges = s.nodeFields.indexOf('edge_count');
  const eType = s.edgeFields.indexOf('type');
  const eName = s.edgeFields.indexOf('name_or_index');
  const eTo = s.edgeFields.indexOf('to_node');
  const n = s.nodes.length / nf;
  const keys = new Array<string>(n);
  const groups = new Map<string, Group>();
  let totalBytes = 0;
  for (let i = 0; i < n; i++) {
    const type = s.nodeTypes[s.nodes[i * nf + iType] as number] as string;
    const key = groupKey(type, s.strings[s.nodes[i * nf + iName] as number] as string);
    keys[i] = key;
    const size = s.nodes[i * nf + iSize] as number;
    totalBytes += size;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { key, count: 0, bytes: 0 }));
    g.count++;
    g.bytes += size;
  }
  // Retainers: every strong edge into a node of a chosen group, labelled by the holder's group and the edge name.
  const retainers = new Map<string, Map<string, Group>>();
  /** Calls `fn` with every strong edge: holder node, target node, edge type, name or index. */
  const forEachEdge = (fn: (from: number, to: number, type: string, nameOrIndex: number) => void): void => {
    let e = 0;
    for (let i = 0; i < n; i++) {
      const edges = s.nodes[i * nf + iEdges] as number;
      for (let k = 0; k < edges; k++, e += ef) {
        const et = s.edgeTypes[s.edges[e + eType] as number] as string;
        if (et !== 'weak' && et !== 'shortcut') fn(i, (s.edges[e + eTo] as number) / nf, et, s.edges[e + eName] as number);
      }
    }
  };
  const edgeLabel = (type: string, raw: number): string => (type === 'element' || type === 'hidden' ? `[${type}]` : (s.strings[raw] ?? String(raw)).slice(0, 30));
  // With depth 2, a holder is named with its own first holder too (`Array.[element] <- Registry.schools`).
  const parent = depth > 1 ? new Int32Array(n).fill(-1) : undefined;
  const parentEdge = depth > 1 ? new Array<string>(n) : undefined;
  if (parent && parentEdge) {
    forEachEdge((from, to, type, raw) => {
      if (parent[to] !== -1 || to === from) return;
      parent[to] = from;
      parentEdge[to] = edgeLabel(type, raw);
    });
  }
  const holder = (i: number): string => {
    const p = parent?.[i] ?? -1;
    return p >= 0 ? `${keys[i]} <- ${keys[p]}.${parentEdge?.[i]}` : (keys[i] as string);
  };
  forEachEdge((from, to, type, raw) => {
    const toKey = keys[to] as string;
    if (retainersOf && !retainersOf.has(toKey)) return;
    const label = `${depth > 1 ? holder(from) : keys[from]}.${edgeLabel(type, raw)}`;
    let m = retainers.get(toKey);
    if (!m) retainers.set(toKey, (m = new Map()));
    let g = m.get(label);
    if (!g) m.set(label, (g = { key: label, count: 0, bytes: 0 }));
    g.count++;
    g.bytes += s.nodes[to * nf + iSize] as number;
  });
  return { groups, retainers, totalBytes, totalNodes: n };
}

const mib = (b: number): string => (b / 2 ** 20).toFixed(1);

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

/** Prints the summary of the snapshot named on the command line. */
function main(): void {
  const file = process.argv[2];
  if (!file) throw new Error('usage: heap-summary.ts <file.heapsnapshot> [--top 30] [--per 5] [--base earlier.heapsnapshot] [--per-unit n]');
  const top = Number(arg('top') ?? 30);
  const per = Number(arg('per') ?? 5);
  const unit = Number(arg('per-unit') ?? 0);
  const first = summarise(readSnapshot(file), new Set());
  const sorted = [...first.groups.values()].sort((a, b) => b.bytes - a.bytes).slice(0, top);
  // Second pass with retainers of the largest groups only (retainers of every group would not fit in memory).
  const only = arg('retainers-of');
  const s = per > 0 ? summarise(readSnapshot(file), new Set(only ? [only] : sorted.map((g) => g.key)), Number(arg('depth') ?? 1)) : first;
  const base = arg('base') ? summarise(readSnapshot(arg('base') as string), new Set()) : undefined;
  console.log(`${file}: ${s.totalNodes} nodes, ${mib(s.totalBytes)} MiB self size${unit ? ` (${(s.totalBytes / unit).toFixed(0)} B per unit of ${unit})` : ''}${base ? `; base ${mib(base.totalBytes)} MiB, growth ${mib(s.totalBytes - base.totalBytes)} MiB` : ''}`);
  for (const g of sorted) {
    const b = base?.groups.get(g.key);
    const growth = base ? ` growth ${mib(g.bytes - (b?.bytes ?? 0))} MiB / ${g.count - (b?.count ?? 0)} objects` : '';
    console.log(`${mib(g.bytes).padStart(8)} MiB ${String(g.count).padStart(9)} × ${(g.bytes / g.count).toFixed(0).padStart(6)} B${unit ? ` ${(g.bytes / unit).toFixed(0).padStart(6)} B/unit ${(g.count / unit).toFixed(2).padStart(6)} obj/unit` : ''}  ${g.key}${growth}`);
    const rs = [...(s.retainers.get(g.key)?.values() ?? [])].sort((a, b2) => b2.bytes - a.bytes).slice(0, per);
    for (const r of rs) console.log(`${''.padStart(14)}held by ${r.key}: ${r.count} (${mib(r.bytes)} MiB)`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
