/**
 * The web console end to end in headless Chromium (Debian's `chromium` driven by playwright-core)
 * against the collector with a seeded province in a real influxd, behind a viewer account (HTTP Basic,
 * answered by the browser). Screenshots of every page go to test-artifacts/console/.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { SCRIPT_NAME, startConsoleHarness, type ConsoleHarness } from './harness.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join('test-artifacts', 'console');

describe('collector/console in headless Chromium (seeded province, real influxd)', function () {
  this.timeout(120_000);
  let h: ConsoleHarness;
  let context: BrowserContext;
  let profileDir: string;
  const dialogs: string[] = [];
  const pageErrors: string[] = [];

  before(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`These tests need Chromium at ${CHROMIUM}. Install it: apt-get install chromium`);
    mkdirSync(ARTIFACTS, { recursive: true });
    profileDir = mkdtempSync(join(tmpdir(), 'campuslink-chromium-'));
    h = await startConsoleHarness({ viewer: true });
    // A persistent context on a fresh profile directory: playwright's way of passing --user-data-dir.
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
      viewport: { width: 1280, height: 900 },
      acceptDownloads: true,
      locale: 'zh-CN',
      timezoneId: 'Asia/Shanghai',
      httpCredentials: h.viewer as { username: string; password: string },
    });
  });
  after(async () => {
    await context?.close().catch(() => undefined);
    await h?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  });

  const authorization = () => `Basic ${Buffer.from(`${h.viewer?.username}:${h.viewer?.password}`).toString('base64')}`;
  const api = async (path: string) => {
    const res = await fetch(`${h.base}${path}`, { headers: { authorization: authorization() } });
    expect(res.status, path).to.equal(200);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return (await res.json()) as any;
  };

  /** A fresh page that records dialogs (an alert would mean a name ran as script) and script errors. */
  const open = async (path: string): Promise<Page> => {
    const page = await context.newPage();
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('pageerror', (e) => pageErrors.push(`${path}: ${e.message}`));
    await page.goto(`${h.base}${path}`);
    await page.waitForSelector('main[aria-busy="false"]');
    return page;
  };
  const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  const text = (page: Page, sel: string) => page.locator(sel).first().innerText();
  const zh = new Intl.NumberFormat('zh-CN', { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 });

  it('without the viewer account the console and its API answer 401 with a Basic challenge', async () => {
    for (const path of ['/', '/api/v1/coverage']) {
      const res = await fetch(`${h.base}${path}`);
      expect(res.status, path).to.equal(401);
      expect(res.headers.get('www-authenticate'), path).to.match(/^Basic realm="campuslink"/);
    }
  });

  it('the overview shows the national numbers of the coverage API, and drills down province → city → county → school', async () => {
    const page = await open('/');
    const nat = await api('/api/v1/coverage?level=national');
    expect(await text(page, '#kpi-registered dd')).to.equal(String(nat.registered));
    expect(await text(page, '#kpi-online dd')).to.equal(String(nat.online));
    expect(await text(page, '#kpi-offline dd')).to.equal(String(nat.offline));
    expect(await text(page, '#kpi-never dd')).to.equal(String(nat.neverSeen));
    expect(await text(page, '#kpi-share dd')).to.contain(zh.format(nat.onlineShare));
    expect(await page.locator('#history canvas').count(), 'coverage history chart drawn').to.be.greaterThan(0);
    await shot(page, 'overview-national');

    await page.getByRole('link', { name: '宁夏回族自治区' }).first().click();
    await page.waitForSelector('main[aria-busy="false"]');
    expect(page.url()).to.contain('region=640000');
    const prov = await api('/api/v1/coverage?level=province&code=640000');
    expect(await text(page, '#region-name')).to.equal('宁夏回族自治区');
    expect(await text(page, '#kpi-online dd')).to.equal(String(prov.online));
    const rows = page.locator('#children-table tbody tr');
    expect(await rows.count()).to.equal(prov.children.length);
    for (const c of prov.children) {
      const row = rows.filter({ hasText: c.name });
      // The online-share cell carries its grade as text and a symbol, not only a colour.
      expect(await row.locator('td[data-grade]').innerText()).to.contain(zh.format(c.onlineShare));
    }
    await shot(page, 'overview-province');

    await page.getByRole('link', { name: '银川市' }).first().click();
    await page.waitForSelector('main[aria-busy="false"]');
    await page.getByRole('link', { name: '兴庆区' }).first().click();
    await page.waitForSelector('main[aria-busy="false"]');
    expect(page.url()).to.contain('region=640104');
    const county = await api('/api/v1/coverage?level=county&code=640104');
    expect(await page.locator('#children-table tbody tr').count()).to.equal(county.children.length);
    // Sorting is a real button and keeps its state in the URL.
    await page.locator('#children-table button[data-key="status"]').click();
    expect(page.url()).to.contain('sort=status');
    expect(await page.locator('#children-table th[aria-sort="ascending"]').count()).to.equal(1);
    await shot(page, 'overview-county');
    // Breadcrumbs lead back up.
    expect(await page.locator('nav.crumbs a').allInnerTexts()).to.deep.equal(['全国', '宁夏回族自治区', '银川市']);

    await page.getByRole('link', { name: SCRIPT_NAME }).click();
    await page.waitForSelector('main[aria-busy="false"]');
    expect(page.url()).to.match(/school\.html\?id=1640104002/);
    await page.close();
  });

  it('a school name with <script> and quotes is shown as text and never runs', async () => {
    const page = await open('/console/school.html?id=1640104002');
    expect(await text(page, '#school-name')).to.equal(SCRIPT_NAME);
    expect(await page.locator('main script').count()).to.equal(0);
    const county = await open('/?region=640104');
    expect(await county.locator('#children-table a', { hasText: SCRIPT_NAME }).innerText()).to.equal(SCRIPT_NAME);
    expect(dialogs).to.deep.equal([]);
    await county.close();
    await page.close();
  });

  it('the school page shows status, charts, devices, modem, compliance, gaps and agent health as the API gives them', async () => {
    const offline = await api('/api/v1/console/offline?region=640000&link=sat-geo&pageSize=1');
    const id = offline.items[0].id as string;
    const d = await api(`/api/v1/console/schools/${id}`);
    const page = await open(`/console/school.html?id=${id}`);
    expect(await text(page, '#school-name')).to.equal(d.school.name);
    expect(await text(page, '#latest')).to.contain('离线');
    expect(await text(page, '#latest')).to.contain('失锁');
    expect(await page.locator('#charts canvas').count(), 'RTT, jitter, loss, WAN and modem charts').to.be.greaterThanOrEqual(5);
    const agents = await text(page, '#agents');
    expect(agents).to.contain(d.agents[0].version);
    expect(agents).to.contain(String(d.agents[0].spoolReports));
    expect(await text(page, '#gaps')).to.contain('链路中断');
    const judgements = (await api(`/api/v1/schools/${id}/compliance`)).judgements as { rule: string }[];
    expect(await page.locator('#compliance tbody tr').count()).to.equal(judgements.length);
    await shot(page, 'school-offline-geo');
    await page.goto(`${h.base}/console/school.html?id=1640104001&range=7d`);
    await page.waitForSelector('main[aria-busy="false"]');
    const devices = await api('/api/v1/schools/1640104001/devices');
    expect(await page.locator('#device-list tbody tr').count()).to.equal(devices.count);
    expect(await page.locator('#device-list').innerText()).to.contain('Huawei <b>Technologies</b>');
    await shot(page, 'school-7d');
    await page.close();
  });

  it('the compliance page shows the API per-rule counts, lists the failing schools with evidence, and downloads the CSV', async () => {
    const page = await open('/console/compliance.html?region=640000');
    const c = await api('/api/v1/compliance?profile=cn-moe&level=province&code=640000');
    for (const r of c.rules) {
      const row = page.locator(`#rules tr[data-rule="${r.rule}"]`);
      expect(await row.locator('td.pass').innerText(), r.rule).to.equal(String(r.pass));
      expect(await row.locator('td.fail').innerText(), r.rule).to.equal(String(r.fail));
      expect(await row.locator('td.unknown').innerText(), r.rule).to.equal(String(r.unknown));
    }
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#csv').click()]);
    const file = join(ARTIFACTS, 'compliance.csv');
    await download.saveAs(file);
    const expected = Buffer.from(await (await fetch(`${h.base}/api/v1/compliance?profile=cn-moe&level=province&code=640000&format=csv`, { headers: { authorization: authorization() } })).arrayBuffer());
    expect(readFileSync(file).equals(expected), 'the downloaded CSV is byte for byte the API answer').to.equal(true);
    await shot(page, 'compliance-province');

    const failing = c.rules.find((r: { fail: number }) => r.fail > 0);
    await page.locator(`#rules tr[data-rule="${failing.rule}"] a.show-failing`).click();
    await page.waitForSelector('#failing');
    expect(page.url()).to.contain(`rule=${failing.rule}`);
    expect(await text(page, '#failing .pager')).to.contain(`共 ${failing.fail} 条`);
    await shot(page, 'compliance-failing');
    await page.close();
  });

  it('the offline page lists the API offline schools longest first with their causes', async () => {
    const r = await api('/api/v1/console/offline?region=000000&pageSize=50');
    const page = await open('/console/offline.html');
    const ids = await page.locator('#offline-table tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-school')));
    expect(ids).to.deep.equal(r.items.map((i: { id: string }) => i.id));
    expect(r.items[0].reason).to.equal('agent_silent');
    expect(await page.locator('#offline-table tbody tr').first().locator('td.cause').innerText()).to.contain('探针停止');
    await shot(page, 'offline');
    await page.selectOption('#link-filter', 'sat-geo');
    await page.locator('form.filters button', { hasText: '筛选' }).click();
    await page.waitForSelector('main[aria-busy="false"]');
    const geo = await api('/api/v1/console/offline?region=000000&link=sat-geo');
    expect(await page.locator('#offline-table tbody tr').count()).to.equal(geo.total);
    expect(await page.locator('#offline-table td.cause').first().innerText()).to.contain('卫星调制解调器');
    await page.close();
  });

  it('the map draws every school of a county as a point and shows a hover card with the name as text', async () => {
    const page = await open('/console/map.html?region=640104');
    const m = await api('/api/v1/console/map?region=640104&maxPoints=3000');
    expect(m.mode).to.equal('points');
    const target = m.points.find((p: unknown[]) => p[1] === SCRIPT_NAME);
    // Hover where the page's own projection puts the school.
    const [x, y] = (await page.evaluate(
      // The module path is an argument: it is the browser's URL, not a file of this repository.
      async ([url, bounds, lon, lat]) => (await import(url)).projection(bounds)(lon, lat),
      ['/console/js/projection.js', m.bounds, target[2], target[3]] as const,
    )) as [number, number];
    const box = (await page.locator('#map-canvas').boundingBox())!;
    await page.mouse.move(box.x + (x * box.width) / 900, box.y + (y * box.height) / 600);
    await page.locator('#hovercard').waitFor({ state: 'visible' });
    const found = (await page.locator('#hovercard .hc-name').innerText()) === SCRIPT_NAME;
    expect(found, 'hover card of the <script> school').to.equal(true);
    await shot(page, 'map-county');
    await page.goto(`${h.base}/console/map.html?region=640000`);
    await page.waitForSelector('main[aria-busy="false"]');
    await shot(page, 'map-province');
    await page.close();
  });

  it('switching to English keeps the page state and formats numbers and dates in the English locale', async () => {
    const page = await open('/?region=640000');
    await page.locator('#lang-switch').click();
    await page.waitForSelector('main[aria-busy="false"]');
    expect(page.url()).to.contain('lang=en').and.to.contain('region=640000');
    expect(await page.locator('html').getAttribute('lang')).to.equal('en');
    expect(await text(page, 'header nav')).to.contain('Overview');
    const prov = await api('/api/v1/coverage?level=province&code=640000');
    expect(await text(page, '#kpi-share dd')).to.contain(new Intl.NumberFormat('en', { style: 'percent', minimumFractionDigits: 1 }).format(prov.onlineShare));
    const asOf = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Asia/Shanghai' }).format(new Date(prov.asOf));
    expect(await text(page, 'main > p.note')).to.contain(asOf);
    // Links carry the language on.
    await page.getByRole('link', { name: 'Offline schools' }).click();
    await page.waitForSelector('main[aria-busy="false"]');
    expect(page.url()).to.contain('lang=en');
    expect(await text(page, 'h1')).to.equal('Offline schools');
    await shot(page, 'offline-en');
    await page.goto(`${h.base}/?lang=en`);
    await page.waitForSelector('main[aria-busy="false"]');
    await shot(page, 'overview-en');
    await page.close();
  });

  it('no page raised a script error', () => {
    expect(pageErrors).to.deep.equal([]);
  });
});
