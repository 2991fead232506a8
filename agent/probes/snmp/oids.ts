/**
 * Numeric OIDs the SNMP probe reads (Debian's snmp tools ship without MIB files, so nothing here
 * depends on MIB names being resolvable).
 */

/** SNMPv2-MIB system group scalars (instance OIDs, with the trailing `.0`). */
export const SYS = {
  sysDescr: '1.3.6.1.2.1.1.1.0',
  sysObjectID: '1.3.6.1.2.1.1.2.0',
  sysUpTime: '1.3.6.1.2.1.1.3.0',
  sysName: '1.3.6.1.2.1.1.5.0',
} as const;

/** IF-MIB ifEntry (the ifTable's entry node; rows are indexed by ifIndex). */
export const IF_ENTRY = '1.3.6.1.2.1.2.2.1';

/** Column numbers of ifEntry. */
export const IF_COL = {
  ifIndex: 1,
  ifDescr: 2,
  ifType: 3,
  ifMtu: 4,
  ifSpeed: 5,
  ifPhysAddress: 6,
  ifAdminStatus: 7,
  ifOperStatus: 8,
  ifInOctets: 10,
  ifInDiscards: 13,
  ifInErrors: 14,
  ifOutOctets: 16,
  ifOutDiscards: 19,
  ifOutErrors: 20,
} as const;

/** IF-MIB ifXEntry (augments ifEntry, same ifIndex). */
export const IFX_ENTRY = '1.3.6.1.2.1.31.1.1.1';

/** Column numbers of ifXEntry. */
export const IFX_COL = {
  ifName: 1,
  ifHCInOctets: 6,
  ifHCOutOctets: 10,
  ifHighSpeed: 15,
  ifAlias: 18,
} as const;

/** IANAifType values the probe cares about. */
export const IF_TYPE = {
  ethernetCsmacd: 6,
  softwareLoopback: 24,
  ieee80211: 71,
} as const;
