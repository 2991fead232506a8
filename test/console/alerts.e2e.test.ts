/**
 * The console's alerts page in headless Chromium (Debian's `chromium` driven by playwright-core):
 * a school goes offline, the alert shows for an operator of its county on a phone-sized screen, the
 * operator acknowledges it, and who and when stay with the alert once it resolves. A viewer of
 * another county sees nothing of it.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { chromium, type BrowserContext } from 'playwright-core';
import { basic, startScopeHarness, type ScopeHarness } from '../collector/auth/scope-harness.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join('test-artifacts', 'console');
const MIN = 60_000;

describe('collector/console alerts page in headless Chromium (scoped operator, real influxd)', function () {
  this.timeout(120_000);
  let h: ScopeHarness;
  let context: BrowserContext;
  let profileDir: string;
  let school: string;
  const operator = { username: 'xingqing-noc', password: '' };
  const pageErrors: string[] = [];

  before(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`These tests need Chromium at ${CHROMIUM}. Install it: apt-get install chromium`);
    mkdirSync(ARTIFACTS, { recursive: true });
    h = await startScopeHarness();
    operator.password = Buffer.from(h.account(operator.username, '640104', 'operator').slice(6), 'base64').toString().split(':')[1]!;
    school = h.schools.find((s) => s.county.county[0] === '640104' && s.role !== 'never')!.id;
    // Eleven minutes on, every school answers again except one, whose internet target is lost.
    h.clock.now += 11 * MIN;
    for (const s of h.schools) if (s.role !== 'never') await h.post(s.id, s.id === school ? 100 : 0);
    const r = await h.alerts.evaluate();
    expect(r.fired.map((a) => a.labels.school)).to.deep.equal([school]);
    h.maintenance.store.add({ target: '640105', startsMs: h.clock.now, endsMs: h.clock.now + 3_600_000, reason: '西夏区光缆割接', createdBy: 'api:yinchuan-noc' });
    h.maintenance.store.add({ target: '640104', startsMs: h.clock.now + 86_400_000, endsMs: h.clock.now + 90_000_000, reason: '兴庆区机房搬迁', createdBy: 'api:xingqing-noc' });
    profileDir = mkdtempSync(join(tmpdir(), 'campuslink-chromium-'));
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
      viewport: { width: 390, height: 844 },
      isMobile: true,
      locale: 'zh-CN',
      timezoneId: 'Asia/Shanghai',
      httpCredentials: operator,
    });
  });
  after(async () => {
    await context?.close().catch(() => undefined);
    await h?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  });

  it('shows the firing alert to its county\'s operator on a phone screen, acknowledges it, and keeps who and when after it resolves', async () => {
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${h.base}/console/alerts.html`);
    await page.waitForSelector('main[aria-busy="false"]');
    const item = page.locator(`li.alert[data-state="firing"]`);
    expect(await item.count()).to.equal(1);
    expect(await item.innerText()).to.contain(school).and.contain('离线');
    expect(await page.locator('#whoami').innerText()).to.contain('xingqing-noc').and.contain('640104');
    expect(await page.locator('header nav').innerText()).to.contain('告警');
    // Only the window of its own county, still to come; not the neighbour's in force.
    expect(await page.locator('#maintenance').innerText()).to.contain('兴庆区机房搬迁').and.contain('未开始').and.not.contain('西夏区');
    // Readable on a phone: nothing wider than the screen.
    expect(await page.evaluate('document.documentElement.scrollWidth')).to.be.at.most(390);
    await page.screenshot({ path: join(ARTIFACTS, 'alerts-phone.png'), fullPage: true });

    await item.locator('button.ack').click();
    await page.waitForSelector('li.alert .acked');
    expect(await page.locator('li.alert .acked').innerText()).to.contain('xingqing-noc');
    expect(await page.locator('button.ack').count()).to.equal(0);

    const board = (await (await fetch(`${h.base}/api/v1/alerts/board?state=acknowledged`, { headers: { authorization: basic(operator.username, operator.password) } })).json()) as { items: { ack: { by: string } | null }[] };
    expect(board.items.map((i) => i.ack?.by)).to.deep.equal(['xingqing-noc']);

    // The school answers again: the alert resolves and keeps its acknowledgement.
    h.clock.now += MIN;
    await h.post(school, 0);
    const r = await h.alerts.evaluate();
    expect(r.resolved).to.have.length(1);
    await h.board.board.flushed();
    await page.goto(`${h.base}/console/alerts.html?state=resolved`);
    await page.waitForSelector('main[aria-busy="false"]');
    const resolved = page.locator('li.alert[data-state="resolved"]');
    expect(await resolved.count()).to.equal(1);
    expect(await resolved.innerText()).to.contain('xingqing-noc').and.contain('已恢复');
    expect(pageErrors).to.deep.equal([]);
  });

  it('the console overview of a county account shows its county only, whatever level the page asks for', async () => {
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${h.base}/`);
    await page.waitForSelector('main[aria-busy="false"]');
    const body = await page.locator('main').innerText();
    expect(body).to.contain('兴庆区');
    expect(body).to.not.contain('吴忠市').and.not.contain('西夏区');
    await page.screenshot({ path: join(ARTIFACTS, 'overview-county-account.png'), fullPage: true });
    expect(pageErrors).to.deep.equal([]);
  });

  it('a viewer of another county sees none of these alerts, and may not acknowledge', async () => {
    const other = h.account('xixia', '640105');
    const board = (await (await fetch(`${h.base}/api/v1/alerts/board`, { headers: { authorization: other } })).json()) as { scope: string; items: unknown[]; firing: number };
    expect(board).to.include({ scope: '640105', firing: 0 });
    expect(board.items).to.deep.equal([]);
    const ack = await fetch(`${h.base}/api/v1/alerts/ack`, { method: 'POST', headers: { authorization: other, 'content-type': 'application/json' }, body: '{"key":"x"}' });
    expect(ack.status).to.equal(403);
  });
});
