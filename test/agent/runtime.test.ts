import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import { agentConfigSchema } from '../../agent/config.js';
import { AgentRuntime, NOT_SENDING_REPEAT_MS } from '../../agent/runtime.js';
import { UploadError, type UploadResult } from '../../agent/transport/uploader.js';
import type { Report } from '../../protocol/index.js';
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

describe('agent/runtime moved to another school', () => {
  it("flush() sends the old school's backlog with the old school's token and the new school's report with the new token", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cl-runtime-moved-'));
    const log = pino({ level: 'silent' });
    let t = T0;
    const sent: { school: string; seq: number; token?: string }[] = [];
    const offline = {
      async send(): Promise<UploadResult> {
        throw new UploadError('link down', undefined, 'keep-and-back-off', true);
      },
    };
    const recording = {
      async send(reports: readonly Report[], opts?: { token?: string }): Promise<UploadResult> {
        sent.push(...reports.map((r) => ({ school: r.school, seq: r.seq, ...(opts?.token && { token: opts.token }) })));
        return { ack: { v: 1, accepted: reports.map((r) => r.seq), serverTime: t }, requestBytes: 100, sentAtMs: t, answeredAtMs: t };
      },
    };
    const config = (school: string, token: string) => agentConfigSchema.parse({ school, agentId: 'gw-moved', collector: { token }, spool: { dir: join(dir, 'spool') }, stateDir: dir, logLevel: 'silent' });
    try {
      const before = new AgentRuntime({ config: config('1640104001', 'clk1_old'), log, probes: [], now: () => t, sender: offline });
      for (let i = 0; i < 2; i++) {
        await before.once();
        t += 60_000;
      }
      before.close();
      const moved = new AgentRuntime({ config: config('1640104002', 'clk1_new'), log, probes: [], now: () => t, sender: recording });
      const r = await moved.once();
      moved.close();
      expect(r.flush?.quarantined).to.deep.equal([]);
      expect([...sent].sort((a, b) => a.seq - b.seq)).to.deep.equal([
        { school: '1640104001', seq: 1, token: 'clk1_old' },
        { school: '1640104001', seq: 2, token: 'clk1_old' },
        { school: '1640104002', seq: 3, token: 'clk1_new' },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('agent/runtime after a 401/403', () => {
  it('flush() after a 403 pauses sending for auth.retryMinMs, doubling to retryMaxMs, logs once an hour, and delivers the whole spool once accepted again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cl-runtime-auth-'));
    const lines: { msg: string; code?: string; retryAt?: string }[] = [];
    const log = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(JSON.parse(chunk.toString()) as { msg: string }), cb()) }));
    let t = T0;
    let refuse = true;
    const sent: number[] = [];
    const sender = {
      async send(reports: readonly Report[]): Promise<UploadResult> {
        if (refuse) throw new UploadError('collector answered 403: COL_ERR_SCHOOL_NOT_REGISTERED: school 1640104001 is not in the registry', 403, 'stop-and-alert', false);
        sent.push(...reports.map((r) => r.seq));
        return { ack: { v: 1, accepted: reports.map((r) => r.seq), serverTime: t }, requestBytes: 100, sentAtMs: t, answeredAtMs: t };
      },
    };
    const config = agentConfigSchema.parse({ school: '1640104001', collector: { token: 'clk1_x' }, auth: { retryMinMs: 60_000, retryMaxMs: 240_000 }, spool: { dir: join(dir, 'spool') }, stateDir: dir, logLevel: 'info' });
    const agent = new AgentRuntime({ config, log, probes: [], now: () => t, sender });
    const calls = { n: 0 };
    const counting = sender.send.bind(sender);
    sender.send = async (r) => (calls.n++, counting(r));
    try {
      // Refused at t0; paused 1, 2, 4, 4 minutes: tries at +0, +1, +3, +7, +11 min (cycles every 30 s).
      const triedAt: number[] = [];
      for (let i = 0; i < 24; i++) {
        const before = calls.n;
        await agent.once();
        if (calls.n > before) triedAt.push((t - T0) / 60_000);
        t += 30_000;
      }
      expect(triedAt).to.deep.equal([0, 1, 3, 7, 11]);
      const refusals = lines.filter((l) => l.code === 'AGT_ERR_AUTH_REJECTED');
      // Logged when the reason first appears, then not again within the hour although refused 5 times.
      expect(refusals.length).to.be.at.most(2);
      expect(refusals[0]?.retryAt).to.be.a('string');
      refuse = false;
      t += 240_000;
      const r = await agent.once();
      expect(r.delivered).to.equal(true);
      expect([...sent].sort((a, b) => a - b), "every report once (live ones first)").to.deep.equal(Array.from({ length: 25 }, (_, i) => i + 1));
      expect(agent.spool.waiting()).to.deep.equal([]);
    } finally {
      agent.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
