/** The SNMP side of the agent: a small client, the interface probe, and its counter arithmetic. */
export { createIfaceProbe, ifaceRole, type IfaceProbe, type IfaceProbeOptions, type IfaceProbeStats } from './iface.js';
export {
  createNetSnmpClient,
  splitHostPort,
  SnmpError,
  type NetSnmpClientOptions,
  type SnmpClient,
  type SnmpErrorKind,
  type SnmpTable,
  type SnmpVarbind,
  type SnmpVersion,
} from './client.js';
export { counterDelta, ifaceDeltas, pollInterval, type CounterBits, type IfaceReading, type PollInterval } from './counters.js';
