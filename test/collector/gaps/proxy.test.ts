/** A county proxy's streams: its holes are `proxy_down`, an unreachable gateway is no hole; a school's own agent is unchanged. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { createGapsModule, type GapsModule } from '../../../collector/gaps/module.js';
import { livenessOf, mergeLiveness, onlineUntilMs } from '../../../collector/views/liveness/store.js';
import { openStateDb, type StateDb } from '../../../collector/state/db.js';
import type { Measurement, Report } from '../../../protocol/index.js';
import { MemorySink } from '../../helpers/memory-sink.js';
import { T0, makeReport } from '../../helpers/reports.js';

const MIN = 60_000;
const S = '1640104001';
const tags = { school: S, province: '640000', city: '640100', county: '640104', link: 'fiber' as const };
const ping = (role: 'gateway' | 'internet', loss: number): Measurement => ({
  name: 'ping',
  tags: { target: role === 'gateway' ? '10.1.1.1' : '114.114.114.114', role },
  fields: { loss_pct: loss, sent: 5, received: Math.round(5 * (1 - loss / 100)), result_code: loss < 100 ? 0 : 2 },
});
const rep = (seq: number, at: number, o: { agent?: string; kind?: Report['agentKind']; gatewayLoss?: number; internetLoss?: number } = {}): Report =>
  makeReport({
    seq,
    collectedAt: at,
    agent: o.agent ?? 'proxy-xq',
    ...(o.kind !== undefined ? { agentKind: o.kind } : o.agent === undefined ? { agentKind: 'proxy' as const } : {}),
    measurements: [ping('gateway', o.gatewayLoss ?? 0), ...(o.internetLoss !== undefined ? [ping('internet', o.internetLoss)] : [])],
  });

describe('collector/gaps: county proxy streams', () => {
  let state: StateDb;
  let sink: MemorySink;
  let m: GapsModule;
  beforeEach(async () => {
    state = openStateDb({ stateDir: mkdtempSync(join(tmpdir(), 'cl-gaps-proxy-')) });
    sink = new MemorySink();
    m = createGapsModule({ state, sink, tagsFor: (id) => (id === S ? tags : undefined), held: () => true, log: pino({ level: 'silent' }), now: () => T0 + 30 * MIN, heartbeatMs: 60_000, lateAfterMs: 86_400_000 });
    await m.start?.();
  });
  afterEach(async () => {
    await m.stop?.();
    await state.close();
  });
  const accept = (reports: Report[]) => m.onAccepted?.({ school: S, reports, receivedAtMs: T0 + 30 * MIN - 1000 });

  it('a proxy that collected nothing for 10 minutes leaves a proxy_down gap; the same hole of a school agent is agent', async () => {
    const times = [0, 1, 2, 3, 14, 15].map((k) => T0 + k * MIN);
    await accept(times.map((t, i) => rep(i + 1, t)));
    await accept(times.map((t, i) => rep(i + 1, t, { agent: 'gw-01', kind: 'full' })));
    expect(sink.points.map((p) => [p.tags.agent, p.tags.cause, p.fields.missing_reports])).to.deep.equal([
      ['proxy-xq', 'proxy_down', 10],
      ['gw-01', 'agent', 10],
    ]);
  });

  it('a proxy that could not deliver for 20 minutes (its own uplink) leaves a proxy_down gap with nothing missing', async () => {
    const late = createGapsModule({ state, sink, tagsFor: () => tags, held: () => true, log: pino({ level: 'silent' }), now: () => T0 + 30 * MIN, heartbeatMs: 60_000 });
    await late.onAccepted?.({ school: S, reports: [0, 1, 2, 3].map((k, i) => rep(i + 1, T0 + k * MIN)), receivedAtMs: T0 + 24 * MIN });
    expect(sink.points.map((p) => [p.tags.cause, p.fields.missing_reports])).to.deep.equal([['proxy_down', 0]]);
    await late.stop?.();
  });

  it('a proxy reporting the gateway unreachable every minute is no gap', async () => {
    await accept([0, 1, 2, 3, 4, 5].map((k, i) => rep(i + 1, T0 + k * MIN, { gatewayLoss: 100 })));
    expect(sink.points).to.deep.equal([]);
  });
});

describe('collector/views/liveness: reachability of a proxy-watched school', () => {
  it('is the gateway answering the proxy (its internet targets say nothing of the school), with the proxy named', () => {
    const up = livenessOf(rep(1, T0, { internetLoss: 100 }));
    expect(up).to.include({ internetAtMs: T0, internetLossPct: 0, via: 'proxy-xq' });
    expect(onlineUntilMs(up, 15 * MIN)).to.equal(T0 + 15 * MIN);
    const down = mergeLiveness(up, livenessOf(rep(2, T0 + MIN, { gatewayLoss: 100 })));
    expect(down).to.include({ internetAtMs: T0 + MIN, internetLossPct: 100, via: 'proxy-xq' });
    expect(onlineUntilMs(down, 15 * MIN)).to.equal(-Infinity);
    // The school's own agent answering later takes over, and the proxy is no longer named.
    const own = mergeLiveness(down, livenessOf(rep(1, T0 + 2 * MIN, { agent: 'gw-01', kind: 'full', internetLoss: 0, gatewayLoss: 100 })));
    expect(own).to.include({ internetLossPct: 0 });
    expect(own.via).to.equal(undefined);
  });
});
