import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import { installRejectionGuard } from '../../collector/rejection-guard.js';

describe('collector/rejection-guard', () => {
  it('logs a rejection nobody waited for with COL_ERR_INTERNAL and its stack, counts it, and lets the process go on', () => {
    const lines: { obj: Record<string, unknown>; msg: string }[] = [];
    const proc = new EventEmitter();
    const guard = installRejectionGuard({ log: { error: (obj: Record<string, unknown>, msg: string) => void lines.push({ obj, msg }) } as never, proc });
    proc.emit('unhandledRejection', new Error('InfluxDB answered 500'), Promise.resolve());
    proc.emit('unhandledRejection', 'a plain string', Promise.resolve());
    expect(guard.count()).to.equal(2);
    expect(lines.map((l) => l.obj.code)).to.deep.equal(['COL_ERR_INTERNAL', 'COL_ERR_INTERNAL']);
    expect(String(lines[0]?.obj.err)).to.match(/^Error: InfluxDB answered 500\n\s+at /);
    expect(lines[1]?.obj.err).to.equal('a plain string');
    expect(lines[0]?.msg).to.include('the collector goes on');
    guard.uninstall();
    expect(proc.listenerCount('unhandledRejection')).to.equal(0);
  });
});
