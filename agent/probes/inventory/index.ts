/**
 * The inventory probe: reads ARP/neighbour, LLDP and bridge tables of one or more SNMP devices (the
 * gateway by default), optionally sweeps a LAN range for further SNMP devices, names each MAC's vendor
 * from the IEEE registry, classifies devices by rules, and reports counts per class every cycle. The
 * device list itself travels as new/gone events only when it changed, and in full on start and every
 * `fullResendIntervalMs`.
 */
import { join } from 'node:path';
import { DEVICE_CLASSES, SNMP_RESULT, type DeviceEvents, type Measurement } from '../../../protocol/index.js';
import type { Probe, ProbeContext } from '../probe.js';
import { createNetSnmpClient, splitHostPort, type NetSnmpClientOptions, type SnmpClient, type SnmpV3Credentials, type SnmpVersion } from '../snmp/client.js';
import { compileRules, DEFAULT_RULES, type ClassRule } from './classify.js';
import { cidrHosts, discover } from './discovery.js';
import { observe } from './observe.js';
import { sharedOuiLookup, type OuiLookup } from './oui.js';
import { pollTables, type TablesReading } from './poll.js';
import { countByClass, loadState, saveState, updateDevices, type InventoryState } from './store.js';

/**
 * `inventory_poll.result_code`: SNMP_RESULT's 0 ok, 2 no response, 3 error, and 1 when the source answered
 * but a table could not be read even one row per request (the protocol's range 0-3 has 1 free).
 */
export const INVENTORY_POLL_RESULT = { ...SNMP_RESULT, tableFailed: 1 } as const;

/** One device whose tables are read. */
export interface InventorySourceOptions {
  /** For log lines (default: the host). */
  name?: string;
  /** host, host:port or [v6]:port. */
  host: string;
  /** UDP port (default: the one in `host`, else 161). */
  port?: number;
  community?: string;
  version?: SnmpVersion;
  /** USM user; required when `version` is `'3'`. */
  v3?: SnmpV3Credentials;
}

/** Discovery sweep settings. */
export interface InventoryDiscoveryOptions {
  /** IPv4 CIDR to sweep. */
  cidr: string;
  community?: string;
  version?: SnmpVersion;
  /** UDP port of the SNMP agents (default 161). */
  port?: number;
  /** Time between two sweeps, ms. */
  intervalMs: number;
  /** Per-host timeout, ms (default 800). */
  timeoutMs?: number;
  /** Hosts probed at once (default 32). */
  concurrency?: number;
  /** Larger ranges are refused (default 1024). */
  maxHosts?: number;
}

/** Options of `createInventoryProbe`. */
export interface InventoryProbeOptions {
  sources: InventorySourceOptions[];
  /** Per-request timeout, ms (default 2000). */
  timeoutMs?: number;
  /** Re-sends of an unanswered request (default 1). */
  retries?: number;
  /** A device unseen this long is gone, ms (default 1 h). */
  goneAfterMs?: number;
  /** The full list is re-sent this often, and on the first cycle after start, ms (default 24 h). */
  fullResendIntervalMs?: number;
  /** Rules tried first. */
  rules?: readonly ClassRule[];
  /** Append `DEFAULT_RULES` (default true). */
  defaultRules?: boolean;
  discovery?: InventoryDiscoveryOptions;
  /** Directory of `inventory.json` (and of the OUI index built from the registry when not shipped); without it the list lives in memory only. */
  stateDir?: string;
  /** Vendor lookup (default: the shared `oui-data` lookup, its index kept in `stateDir`). */
  oui?: OuiLookup;
  /** Client factory (tests); the probe closes each client after its poll. */
  createClient?: (options: NetSnmpClientOptions) => SnmpClient;
  /** `max-repetitions` of the table walks (default 40: 300 ARP rows take 8 GetBulk requests per column). */
  maxRepetitions?: number;
}

/** What the probe has seen since it was created. */
export interface InventoryProbeStats {
  polls: number;
  /** Source polls that could not read the neighbour table. */
  failedPolls: number;
  /** Failed table walks and refused discovery ranges, cumulative. */
  errors: number;
  /** Failed table walks of the last cycle. */
  lastErrors: number;
  /** Devices currently known. */
  devices: number;
  /** Discovery sweeps run, and hosts that answered the last one. */
  sweeps: number;
  discovered: number;
}

export interface InventoryProbe extends Probe {
  readonly stats: Readonly<InventoryProbeStats>;
  /** Device events of the last `collect()`, undefined when the list did not change. */
  deviceEvents(): DeviceEvents | undefined;
}

/** Creates the probe. Throws only for invalid options (a bad rule regex). */
export function createInventoryProbe(options: InventoryProbeOptions): InventoryProbe {
  const goneAfterMs = options.goneAfterMs ?? 3_600_000;
  const fullResendIntervalMs = options.fullResendIntervalMs ?? 86_400_000;
  const rules = compileRules([...(options.rules ?? []), ...(options.defaultRules === false ? [] : DEFAULT_RULES)]);
  const createClient = options.createClient ?? createNetSnmpClient;
  const statePath = options.stateDir ? join(options.stateDir, 'inventory.json') : undefined;
  const stats: InventoryProbeStats = { polls: 0, failedPolls: 0, errors: 0, lastErrors: 0, devices: 0, sweeps: 0, discovered: 0 };
  let state: InventoryState | undefined;
  let fullSentSinceStart = false;
  let events: DeviceEvents | undefined;
  let failing = false;
  /** `source table` pairs that failed at the last poll: each is logged when it starts and when it ends. */
  const failingTables = new Set<string>();

  const noteTableFailures = (readings: readonly (TablesReading & { source: string })[], ctx: ProbeContext): void => {
    const now = new Set<string>();
    for (const r of readings) {
      for (const t of r.failedTables) {
        const key = `${r.source} ${t}`;
        now.add(key);
        if (!failingTables.has(key)) {
          ctx.log.warn({ code: 'AGT_ERR_PROBE_FAILED', source: r.source, table: t, err: r.firstError }, 'inventory: a table could not be read, even one row per request; its devices are kept, not aged out (inventory_poll result_code 1)');
        }
      }
      if (r.retriedTables.length) ctx.log.debug({ source: r.source, tables: r.retriedTables }, 'inventory: tables read with fewer repetitions');
    }
    for (const key of failingTables) if (!now.has(key)) ctx.log.info({ table: key }, 'inventory: table readable again');
    failingTables.clear();
    for (const key of now) failingTables.add(key);
  };

  const pollSource = async (s: InventorySourceOptions): Promise<TablesReading & { source: string; pollMs: number }> => {
    const hp = splitHostPort(s.host);
    const port = s.port ?? hp.port;
    const client = createClient({
      host: hp.host,
      ...(port !== undefined && { port }),
      community: s.community ?? 'public',
      version: s.version ?? '2c',
      ...(s.v3 && { v3: s.v3 }),
      timeoutMs: options.timeoutMs ?? 2000,
      retries: options.retries ?? 1,
      maxRepetitions: options.maxRepetitions ?? 40,
    });
    const started = performance.now();
    try {
      const reading = await pollTables(client);
      return { ...reading, source: s.name ?? s.host, pollMs: performance.now() - started };
    } finally {
      client.close();
    }
  };

  const runDiscovery = async (ctx: ProbeContext, st: InventoryState): Promise<void> => {
    const d = options.discovery;
    if (!d) return;
    const at = ctx.now();
    if (st.lastDiscoveryAtMs !== undefined && at - st.lastDiscoveryAtMs < d.intervalMs && at >= st.lastDiscoveryAtMs) return;
    st.lastDiscoveryAtMs = at;
    let hosts: string[];
    try {
      hosts = cidrHosts(d.cidr, d.maxHosts ?? 1024);
    } catch (e) {
      stats.errors++;
      ctx.log.warn({ cidr: d.cidr, err: (e as Error).message }, 'inventory discovery range refused');
      return;
    }
    const result = await discover({
      hosts,
      community: d.community ?? 'public',
      version: d.version ?? '2c',
      ...(d.port !== undefined && { port: d.port }),
      timeoutMs: d.timeoutMs ?? 800,
      concurrency: d.concurrency ?? 32,
      createClient,
    });
    st.discovered = result.hosts;
    stats.sweeps++;
    stats.discovered = result.hosts.size;
    ctx.log.debug({ cidr: d.cidr, probed: result.probed, answered: result.hosts.size }, 'inventory discovery sweep done');
  };

  return {
    name: 'inventory',
    get stats() {
      return stats;
    },
    deviceEvents: () => events,
    async collect(ctx) {
      events = undefined;
      if (!state) {
        if (statePath) {
          const loaded = await loadState(statePath, ctx.now());
          if (loaded.warning) ctx.log.warn({ file: statePath, err: loaded.warning }, 'inventory state unreadable; starting with an empty device list');
          state = loaded.state;
        } else {
          state = { devices: new Map(), discovered: new Map() };
        }
      }
      const st = state;
      const readings = await Promise.all(options.sources.map(pollSource));
      await runDiscovery(ctx, st);
      const now = ctx.now();

      stats.polls += readings.length;
      stats.lastErrors = readings.reduce((n, r) => n + r.errors, 0);
      stats.errors += stats.lastErrors;
      const failed = readings.filter((r) => r.neighboursFailed);
      stats.failedPolls += failed.length;
      const usable = readings.filter((r) => !r.neighboursFailed);
      noteTableFailures(readings, ctx);
      const partial = readings.some((r) => r.failedTables.length > 0);
      if (failed.length) {
        const detail = { failed: failed.length, sources: readings.length, err: failed[0]?.firstError };
        if (!failing) ctx.log.warn(detail, 'inventory: device tables could not be read; devices are kept, not aged out');
        else ctx.log.debug(detail, 'inventory: device tables still unreadable');
        failing = true;
      } else if (failing) {
        ctx.log.info('inventory: device tables readable again');
        failing = false;
      }

      let added: DeviceEvents['added'] = [];
      let removed: string[] = [];
      if (usable.length) {
        // Ageing needs every source: a device behind a silent source is not gone, only unobserved.
        const changes = updateDevices({
          state: st,
          observed: observe(usable, st.discovered),
          nowMs: now,
          // Nor is a device seen only through a table that could not be read: it keeps its lastSeen until a
          // successful read of every table says otherwise.
          goneAfterMs: failed.length || partial ? Number.POSITIVE_INFINITY : goneAfterMs,
          rules,
          oui: options.oui ?? sharedOuiLookup({ ...(options.stateDir !== undefined && { cacheDir: options.stateDir }) }),
        });
        added = changes.added;
        removed = changes.removed;
      }
      const fullDue = !fullSentSinceStart || st.lastFullAtMs === undefined || now - st.lastFullAtMs >= fullResendIntervalMs || now < st.lastFullAtMs;
      if (fullDue) {
        events = { full: true, added: [...st.devices.values()].map((k) => k.device).sort((a, b) => (a.mac < b.mac ? -1 : 1)), removed: [] };
        st.lastFullAtMs = now;
        fullSentSinceStart = true;
      } else if (added.length || removed.length) {
        events = { full: false, added, removed };
      }
      stats.devices = st.devices.size;
      if (statePath) {
        try {
          saveState(statePath, st);
        } catch (e) {
          stats.errors++;
          ctx.log.warn({ file: statePath, err: (e as Error).message }, 'inventory state not saved');
        }
      }
      const counts = countByClass(st, DEVICE_CLASSES);
      const polls = readings.map(
        (r): Measurement => ({
          name: 'inventory_poll',
          tags: { device: r.source },
          fields: { result_code: INVENTORY_POLL_RESULT[r.result], errors: r.errors, neighbours: r.neighbours.length, poll_ms: Math.round(r.pollMs) },
        }),
      );
      return [...DEVICE_CLASSES.map((c): Measurement => ({ name: 'inventory', tags: { class: c }, fields: { count: counts.get(c) ?? 0 } })), ...polls];
    },
  };
}

export { DEFAULT_RULES, classify, compileRules, type ClassRule, type CompiledRule, type DeviceFacts } from './classify.js';
export { inventorySectionSchema, resolveInventorySources, type InventorySection, type InventorySource } from './config.js';
export { createOuiLookup, sharedOuiLookup, type OuiLookup } from './oui.js';
export { isLocallyAdministered, normalizeMac } from './mac.js';
