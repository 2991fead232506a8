/** Builds the probes an agent config describes. */
import type { AgentConfig } from '../config.js';
import { createPingProbe } from './ping/index.js';
import type { Probe } from './probe.js';
import { createIfaceProbe } from './snmp/index.js';

export interface BuildProbesOptions {
  config: Readonly<AgentConfig>;
  /** Absolute state directory (counter state lives there). */
  stateDir: string;
}

/** The ping probe when targets are configured, and the gateway's SNMP probe when `snmp.host` is set. */
export function buildProbes({ config, stateDir }: BuildProbesOptions): Probe[] {
  const probes: Probe[] = [];
  if (config.targets.length) probes.push(createPingProbe({ targets: config.targets, linkType: config.linkType }));
  const { snmp } = config;
  if (snmp.host) {
    probes.push(
      createIfaceProbe({
        device: snmp.device,
        host: snmp.host,
        community: snmp.community,
        version: snmp.version,
        timeoutMs: snmp.timeoutMs,
        retries: snmp.retries,
        wanInterface: snmp.wanInterface,
        stateDir,
      }),
    );
  }
  return probes;
}
