import { expect } from 'chai';
import { StopPhases } from '../../collector/stop-phases.js';
import { captureLog } from '../helpers/tls-app.js';

describe('collector/stop-phases', () => {
  it('report() logs the stop at info with each phase\'s wall time, and at warn when the stop was slow', async () => {
    const { log, lines } = captureLog();
    const quick = new StopPhases({ slowMs: 10_000 });
    await quick.run('listener', () => new Promise((r) => setTimeout(r, 30)));
    await quick.run('sink', () => undefined);
    quick.report(log, 'collector stopped');
    const slow = new StopPhases({ slowMs: 5 });
    await slow.run('influxd', () => new Promise((r) => setTimeout(r, 30)));
    slow.report(log, 'collector stopped');
    const [a, b] = lines as { level: number; msg: string; stopMs: number; phasesMs: Record<string, number> }[];
    expect(a).to.include({ level: 30, msg: 'collector stopped' });
    expect(a?.phasesMs.listener).to.be.at.least(25);
    expect(a?.phasesMs).to.have.property('sink');
    expect(b?.level).to.equal(40);
    expect(b?.msg).to.match(/^collector stopped after 0\.\d s \(slow: see phasesMs\)$/);
  });

  it('run() times a phase that throws, and the error reaches the caller', async () => {
    const t = new StopPhases();
    const err = await t.run('front', () => Promise.reject(new Error('boom'))).catch((e: unknown) => e);
    expect((err as Error).message).to.equal('boom');
    const { log, lines } = captureLog();
    t.report(log, 'stopped');
    expect((lines[0] as { phasesMs: Record<string, number> }).phasesMs).to.have.property('front');
  });
});
