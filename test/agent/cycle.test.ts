import { expect } from 'chai';
import { pino } from 'pino';
import { collectedAtAfter } from '../../agent/cycle.js';
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
