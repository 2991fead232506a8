import { expect } from 'chai';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { loadState, parseState, saveState, serializeState, stateFilePath, type DeviceState } from '../../../../agent/probes/snmp/state.js';

const sample = (): DeviceState => ({
  device: 'gateway',
  target: '127.0.0.1:161',
  atMs: 1_700_000_000_000,
  uptimeTicks: 4_294_967_000,
  ifaces: new Map([
    [1, { name: 'ge-0/0/0', reading: { bits: 64, inOctets: 2n ** 64n - 1n, outOctets: 5n, inErrors: 1n, outErrors: 0n, inDiscards: 2n, outDiscards: 3n } }],
    [7, { name: 'eth1', reading: { bits: 32, inOctets: 4_294_967_295n, outOctets: 0n, inErrors: undefined, outErrors: undefined, inDiscards: undefined, outDiscards: undefined } }],
  ]),
});

describe('snmp counter state', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'campuslink-snmp-state-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips 64-bit counters exactly through the JSON file', async () => {
    const file = stateFilePath(dir, 'gateway');
    await saveState(file, sample());
    expect(await loadState(file)).to.deep.equal(sample());
    expect(parseState(serializeState(sample()))).to.deep.equal(sample());
  });

  it('writes atomically, leaving no temporary files behind', async () => {
    const file = stateFilePath(join(dir, 'nested', 'deeper'), 'gateway');
    for (let i = 0; i < 5; i++) await saveState(file, { ...sample(), atMs: 1_700_000_000_000 + i });
    expect(await readdir(join(dir, 'nested', 'deeper'))).to.deep.equal(['snmp-gateway.json']);
    expect((await loadState(file))?.atMs).to.equal(1_700_000_000_004);
  });

  it('resolves undefined when there is no state file, and rejects an invalid one', async () => {
    expect(await loadState(join(dir, 'none.json'))).to.equal(undefined);
    expect(() => parseState('{"v":1}')).to.throw(/invalid SNMP state file/);
    expect(() => parseState('not json')).to.throw();
  });

  it('names state files after the device, with unsafe characters replaced and a hash against collisions', () => {
    expect(basename(stateFilePath(dir, 'gateway'))).to.equal('snmp-gateway.json');
    const a = basename(stateFilePath(dir, 'core/sw 1'));
    const b = basename(stateFilePath(dir, 'core_sw_1'));
    expect(a).to.match(/^snmp-core_sw_1-[0-9a-f]{8}\.json$/);
    expect(a).to.not.equal(b);
    expect(basename(stateFilePath(dir, '../etc'))).to.not.contain('/');
  });
});
