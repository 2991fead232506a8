/** Numeric OIDs of the tables the inventory probe reads (Debian's snmp tools ship without MIB files). */

/** IP-MIB ipNetToPhysicalEntry: index ifIndex.addrType.addrLen.addr…; 4 PhysAddress, 6 Type. */
export const IP_NET_TO_PHYSICAL_ENTRY = '1.3.6.1.2.1.4.35.1';
/** IP-MIB (RFC 1213) ipNetToMediaEntry: index ifIndex.a.b.c.d; 2 PhysAddress, 3 NetAddress, 4 Type. */
export const IP_NET_TO_MEDIA_ENTRY = '1.3.6.1.2.1.4.22.1';
/** LLDP-MIB lldpRemEntry: index timeMark.localPortNum.remIndex; 4 ChassisIdSubtype, 5 ChassisId, 9 SysName, 10 SysDesc, 12 SysCapEnabled. */
export const LLDP_REM_ENTRY = '1.0.8802.1.1.2.1.4.1.1';
/** LLDP-MIB lldpRemManAddrEntry: index timeMark.localPortNum.remIndex.addrSubtype.addrLen.addr…; 3 IfSubtype. */
export const LLDP_REM_MAN_ADDR_ENTRY = '1.0.8802.1.1.2.1.4.2.1';
/** BRIDGE-MIB dot1dTpFdbEntry: index = the MAC's six octets; 1 Address, 2 Port, 3 Status. */
export const DOT1D_TP_FDB_ENTRY = '1.3.6.1.2.1.17.4.3.1';
/** Q-BRIDGE-MIB dot1qTpFdbEntry: index fdbId.mac(6); 2 Port, 3 Status. */
export const DOT1Q_TP_FDB_ENTRY = '1.3.6.1.2.1.17.7.1.2.2.1';
/** SNMPv2-MIB sysDescr.0 and sysName.0, read from discovered devices. */
export const SYS_DESCR = '1.3.6.1.2.1.1.1.0';
export const SYS_NAME = '1.3.6.1.2.1.1.5.0';
