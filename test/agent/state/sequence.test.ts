import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { agentConfigSchema } from '../../../agent/config.js';
import { AgentRuntime } from '../../../agent/runtime.js';
import { SegmentSpool } from '../../../agent/spool/segment-spool.js';
import { SequenceStore } from '../../../agent/state/sequence.js';
import { makeReport } from '../../helpers/reports.js';

describe('agent/state/sequence with the spool', () => {
  it('a crash between the spool append and the sequence commit leaves no hole and no reuse: the next report takes the spool last + 1', async () => {
    const d = mkdtempSync(join(tmpdir(), 'cl-seq-'));
    const config = agentConfigSchema.parse({ school: '1640104001', stateDir: d, spool: { dir: join(d, 'spool') }, logLevel: 'silent' });
    const seq = new SequenceStore(d);
    seq.commit(4);
    // The report 5 reached the spool, the crash came before the commit.
    const spool = new SegmentSpool({ dir: join(d, 'spool'), maxSpoolBytes: 1 << 20, segmentBytes: 1 << 16 });
    for (let i = 1; i <= 5; i++) await spool.append(makeReport({ seq: i }));
    spool.close();
    const rt = new AgentRuntime({ config, log: pino({ level: 'silent' }), probes: [] });
    const r = await rt.cycle();
    expect(r.seq).to.equal(6);
    expect(rt.spool.waiting()).to.deep.equal([1, 2, 3, 4, 5, 6]);
    expect(new SequenceStore(d).current()).to.equal(6);
    rt.close();
  });
});
