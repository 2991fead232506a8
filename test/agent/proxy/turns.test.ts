import { expect } from 'chai';
import { createTurns } from '../../../agent/proxy/turns.js';

const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    /* CPU work */
  }
};

describe('agent/proxy/turns', () => {
  it('createTurns() runs 60 tasks of 3 ms one at a time, in order, and lets a timer through every sliceMs (a few tasks), not after all 60', async () => {
    const turns = createTurns({ sliceMs: 10 });
    const order: number[] = [];
    let running = 0;
    let most = 0;
    // Tasks done when each timer fired: counted, not timed, so a busy machine cannot fail it.
    const ticks: number[] = [];
    const tick = () => {
      ticks.push(order.length);
      if (order.length < 60) setTimeout(tick, 0);
    };
    setTimeout(tick, 0);
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        turns.run(async () => {
          most = Math.max(most, ++running);
          busy(3);
          order.push(i);
          running--;
        }),
      ),
    );
    expect(order).to.deep.equal(Array.from({ length: 60 }, (_, i) => i));
    expect(most).to.equal(1);
    expect(turns.yields).to.be.within(10, 60);
    const between = ticks.map((n, i) => n - (ticks[i - 1] ?? 0));
    expect(ticks.length, 'timer rounds while the tasks ran').to.be.at.least(12);
    // 10 ms of 3 ms tasks: the 4th task starts at 9 ms, so at most 4 (5 with the first slice's start) run between two timers.
    expect(Math.max(...between), 'most tasks between two timer rounds').to.be.at.most(5);
  });

  it('a task that throws rejects its own run() only; the next tasks still run', async () => {
    const turns = createTurns({ sliceMs: 10 });
    const results = await Promise.allSettled([
      turns.run(() => 1),
      turns.run(() => {
        throw new Error('bad report');
      }),
      turns.run(async () => 3),
    ]);
    expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
    expect(await turns.run(() => 'free again')).to.equal('free again');
  });
});
