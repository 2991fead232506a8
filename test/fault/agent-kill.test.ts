/** Fault: the agent process SIGKILLed at 20 random moments (cycles every 15 ms: kills land in writes and uploads). */
import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentStats } from '../../agent/state/stats.js';
import { repoPath } from '../helpers/cli.js';
import { startTestInfluxd, type TestInfluxd } from '../helpers/influxd.js';
import { CollectorChild, SCHOOLS, expectExactlyOnce, startAgent, tempDir } from './harness.js';

function runUntilKilled(env: Record<string, string>, killAfterMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', repoPath('test/fault/agent-child.ts')], { cwd: repoPath(''), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`agent exited ${code}: ${err}`))));
  });
}

describe('fault: agent SIGKILL at 20 random moments', function () {
  this.timeout(180_000);
  let influx: TestInfluxd;
  let collector: CollectorChild;
  before(async () => {
    influx = await startTestInfluxd();
    collector = new CollectorChild(influx);
    await collector.start();
  });
  after(async () => {
    await collector?.stop();
    await influx?.cleanup();
  });

  it('after every kill the agent starts cleanly, and in the end every collected report is in InfluxDB exactly once with nothing dropped', async () => {
    const school = SCHOOLS[5] as string;
    const dir = tempDir('agent');
    const setup = { school, url: collector.url, token: collector.token(school), dir, cycleEveryMs: 15 };
    const moments: number[] = [];
    // The sequence file says how many cycles the killed agents reached: on a slow box 20 kills may not
    // reach 100 reports, so killing goes on (at most 80 kills) until it does.
    const reached = (): number => {
      try {
        return Number(readFileSync(join(dir, 'seq'), 'utf8').trim()) || 0;
      } catch {
        return 0;
      }
    };
    for (let i = 0; i < 20 || (i < 80 && reached() <= 100); i++) {
      const ms = Math.round(20 + Math.random() * 400);
      moments.push(ms);
      await runUntilKilled({ FAULT_AGENT: JSON.stringify(setup) }, ms);
    }
    const agent = startAgent(setup);
    const r = await agent.flush();
    expect(r.stoppedBy?.message, `kill moments ${moments.join(',')}`).to.equal(undefined);
    expect(agent.spool.recovery.lost).to.deep.equal([]);
    expect(new AgentStats(dir).get().droppedReports).to.equal(0);
    const collected = agent.spool.lastSeq();
    expect(collected).to.be.greaterThan(100);
    await expectExactlyOnce(influx, { school, agent: 'gw-01', collected });
    agent.close();
  });
});
