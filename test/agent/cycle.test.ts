import { expect } from 'chai';
import { pino } from 'pino';
import { collectReport, collectedAtAfter, type DroppedItems } from '../../agent/cycle.js';
import type { Probe } from '../../agent/probes/probe.js';
import { MAX_MEASUREMENTS_PER_REPORT, type Device, type DeviceEvents, type Measurement } from '../../protocol/index.js';
import { AgentRuntime } from '../../agent/runtime.js';
import { T0 } from '../helpers/reports.js';
import { TypicalProbe, agentConfig, tempDir } from '../fault/harness.js';

describe('agent/cycle', () => {
  it('collectedAtAfter() keeps the clock, but never repeats or goes slightly behind the previous report', () => {
    expect(collectedAtAfter(T0, undefined)).to.equal(T0);
    expect(collectedAtAfter(T0 + 60_000, T0)).to.equal(T0 + 60_000);
    expect(collectedAtAfter(T0, T0)).to.equal(T0 + 1);
    expect(collectedAtAfter(T0 - 200, T0)).to.equal(T0 + 1);
    // A large step back (an NTP correction) is taken as it is: the timestamps stay true.
    expect(collectedAtAfter(T0 - 3_600_000, T0)).to.equal(T0 - 3_600_000);
  });

  it('cycle() stamps reports collected in the same millisecond 1 ms apart, so InfluxDB cannot overwrite one with another', async () => {
    const config = agentConfig({ school: '1640104001', url: 'http://127.0.0.1:9', token: 'clk1_x', dir: tempDir('cycle') });
    const agent = new AgentRuntime({ config, log: pino({ level: 'silent' }), probes: [new TypicalProbe()], now: () => T0 });
    const stamps = [];
    for (let i = 0; i < 3; i++) stamps.push((await agent.cycle()).collectedAt);
    agent.close();
    expect(stamps).to.deep.equal([T0, T0 + 1, T0 + 2]);
  });
});

describe('agent/cycle: one bad value never costs the report', () => {
  const base = {
    school: '1640104001',
    agent: 'gw-01',
    seq: 1,
    now: () => T0,
    log: pino({ level: 'silent' }),
    spool: { reports: 0, bytes: 0 },
    counters: { droppedReports: 0, sentBytes: 0 },
    startedAtMs: T0,
  };
  const ping: Measurement = { name: 'ping', tags: { target: '127.0.0.1', role: 'gateway' }, fields: { loss_pct: 0, sent: 5, received: 5, result_code: 0 } };
  const device = (mac: string, name?: string): Device => ({ mac, class: 'pc', firstSeen: T0, lastSeen: T0, ...(name !== undefined && { name }) });
  const probe = (ms: unknown[], events?: unknown): Probe => ({ name: 'p', collect: async () => ms as Measurement[], ...(events !== undefined && { deviceEvents: () => events as DeviceEvents }) });

  it('collectReport() leaves out a device whose name breaks the schema and counts it; the rest of the list, ping and the report stay', async () => {
    let dropped: DroppedItems | undefined;
    const events = { full: true, added: [device('00:1a:2b:3c:4d:01', 'x'.repeat(300)), device('00:1a:2b:3c:4d:02', 'ok')], removed: [] };
    const r = await collectReport({ ...base, probes: [probe([ping], events)], onDropped: (d) => (dropped = d) });
    expect(r.measurements.map((m) => m.name)).to.deep.equal(['ping', 'agent']);
    expect(r.devices?.added.map((d) => d.mac)).to.deep.equal(['00:1a:2b:3c:4d:02']);
    expect(dropped).to.deep.equal({ measurements: 0, devices: 1 });
  });

  it('collectReport() leaves out an invalid measurement and counts it', async () => {
    let dropped: DroppedItems | undefined;
    const bad = { ...ping, tags: { target: 'a\tb', role: 'gateway' } };
    const r = await collectReport({ ...base, probes: [probe([bad, ping])], onDropped: (d) => (dropped = d) });
    expect(r.measurements.map((m) => m.name)).to.deep.equal(['ping', 'agent']);
    expect(dropped).to.deep.equal({ measurements: 1, devices: 0 });
  });

  it('collectReport() keeps a report of too many measurements: the excess is left out and counted, the agent measurement stays', async () => {
    let dropped: DroppedItems | undefined;
    const many = Array.from({ length: MAX_MEASUREMENTS_PER_REPORT + 10 }, (_, i) => ({ ...ping, tags: { target: `t${i}`, role: 'gateway' } }));
    const r = await collectReport({ ...base, probes: [probe(many)], onDropped: (d) => (dropped = d) });
    expect(r.measurements).to.have.length(MAX_MEASUREMENTS_PER_REPORT);
    expect(r.measurements.at(-1)?.name).to.equal('agent');
    expect(dropped?.measurements).to.equal(11);
  });

  it('collectReport() leaves out its own health measurement when it breaks the schema (a clock offset of NaN) and counts it', async () => {
    let dropped: DroppedItems | undefined;
    const r = await collectReport({ ...base, clockOffsetMs: Number.NaN, probes: [probe([ping])], onDropped: (d) => (dropped = d) });
    expect(r.measurements.map((m) => m.name)).to.deep.equal(['ping']);
    expect(dropped).to.deep.equal({ measurements: 1, devices: 0 });
  });

  it('collectReport() throws for a school id that breaks the schema (the config\'s problem, not data)', async () => {
    const err = await collectReport({ ...base, school: '164010400X', probes: [probe([ping])] }).then(() => undefined, (e: unknown) => e);
    expect(String(err)).to.match(/school/);
  });

  it('collectReport() keeps the key order of reportSchema\'s output, so a report spools byte for byte as before', async () => {
    const { reportSchema } = await import('../../protocol/index.js');
    const events = { full: true, added: [device('00:1a:2b:3c:4d:02', 'ok')], removed: [] };
    const r = await collectReport({ ...base, epoch: 'e1e2e3e4', clockOffsetMs: 500_000, probes: [probe([ping], events)] });
    expect(JSON.stringify(r)).to.equal(JSON.stringify(reportSchema.parse(r)));
    expect(Object.keys(r)).to.deep.equal(['v', 'school', 'agent', 'epoch', 'seq', 'collectedAt', 'sentAt', 'measurements', 'devices', 'clockCorrected', 'clockOffsetMs']);
  });
});
