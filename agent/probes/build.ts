/** Builds the probes an agent config describes. */
import type { AgentConfig } from '../config.js';
import { resolveInventorySources } from './inventory/config.js';
import { createInventoryProbe } from './inventory/index.js';
import { createModemProbe, resolveModemProfile } from './modem/index.js';
import { createPingProbe } from './ping/index.js';
import type { Probe } from './probe.js';
import { snmpDevices } from './snmp/config.js';
import { createIfaceProbe } from './snmp/index.js';
import { createLimiter } from './snmp/limit.js';
import { createThroughputProbe, resolveThroughputConfig } from './throughput/index.js';

export interface BuildProbesOptions {
  config: Readonly<AgentConfig>;
  /** Absolute state directory (counter state lives there). */
  stateDir: string;
}

/**
 * The ping probe when targets are configured; the throughput probe when `throughput.enabled`; the inventory probe when a source (default: the gateway) exists; per SNMP device (the gateway from `snmp.host`, then
 * `snmp.devices`) an interface probe and, with a `modemProfile`, a modem probe. All SNMP probes share
 * one limiter of `snmp.concurrency` devices in flight.
 */
export function buildProbes({ config, stateDir }: BuildProbesOptions): Probe[] {
  const probes: Probe[] = [];
  if (config.targets.length) probes.push(createPingProbe({ targets: config.targets, linkType: config.linkType }));
  const { snmp, inventory: inv } = config;
  const sources = resolveInventorySources({ inventory: inv, snmp });
  if (inv.enabled && sources.length) {
    const { discovery } = inv;
    probes.push(
      createInventoryProbe({
        sources,
        timeoutMs: inv.timeoutMs,
        retries: inv.retries,
        goneAfterMs: inv.goneAfterMin * 60_000,
        fullResendIntervalMs: inv.fullResendHours * 3_600_000,
        rules: inv.rules,
        defaultRules: inv.defaultRules,
        stateDir,
        ...(discovery && { discovery: { ...discovery, intervalMs: discovery.intervalMin * 60_000 } }),
      }),
    );
  }
  if (config.throughput.enabled) {
    probes.push(createThroughputProbe({ config: resolveThroughputConfig(config.throughput, config.linkType), seed: `${config.school}/${config.agentId}`, stateDir }));
  }
  const devices = snmpDevices(snmp);
  if (devices.length === 0) return probes;
  const limiter = createLimiter(snmp.concurrency);
  for (const d of devices) {
    const common = {
      device: d.device,
      host: d.host,
      community: d.community,
      version: d.version,
      ...(d.v3 && { v3: d.v3 }),
      timeoutMs: d.timeoutMs,
      retries: d.retries,
      limiter,
    };
    if (d.interfaces) {
      probes.push(createIfaceProbe({ ...common, ...(d.wanInterface !== undefined && { wanInterface: d.wanInterface }), wanRecheckMs: snmp.wanRecheckMs, stateDir }));
    }
    if (d.modemProfile !== undefined) {
      probes.push(createModemProbe({ ...common, profile: resolveModemProfile({ profile: d.modemProfile }), ...(d.modemIndex !== undefined && { index: d.modemIndex }) }));
    }
  }
  return probes;
}
