/**
 * The national hub's console in headless Chromium: a hub with two provinces' roll-ups (江苏 current,
 * 北京 stale) from a real store and influxd. The national page marks 北京 "stale since <as-of>", counts
 * it with its last figures (never zero online), lists it in the banner and the feeds table, shows its
 * alert, and the map marks its tile; a county page links to the province's console. Screenshots in
 * test-artifacts/console/national-*.png.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import type { BrowserContext, Page } from 'playwright-core';
import { T0, makeRollup } from '../collector/hub/fixtures.js';
import { startTestHub, type TestHub } from '../collector/hub/views/hub-server.js';
import { launchConsoleBrowser } from './browser.js';

const ARTIFACTS = join('test-artifacts', 'console');
const MIN = 60_000;
const NOW = T0 + 60 * MIN;

describe('national console in headless Chromium (hub with one stale province)', function () {
  this.timeout(120_000);
  let hub: TestHub;
  let browser: { context: BrowserContext; close(): Promise<void> };
  const pageErrors: string[] = [];

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    hub = await startTestHub({ nowMs: NOW, settings: { staleAfterMs: 3 * MIN } });
    for (let k = 0; k <= 6; k++) await hub.deliver(makeRollup('32', { seq: k + 1, asOf: T0 + k * 10 * MIN }, [3, 2, 1]), T0 + k * 10 * MIN + 500);
    for (let k = 0; k <= 2; k++) await hub.deliver(makeRollup('11', { seq: k + 1, asOf: T0 + k * 10 * MIN }, [5, 4, 0]), T0 + k * 10 * MIN + 500);
    await hub.module.alerts.evaluate();
    browser = await launchConsoleBrowser();
  });
  after(async () => {
    await browser?.close();
    await hub?.close();
  });
  afterEach(() => {
    expect(pageErrors, 'script errors on the pages').to.deep.equal([]);
  });

  const open = async (path: string): Promise<Page> => {
    const page = await browser.context.newPage();
    page.on('pageerror', (e) => pageErrors.push(`${path}: ${e.message}`));
    await page.goto(`${hub.url}${path}`);
    await page.waitForSelector('main[aria-busy="false"]');
    return page;
  };
  const zhDate = (ms: number) => new Intl.DateTimeFormat('zh-CN', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Asia/Shanghai' }).format(new Date(ms));

  it('the national page sums both provinces and marks 北京 stale since its last as-of, never zero online', async () => {
    const page = await open('/');
    await page.screenshot({ path: join(ARTIFACTS, 'national-overview.png'), fullPage: true });
    expect(await page.locator('#kpi-registered dd').innerText()).to.equal('21');
    expect(await page.locator('#kpi-online dd').innerText()).to.equal('15');
    const banner = await page.locator('#stale-banner').innerText();
    expect(banner).to.contain('北京市');
    expect(banner).to.contain(`数据过期，截至 ${zhDate(T0 + 20 * MIN)}`);
    expect(banner).to.contain('不按零在线计算');
    // The regions table: 北京 with its last figures and the stale badge; 江苏 current.
    const row11 = page.locator('#children-table tbody tr', { hasText: '北京市' });
    expect(await row11.locator('td').nth(2).innerText()).to.equal('9');
    expect(await row11.locator('.st-stale').innerText()).to.contain(zhDate(T0 + 20 * MIN));
    const row32 = page.locator('#children-table tbody tr', { hasText: '江苏省' });
    expect(await row32.locator('.st-current').count()).to.equal(1);
    expect(await page.locator('#feeds-table tr[data-code="110000"] .st-stale').count()).to.equal(1);
    expect(await page.locator('#alerts li[data-kind="province_stale"][data-region="110000"]').count()).to.equal(1);
    expect(await page.locator('#history canvas').count()).to.be.greaterThan(0);
    await page.close();
  });

  it('drills down nation → province → city → county; the county links to the province console', async () => {
    const page = await open('/');
    await page.locator('#children-table a', { hasText: '江苏省' }).click();
    await page.waitForSelector('main[aria-busy="false"]');
    expect(await page.locator('#region-name').innerText()).to.equal('江苏省');
    expect(await page.locator('#stale-banner').count()).to.equal(0);
    await page.locator('#children-table a', { hasText: '南京市' }).click();
    await page.waitForSelector('main[aria-busy="false"]');
    await page.locator('#children-table a').first().click();
    await page.waitForSelector('main[aria-busy="false"]');
    expect(new URL(page.url()).searchParams.get('region')).to.equal('320102');
    expect(await page.locator('#province-console-link').getAttribute('href')).to.equal('https://collector-32.example/?region=320102');
    expect(await page.locator('nav.crumbs li').count()).to.equal(4);
    await page.screenshot({ path: join(ARTIFACTS, 'national-county.png'), fullPage: true });
    await page.close();
  });

  it('a stale province page says so; the map marks its tile and keeps its last shade; English works', async () => {
    let page = await open('/?region=110000');
    expect(await page.locator('#stale-banner').innerText()).to.contain('最后已知数字');
    await page.close();
    page = await open('/console/national-map.html');
    await page.screenshot({ path: join(ARTIFACTS, 'national-map.png'), fullPage: true });
    const t11 = page.locator('.tile[data-code="110000"]');
    expect(await t11.getAttribute('data-stale')).to.equal('true');
    expect(await t11.innerText()).to.contain('过期');
    // 9 of 12 online = 75 %: the 60-80 % bin, not the red of zero.
    expect(await t11.getAttribute('data-bin')).to.equal('b1');
    expect(await page.locator('.tile[data-code="320000"]').getAttribute('data-stale')).to.equal('false');
    expect(await page.locator('.tile[data-code="440000"]').getAttribute('data-bin')).to.equal('nodata');
    await page.close();
    page = await open('/?lang=en');
    expect(await page.locator('#stale-banner').innerText()).to.contain('never zero online');
    expect(await page.locator('#children-table .st-stale').innerText()).to.match(/^△ stale since /);
    await page.close();
  });
});
