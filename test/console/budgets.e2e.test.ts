/**
 * The school page's "数据预算 / Ingest budgets" section in headless Chromium against the seeded province
 * (real influxd, real ingest with per-school budgets): a school refused with 429 and losing measurements
 * shows both by budget and reason, explained, with the API's counts; a school that lost nothing says
 * "none"; a failing counters API is shown as an error, not hidden.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { PROTOCOL_VERSION, type Measurement, type Report } from '../../protocol/index.js';
import { launchConsoleBrowser } from './browser.js';
import { startConsoleHarness, type ConsoleHarness, type SeedSchool } from './harness.js';

const ARTIFACTS = join('test-artifacts', 'console');
const BUDGETS = { measurementsPerReport: 10, reportsPerMinute: 5 };

describe('collector/console school page shows ingest budgets in headless Chromium (seeded province, real influxd)', function () {
  this.timeout(120_000);
  let h: ConsoleHarness;
  let browser: Awaited<ReturnType<typeof launchConsoleBrowser>>;
  let offender: SeedSchool;
  let quiet: SeedSchool;
  let refusals = 0;
  const pageErrors: string[] = [];

  const report = (s: SeedSchool, seq: number, measurements: Measurement[]): Report => ({ v: PROTOCOL_VERSION, school: s.id, agent: 'gw2', seq, collectedAt: h.nowMs - 60_000, sentAt: h.nowMs, measurements });
  const post = (s: SeedSchool, r: Report) =>
    fetch(`${h.base}/api/v1/reports`, { method: 'POST', headers: { authorization: `Bearer t-${s.id}`, 'content-type': 'application/json' }, body: JSON.stringify({ reports: [r] }) });
  const ping = (target: string): Measurement => ({ name: 'ping', tags: { target, role: 'gateway' }, fields: { rtt_min_ms: 1, rtt_avg_ms: 1.2, rtt_max_ms: 1.5, jitter_ms: 0.1, loss_pct: 0, sent: 5, received: 5, result_code: 0 } });

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await launchConsoleBrowser();
    h = await startConsoleHarness({ budgets: BUDGETS });
    [offender, quiet] = h.schools.filter((s) => s.role === 'online') as [SeedSchool, SeedSchool];
    // 15 measurements in one report, over measurementsPerReport (10): the excess is left out, the rest stored.
    const big = await post(offender, report(offender, 1, Array.from({ length: 15 }, (_, i) => ping(`10.9.0.${i + 1}`))));
    expect(big.status, await big.clone().text()).to.equal(200);
    // Then single reports until the school is over reportsPerMinute (5) on the harness's stopped clock.
    for (let seq = 2; seq < 12 && refusals === 0; seq++) {
      const res = await post(offender, report(offender, seq, [ping('10.9.0.1')]));
      if (res.status === 429) {
        refusals++;
        expect(((await res.json()) as { budget: { name: string } }).budget.name).to.equal('reportsPerMinute');
      } else expect(res.status).to.equal(200);
    }
    expect(refusals, 'the school was never refused').to.equal(1);
  });
  after(async () => {
    await browser?.close();
    await h?.close();
  });

  const open = async (path: string, setup?: (p: Page) => Promise<unknown>): Promise<Page> => {
    const p = await browser.context.newPage();
    p.on('pageerror', (e) => pageErrors.push(`${path}: ${e.message}`));
    await setup?.(p);
    await p.goto(`${h.base}${path}`);
    await p.waitForSelector('main[aria-busy="false"]');
    return p;
  };
  const rowCells = (page: Page, kind: string, name: string) => page.locator(`#budgets tr[data-kind="${kind}"][data-name="${name}"] td`).allTextContents();

  it('a school refused with 429 and losing measurements shows each by budget and reason, explained, with the counts of GET /api/v1/ingest/budgets/:school', async () => {
    const api = (await (await fetch(`${h.base}/api/v1/ingest/budgets/${offender.id}`)).json()) as { today: { budget_refusals: Record<string, number>; dropped_points: Record<string, number> } };
    expect(api.today.budget_refusals).to.deep.equal({ reportsPerMinute: 1 });
    const dropped = api.today.dropped_points.budget_measurements as number;
    expect(dropped).to.be.greaterThan(0);
    const page = await open(`/console/school.html?id=${offender.id}`);
    expect(await page.locator('#budgets h2').textContent()).to.equal('数据预算');
    expect(await page.locator('#budgets-none').count()).to.equal(0);
    const refused = await rowCells(page, 'refused', 'reportsPerMinute');
    expect(refused[0]).to.equal('拒收上传 (429)');
    expect(refused[1]).to.include('reportsPerMinute').and.include('每分钟报告数超过上限 5').and.include('探针保留报告');
    expect(refused.slice(2)).to.deep.equal(['1', '1']);
    const lost = await rowCells(page, 'points', 'budget_measurements');
    expect(lost[0]).to.equal('丢弃数据点');
    expect(lost[1]).to.include('budget_measurements').and.include('上限 10');
    expect(lost.slice(2)).to.deep.equal([String(dropped), String(dropped)]);
    expect(await page.locator('#budgets tbody tr').count()).to.equal(2);
    expect(await page.locator('#budgets .error').count()).to.equal(0);
    await page.locator('#budgets').screenshot({ path: join(ARTIFACTS, 'school-budgets.png') });
    const en = await open(`/console/school.html?id=${offender.id}&lang=en`);
    expect(await en.locator('#budgets h2').textContent()).to.equal('Ingest budgets');
    expect((await rowCells(en, 'refused', 'reportsPerMinute'))[1]).to.include('more than 5 reports a minute').and.include('sends them again');
    expect(pageErrors).to.deep.equal([]);
  });

  it('a school that lost nothing shows "none" and no table', async () => {
    const page = await open(`/console/school.html?id=${quiet.id}`);
    expect(await page.locator('#budgets-none').textContent()).to.include('无');
    expect(await page.locator('#budgets table').count()).to.equal(0);
    expect(await page.locator('#budgets').textContent()).to.include('上限 20,000');
    expect(pageErrors).to.deep.equal([]);
  });

  it('a failing counters API is shown in the section as an error, and the rest of the page still renders', async () => {
    const page = await open(`/console/school.html?id=${offender.id}`, (p) =>
      p.route('**/api/v1/ingest/budgets/**', (r) => r.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: { code: 'COL_ERR_INFLUX_UNAVAILABLE', message: 'counters unavailable' } }) })),
    );
    expect(await page.locator('#budgets .error').textContent()).to.include('counters unavailable');
    expect(await page.locator('#budgets table').count()).to.equal(0);
    expect(await page.locator('#budgets-none').count()).to.equal(0);
    expect(await page.locator('#devices').count()).to.equal(1);
  });
});
