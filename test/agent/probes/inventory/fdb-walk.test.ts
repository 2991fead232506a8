/**
 * A bridge table walk that fails on a device that otherwise answers: real snmpd serving the Q-BRIDGE-MIB of
 * test/fixtures/snmp/huawei-s5720-qbridge.walk (pass_persist), behind a UDP relay that leaves unanswered every
 * answer carrying more than `maxBitmaps` of the long port bitmaps that follow dot1qTpFdbTable — as the
 * S5720 does not answer a GetBulk that runs into them.
 */
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { createInventoryProbe } from '../../../../agent/probes/inventory/index.js';
import type { Measurement } from '../../../../protocol/index.js';
import { loadWalk } from '../../../fixtures/snmp/walk.js';
import { startSnmpd, type Snmpd } from '../../../helpers/snmpd.js';

const PASS = join(import.meta.dirname, '../../../fixtures/snmp/pass-persist.py');
const BITMAP_RUN = Buffer.alloc(64, 0xff);
const FDB_MACS = ['00:1a:2b:10:00:01', '00:1a:2b:10:00:02', '00:1a:2b:10:00:03', '00:1a:2b:10:00:04'];
const MIN = 60_000;

function count(buf: Buffer, needle: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(needle); i >= 0; i = buf.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** A UDP relay to snmpd that drops answers with more than `maxBitmaps` port bitmaps in them. */
async function startRelay(target: { host: string; port: number }): Promise<{ port: number; maxBitmaps: number; dropped: number; stop(): void }> {
  const front = dgram.createSocket('udp4');
  const back = dgram.createSocket('udp4');
  let client: dgram.RemoteInfo | undefined;
  const relay = { port: 0, maxBitmaps: Infinity, dropped: 0, stop: () => (front.close(), back.close()) };
  front.on('message', (msg, rinfo) => {
    client = rinfo;
    back.send(msg, target.port, target.host);
  });
  back.on('message', (msg) => {
    if (count(msg, BITMAP_RUN) > relay.maxBitmaps) {
      relay.dropped++;
      return;
    }
    if (client) front.send(msg, client.port, client.address);
  });
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => back.bind(0, '127.0.0.1', () => r()));
  relay.port = front.address().port;
  return relay;
}

describe('agent/probes/inventory: a bridge table walk that fails (real snmpd, Huawei S5720 Q-BRIDGE shape)', function () {
  this.timeout(60_000);
  let snmpd: Snmpd;
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cl-fdb-'));
    const rows = loadWalk('huawei-s5720-qbridge.walk').map((vb) =>
      vb.type === 'Integer' ? { oid: vb.oid, type: 'integer', value: vb.value } : { oid: vb.oid, type: 'octet', value: [...(vb.value as Buffer)].map((b) => b.toString(16).padStart(2, '0')).join(' ') },
    );
    writeFileSync(join(dir, 'qbridge.json'), JSON.stringify(rows));
    snmpd = await startSnmpd({ extraConfig: [`pass_persist .1.3.6.1.2.1.17 /usr/bin/python3 ${PASS} ${join(dir, 'qbridge.json')}`] });
    relay = await startRelay(snmpd);
  });
  after(async () => {
    relay?.stop();
    await snmpd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const poll = (ms: Measurement[]) => ms.find((m) => m.name === 'inventory_poll')?.fields;
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });

  it('the walk that gets no answer is retried with fewer repetitions and read: the FDB-only devices are found, result_code 0', async () => {
    relay.maxBitmaps = 1;
    relay.dropped = 0;
    let t = Date.UTC(2026, 11, 1, 8);
    const probe = createInventoryProbe({ sources: [{ host: `127.0.0.1:${relay.port}`, community: snmpd.community }], timeoutMs: 300, retries: 0, stateDir: join(dir, 'a'), goneAfterMs: 10 * MIN });
    const ms = await probe.collect({ now: () => t, log });
    expect(relay.dropped, 'answers left unanswered').to.be.greaterThan(0);
    expect(poll(ms)?.result_code).to.equal(0);
    expect(probe.deviceEvents()?.added.map((d) => d.mac)).to.include.members(FDB_MACS);
    t += MIN;
    await probe.collect({ now: () => t, log });
  });

  it('a table that cannot be read even one row per request is result_code 1, logged once, and its devices never age out until a read succeeds', async () => {
    relay.maxBitmaps = Infinity;
    let t = Date.UTC(2026, 11, 1, 8);
    const ctx = { now: () => t, log };
    const probe = createInventoryProbe({ sources: [{ host: `127.0.0.1:${relay.port}`, community: snmpd.community }], timeoutMs: 300, retries: 0, stateDir: join(dir, 'b'), goneAfterMs: 10 * MIN });
    await probe.collect(ctx);
    expect(probe.deviceEvents()?.added.map((d) => d.mac)).to.include.members(FDB_MACS);
    relay.maxBitmaps = 0;
    lines.length = 0;
    const results: number[] = [];
    for (let i = 0; i < 4; i++) {
      t += 5 * MIN;
      const ms = await probe.collect(ctx);
      results.push(poll(ms)?.result_code as number);
      expect(probe.deviceEvents()?.removed ?? [], `poll ${i + 1}: nothing aged out`).to.deep.equal([]);
    }
    expect(results).to.deep.equal([1, 1, 1, 1]);
    const warned = lines.filter((l) => typeof l.msg === 'string' && l.msg.includes('a table could not be read'));
    // dot1dTpFdbTable (empty here) still reads one row per request; dot1qTpFdbTable does not: one line in 4 polls.
    expect(warned.map((l) => l.table)).to.deep.equal(['dot1qTpFdbTable']);
    // The table is readable again, 20 min after the devices were last seen: they are there, nothing is removed.
    relay.maxBitmaps = Infinity;
    t += 5 * MIN;
    const ms = await probe.collect(ctx);
    expect(poll(ms)?.result_code).to.equal(0);
    expect(probe.deviceEvents()?.removed ?? []).to.deep.equal([]);
  });
});
