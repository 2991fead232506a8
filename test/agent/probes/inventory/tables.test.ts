import { expect } from 'chai';
import { IP_NET_TO_MEDIA_ENTRY, IP_NET_TO_PHYSICAL_ENTRY, LLDP_REM_ENTRY, LLDP_REM_MAN_ADDR_ENTRY, DOT1D_TP_FDB_ENTRY, DOT1Q_TP_FDB_ENTRY } from '../../../../agent/probes/inventory/oids.js';
import { decodeCapabilities, parseDot1dFdb, parseDot1qFdb, parseIpNetToMedia, parseIpNetToPhysical, parseLldpRemote } from '../../../../agent/probes/inventory/tables.js';
import type { SnmpTable, SnmpVarbind } from '../../../../agent/probes/snmp/client.js';
import type { SimDevice } from '../../../../sim/switch.js';
import { loadJson, loadWalk, tableFromWalk } from '../../../fixtures/snmp/walk.js';

describe('agent/probes/inventory/tables', () => {
  const sim = loadWalk('sim-switch.walk');
  const served = loadJson<SimDevice[]>('sim-switch.devices.json');
  const debian = loadWalk('debian-snmpd.walk');

  it('parseIpNetToPhysical() reads every ARP row of the sim switch with its IPv4 address', () => {
    const rows = parseIpNetToPhysical(tableFromWalk(sim, IP_NET_TO_PHYSICAL_ENTRY));
    expect(rows.map((r) => [r.mac, r.ip])).to.deep.equal(served.map((d) => [d.mac, d.ip]));
    expect(rows.every((r) => r.family === 4 && r.ifIndex === 2)).to.equal(true);
  });

  it('parseIpNetToMedia() gives the same devices from the older table', () => {
    const rows = parseIpNetToMedia(tableFromWalk(sim, IP_NET_TO_MEDIA_ENTRY));
    expect(rows.map((r) => [r.mac, r.ip]).sort()).to.deep.equal(served.map((d) => [d.mac, d.ip]).sort());
  });

  it('both neighbour parsers read what Debian snmpd serves of this machine', () => {
    const phys = parseIpNetToPhysical(tableFromWalk(debian, IP_NET_TO_PHYSICAL_ENTRY));
    const media = parseIpNetToMedia(tableFromWalk(debian, IP_NET_TO_MEDIA_ENTRY));
    expect(phys).to.deep.equal([{ mac: '02:fc:00:00:00:05', ip: '192.0.2.1', family: 4, ifIndex: 4 }]);
    expect(media).to.deep.equal(phys);
    expect(parseLldpRemote(tableFromWalk(debian, LLDP_REM_ENTRY))).to.deep.equal([]);
  });

  it('parseIpNetToPhysical() skips invalid, local and incomplete rows and formats IPv6 addresses', () => {
    const v6 = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9].join('.');
    const mac = (b: number[]): SnmpVarbind => ({ oid: 'x', type: 'OctetString', value: Buffer.from(b) });
    const int = (v: number): SnmpVarbind => ({ oid: 'x', type: 'Integer', value: v });
    const rows: SnmpTable = new Map([
      [`3.2.16.${v6}`, new Map([[4, mac([0, 0x15, 0x65, 1, 2, 3])], [6, int(3)]])],
      ['3.1.4.10.0.0.2', new Map([[4, mac([0, 0x15, 0x65, 1, 2, 4])], [6, int(2)]])],
      ['3.1.4.10.0.0.3', new Map([[4, mac([0, 0x15, 0x65, 1, 2, 5])], [6, int(5)]])],
      ['3.1.4.10.0.0.4', new Map([[4, mac([])], [6, int(3)]])],
      ['3.1.4.10.0.0.5', new Map([[4, mac([1, 0, 0x5e, 0, 0, 1])], [6, int(3)]])],
    ]);
    expect(parseIpNetToPhysical(rows)).to.deep.equal([{ mac: '00:15:65:01:02:03', ip: 'fe80::9', family: 6, ifIndex: 3 }]);
  });

  it('parseLldpRemote() reads chassis MAC, names, capabilities and management address', () => {
    const lldp = parseLldpRemote(tableFromWalk(sim, LLDP_REM_ENTRY), tableFromWalk(sim, LLDP_REM_MAN_ADDR_ENTRY));
    const withLldp = served.filter((d) => d.lldp);
    expect(lldp.map((n) => n.chassisMac)).to.deep.equal(withLldp.map((d) => d.mac));
    const ap = lldp.find((n) => n.capabilities.includes('wlanAccessPoint'));
    expect(ap?.sysName).to.match(/^AP-/);
    expect(ap?.sysDescr).to.contain('Wireless Access Point');
    expect(ap?.managementIps).to.have.length(1);
  });

  it('decodeCapabilities() reads BITS most significant bit first', () => {
    expect(decodeCapabilities(Buffer.from([0x30]))).to.deep.equal(['bridge', 'wlanAccessPoint']);
    expect(decodeCapabilities(Buffer.from([0x04, 0x00]))).to.deep.equal(['telephone']);
    expect(decodeCapabilities(undefined)).to.deep.equal([]);
  });

  it('parseDot1dFdb() takes the MAC from the index and keeps learned entries', () => {
    const fdb = parseDot1dFdb(tableFromWalk(sim, DOT1D_TP_FDB_ENTRY));
    expect(fdb.map((f) => f.mac).sort()).to.deep.equal(served.map((d) => d.mac).sort());
    const first = served[0] as SimDevice;
    expect(fdb.find((f) => f.mac === first.mac)?.port).to.equal(first.port);
  });

  it('parseDot1qFdb() keeps learned unicast entries with their fdbId and skips self, invalid and multicast', () => {
    expect(parseDot1qFdb(tableFromWalk(loadWalk('dot1q-fdb.walk'), DOT1Q_TP_FDB_ENTRY))).to.deep.equal([
      { mac: '00:15:65:46:83:48', port: 7, fdbId: 1 },
      { mac: 'ac:b9:2f:01:02:03', port: 12, fdbId: 20 },
    ]);
  });
});
