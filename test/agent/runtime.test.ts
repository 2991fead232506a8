import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import { agentConfigSchema } from '../../agent/config.js';
import { AgentRuntime, NOT_SENDING_REPEAT_MS } from '../../agent/runtime.js';
import { T0 } from '../helpers/reports.js';

describe('agent/runtime', () => {
  it('flush() without a token says "not sending" once, then again only an hour later, and keeps every report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cl-runtime-'));
    const lines: { msg: string; spooled?: number }[] = [];
    const log = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(JSON.parse(chunk.toString()) as { msg: string }), cb()) }));
    let t = T0;
    const config = agentConfigSchema.parse({ school: '1640104001', spool: { dir: join(dir, 'spool') }, stateDir: dir, logLevel: 'info' });
    const agent = new AgentRuntime({ config, log, probes: [], now: () => t });
    try {
      for (let i = 0; i < 5; i++) {
        await agent.once();
        t += 60_000;
      }
      const notSending = () => lines.filter((l) => l.msg.startsWith('not sending'));
      expect(notSending()).to.have.length(1);
      t += NOT_SENDING_REPEAT_MS;
      await agent.once();
      expect(notSending()).to.have.length(2);
      expect(notSending()[1]?.spooled).to.equal(6);
      expect(agent.spool.waiting()).to.have.length(6);
    } finally {
      agent.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
