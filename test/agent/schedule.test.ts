import { expect } from 'chai';
import fc from 'fast-check';
import { cronFields, cronTask, nextCronMatch } from '../../agent/schedule.js';

/** node-cron's own matcher (its package entry does not export it): the oracle of what a schedule means. */
type TimeMatcherClass = new (expression: string) => { getNextMatch(date: Date): Date };
const NODE_CRON_SHARED: string = '../../node_modules/node-cron/dist/_shared.js';

const EXPRESSIONS = ['* * * * *', '*/10 * * * * *', '0 9-17/2 * jan,mar mon-fri', '@daily', '@hourly', '@monthly', '@yearly', '0 0 1 * 1', '0 0 * * 7', '30 2 * * *', '0 30 1 * * *', '15 */7 * * * *', '0 0 29 2 *', '0 0 31 * *', '5 4 * * sun', '0 0 13 * 5', '*/5 * * * *'];

/** Runs `fn` with the process in another time zone. */
function inZone<T>(tz: string, fn: () => T): T {
  const before = process.env.TZ;
  process.env.TZ = tz;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env.TZ;
    else process.env.TZ = before;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('agent/schedule', () => {
  let TimeMatcher: TimeMatcherClass;
  before(async () => {
    TimeMatcher = ((await import(NODE_CRON_SHARED)) as { T: TimeMatcherClass }).T;
    expect(new TimeMatcher('0 0 * * *').getNextMatch(new Date(Date.UTC(2025, 0, 1, 12))).getTime()).to.be.a('number');
  });

  it('nextCronMatch() finds the same next run as node-cron for any expression and start time', () => {
    fc.assert(
      fc.property(fc.constantFrom(...EXPRESSIONS), fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2040, 0, 1) }), (expression, at) => {
        const oracle = new TimeMatcher(expression).getNextMatch(new Date(at)).getTime();
        expect(nextCronMatch(cronFields(expression)!, at), `${expression} after ${new Date(at).toISOString()}`).to.equal(oracle);
      }),
      { numRuns: 2000 },
    );
  });

  it('nextCronMatch() skips a local time that daylight saving skips, and runs once in a repeated hour', () => {
    inZone('America/New_York', () => {
      // 2025-03-09 02:30 does not exist in New York: the next 02:30 is the day after (EDT, UTC-4).
      expect(new Date(nextCronMatch(cronFields('0 30 2 * * *')!, Date.UTC(2025, 2, 9, 5))!).toISOString()).to.equal('2025-03-10T06:30:00.000Z');
      // 2025-11-02 01:30 comes twice (EDT, then EST): the first one, and then not again that day.
      const first = nextCronMatch(cronFields('0 30 1 * * *')!, Date.UTC(2025, 10, 2, 4))!;
      expect(new Date(first).toISOString()).to.equal('2025-11-02T05:30:00.000Z');
      expect(new Date(nextCronMatch(cronFields('0 30 1 * * *')!, first)!).toISOString()).to.equal('2025-11-03T06:30:00.000Z');
    });
  });

  it('nextCronMatch() gives up when nothing matches within 100 years', () => {
    // node-cron refuses impossible days at validation; fields no clock ever shows stand in for them here.
    expect(nextCronMatch({ second: [0], minute: [0], hour: [24], dayOfMonth: [1], month: [1], dayOfWeek: [0, 1, 2, 3, 4, 5, 6] }, Date.UTC(2025, 0, 1))).to.equal(undefined);
  });

  it('cronFields() expands nicknames and names, leaves L/W/# to node-cron and refuses an invalid expression', () => {
    expect(cronFields('@hourly')).to.deep.include({ second: [0], minute: [0] });
    expect(cronFields('0 0 * * mon-fri')?.dayOfWeek).to.deep.equal([1, 2, 3, 4, 5]);
    for (const e of ['0 0 L * *', '0 0 15W * *', '0 0 * * 5L', '0 0 * * 1#2']) expect(cronFields(e), e).to.equal(undefined);
    expect(() => cronFields('61 * * * *')).to.throw();
  });

  it('cronTask() runs at each matching second and never overlaps a run still under way', async function () {
    this.timeout(10_000);
    const starts: number[] = [];
    let running = 0;
    let most = 0;
    const task = cronTask({
      expression: '* * * * * *',
      run: async () => {
        starts.push(Date.now());
        most = Math.max(most, ++running);
        await sleep(1500);
        running--;
      },
    });
    await sleep(4200);
    task.stop();
    while (task.isBusy()) await sleep(50);
    expect(most).to.equal(1);
    // Every second matches, but a 1.5 s run makes the next match or two pass by.
    expect(starts.length).to.be.within(2, 3);
    for (const s of starts) expect(s % 1000, 'starts on the second (late timers on a loaded box allowed)').to.be.below(350);
  });

  it('cronTask() delays each run by its random delay, and stop() cancels a run still waiting for it', async function () {
    this.timeout(10_000);
    const starts: number[] = [];
    const delayed = cronTask({ expression: '* * * * * *', maxRandomDelayMs: 1000, random: () => 0.4, run: async () => void starts.push(Date.now()) });
    await sleep(2300);
    delayed.stop();
    expect(starts.length).to.be.within(1, 2);
    for (const s of starts) expect(s % 1000, 'starts 400 ms after the second (late timers on a loaded box allowed)').to.be.within(390, 800);
    let ran = false;
    const cancelled = cronTask({ expression: '* * * * * *', maxRandomDelayMs: 10_000, random: () => 0.99, run: async () => void (ran = true) });
    await sleep(1200);
    cancelled.stop();
    expect(cancelled.isBusy()).to.equal(false);
    await sleep(200);
    expect(ran).to.equal(false);
  });
});
