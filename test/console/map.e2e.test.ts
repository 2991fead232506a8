/**
 * The map at province scale in headless Chromium: 250,000 schools over every county of the NBS 2023 list
 * (bench/registry-divisions.bench.ts's registry), liveness fed through the views module, a real influxd.
 * The tile-grid cartogram must be readable at every level: one tile per region with its name and value,
 * no label overlapping another or leaving its tile (bounding boxes), shaded by share with a legend (a
 * region with one offline school is not red), a click zooms in, and schools are points only at county level.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import type { BrowserContext, Page } from 'playwright-core';
import { realRegistryCsv } from '../../bench/registry-divisions.bench.js';
import { createConsoleModule } from '../../collector/console/module.js';
import { createApp } from '../../collector/http/app.js';
import type { ModuleContext } from '../../collector/module.js';
import { LiveRegistry, loadRegistry, type Registry } from '../../collector/registry/index.js';
import { createInflux1Sink, type Influx1Sink } from '../../collector/sink/influx1.js';
import { openStateDb } from '../../collector/state/db.js';
import { createViewsModule, type ViewsModule } from '../../collector/views/index.js';
import { PROTOCOL_VERSION, type Report } from '../../protocol/index.js';
import { startTestInfluxd, type TestInfluxd } from '../helpers/influxd.js';
import { launchConsoleBrowser } from './browser.js';

// The page's globals, for the callbacks that run in the browser (the test project has no DOM lib).
/* eslint-disable @typescript-eslint/no-explicit-any */

const ARTIFACTS = join('test-artifacts', 'console');
const SCHOOLS = 250_000;
/** 宁夏: every school online but one. */
const ONE_OFFLINE = '640000';

/** Online share per province: spread over the bins by the province's place in the list. */
const targetPct = (k: number): number => [99, 96, 92, 85, 70, 40][k % 6] as number;

describe('collector/console map with 250,000 schools in headless Chromium (real influxd)', function () {
  this.timeout(300_000);
  let influx: TestInfluxd;
  let dir: string;
  let registry: Registry;
  let views: ViewsModule;
  let server: Server;
  let base: string;
  let context: BrowserContext;
  let closeAll: () => Promise<void>;
  const pageErrors: string[] = [];

  before(async () => {
    const browser = await launchConsoleBrowser();
    context = browser.context;
    const t0 = performance.now();
    influx = await startTestInfluxd();
    dir = mkdtempSync(join(tmpdir(), 'campuslink-map-'));
    const path = join(dir, 'schools.csv');
    writeFileSync(path, realRegistryCsv(SCHOOLS));
    registry = loadRegistry(path);
    const log = pino({ level: 'silent' });
    const sink = createInflux1Sink({ url: influx.url, database: 'campuslink', flushIntervalMs: 5 });
    const nowMs = Date.now();
    const state = openStateDb({ stateDir: join(dir, 'state') });
    const ctx: ModuleContext = { config: {} as never, registry, liveRegistry: new LiveRegistry({ path, initial: registry }), stateDir: join(dir, 'state'), state, sink, influx: influx.client, log, now: () => Date.now() };
    views = createViewsModule(ctx, { settings: { coverageIntervalS: 0, complianceProfilesDir: 'config/compliance' }, complianceMaxStaleMs: 0 });
    const consoleModule = createConsoleModule(ctx, { views });
    await views.start?.();
    await consoleModule.start?.();
    await views.live()?.rebuilt();
    console.log(`      set-up: registry and views started in ${Math.round(performance.now() - t0)} ms`);
    // Liveness as accepted reports give it: per province a share online, the rest offline (internet lost).
    const provinces = [...registry.national.children];
    let n = 0;
    let oneOfflineLeft = true;
    for (const s of registry.schools.values()) {
      const k = provinces.indexOf(s.provinceCode);
      let online = (n++ * 7919) % 100 < targetPct(k);
      if (s.provinceCode === ONE_OFFLINE) {
        online = !oneOfflineLeft;
        oneOfflineLeft = false;
      }
      const report: Report = {
        v: PROTOCOL_VERSION, school: s.id, agent: 'gw', seq: 1, collectedAt: nowMs - 60_000, sentAt: nowMs,
        measurements: [{ name: 'ping', tags: { target: 'www.baidu.com', role: 'internet' }, fields: { loss_pct: online ? 0 : 100, sent: 5, received: online ? 5 : 0, result_code: online ? 0 : 2 } }],
      };
      await views.onAccepted?.({ school: s.id, reports: [report], receivedAtMs: nowMs });
    }
    console.log(`      set-up: liveness of ${SCHOOLS} schools fed in ${Math.round(performance.now() - t0)} ms`);
    const app = createApp({
      sink: sink as Influx1Sink,
      tokens: { verify: () => undefined },
      schools: registry,
      log,
      now: () => Date.now(),
      maxBodyBytes: 1024 * 1024,
      retryAfterS: 1,
      modules: [views, consoleModule],
    });
    server = await new Promise((res) => {
      const s = app.listen(0, '127.0.0.1', () => res(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    closeAll = async () => {
      await browser.close();
      await new Promise<void>((res) => server.close(() => res()));
      for (const m of [consoleModule, views]) await m.stop?.().catch(() => undefined);
      await sink.close();
      await state.close();
      await influx.cleanup();
      rmSync(dir, { recursive: true, force: true });
    };
  });
  after(async () => {
    await closeAll?.();
  });

  const api = async (path: string): Promise<any> => {
    const res = await fetch(`${base}${path}`);
    expect(res.status, path).to.equal(200);
    return res.json();
  };
  const open = async (path: string, page?: Page): Promise<Page> => {
    const p = page ?? (await context.newPage());
    if (!page) p.on('pageerror', (e) => pageErrors.push(`${path}: ${e.message}`));
    await p.goto(`${base}${path}`);
    await p.waitForSelector('main[aria-busy="false"]');
    return p;
  };
  const pct = new Intl.NumberFormat('zh-CN', { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 });

  /** Labels that overlap another or stick out of their tile, and tiles that overlap. */
  // A string, not a function: the test's transpiler would wrap named inner functions in a helper the page lacks.
  const LAYOUT_PROBLEMS = `(() => {
    const problems = [];
    const tiles = [...document.querySelectorAll('#tilegrid .tile')];
    const labels = [];
    for (const tile of tiles) {
      const t = tile.getBoundingClientRect();
      for (const span of tile.querySelectorAll('.tile-name, .tile-value, .tile-count')) {
        const r = span.getBoundingClientRect();
        const what = tile.dataset.code + ' ' + span.className + ' "' + span.textContent + '"';
        if (r.width === 0 || r.height === 0) problems.push(what + ' is not shown');
        if (r.left < t.left - 0.5 || r.right > t.right + 0.5 || r.top < t.top - 0.5 || r.bottom > t.bottom + 0.5) problems.push(what + ' leaves its tile');
        labels.push({ r, what });
      }
    }
    const hit = (a, b) => a.left < b.right - 0.5 && a.right > b.left + 0.5 && a.top < b.bottom - 0.5 && a.bottom > b.top + 0.5;
    for (let i = 0; i < labels.length; i++) for (let j = i + 1; j < labels.length; j++) if (hit(labels[i].r, labels[j].r)) problems.push(labels[i].what + ' overlaps ' + labels[j].what);
    const rects = tiles.map((x) => x.getBoundingClientRect());
    for (let i = 0; i < rects.length; i++) for (let j = i + 1; j < rects.length; j++) if (hit(rects[i], rects[j])) problems.push('tile ' + tiles[i].dataset.code + ' overlaps tile ' + tiles[j].dataset.code);
    return { problems: problems.slice(0, 10), tiles: document.querySelectorAll('#tilegrid a.tile').length, all: tiles.length, canvas: document.querySelectorAll('#map-canvas').length };
  })()`;
  /** Labels that overlap another or stick out of their tile, and tiles that overlap. */
  const layoutProblems = (page: Page) => page.evaluate(LAYOUT_PROBLEMS) as Promise<{ problems: string[]; tiles: number; all: number; canvas: number }>;

  const tileBox = async (page: Page, code: string) => (await page.locator(`#tilegrid a[data-code="${code}"]`).boundingBox())!;

  it('national level: one tile per province with name and online share as the coverage API says, placed like the country, no label overlapping, at 1280 and 390 px', async () => {
    const page = await open('/console/map.html');
    const cov = await api('/api/v1/coverage?level=national');
    expect(cov.registered).to.equal(SCHOOLS);
    const l = await layoutProblems(page);
    expect(l.problems).to.deep.equal([]);
    expect(l.tiles).to.equal(cov.children.length);
    // The 34 provincial units keep their places; those without schools (here 香港, 澳门, 台湾) are grey, not links.
    expect(l.all).to.equal(34);
    expect(await page.locator('#tilegrid span.tile.nodata').count()).to.equal(34 - cov.children.length);
    expect(l.canvas, 'no school points above county level').to.equal(0);
    for (const c of cov.children) {
      expect(await page.locator(`#tilegrid a[data-code="${c.code}"] .tile-value`).innerText(), c.name).to.contain(pct.format(c.onlineShare));
    }
    const [xj, bj, hlj, gd, hn, sh] = await Promise.all(['650000', '110000', '230000', '440000', '460000', '310000'].map((c) => tileBox(page, c)));
    expect(xj!.x, '新疆 west of 北京').to.be.below(bj!.x);
    expect(hlj!.y, '黑龙江 north of 广东').to.be.below(gd!.y);
    expect(hn!.y, '海南 south of 广东').to.be.above(gd!.y);
    expect(sh!.x, '上海 east of 北京').to.be.above(bj!.x);
    expect(await page.locator('#map-legend').innerText()).to.contain('当前在线率').and.to.contain('≥ 95.0%');
    expect(await page.locator('#cartogram-note').innerText()).to.contain('方格示意图');
    await page.screenshot({ path: join(ARTIFACTS, 'map-national-250k.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    expect((await layoutProblems(page)).problems, 'at 390 px').to.deep.equal([]);
    await page.screenshot({ path: join(ARTIFACTS, 'map-national-phone.png'), fullPage: true });
    await page.close();
  });

  it('a region is shaded by its share: one offline school among thousands online is green, not red', async () => {
    const page = await open('/console/map.html');
    const nx = (await api('/api/v1/coverage?level=national')).children.find((c: { code: string }) => c.code === ONE_OFFLINE);
    expect(nx.offline).to.equal(1);
    expect(nx.online).to.equal(nx.registered - 1);
    expect(await page.locator(`#tilegrid a[data-code="${ONE_OFFLINE}"]`).getAttribute('data-bin')).to.equal('b4');
    const bg = await page.locator(`#tilegrid a[data-code="${ONE_OFFLINE}"]`).evaluate((e) => (globalThis as any).getComputedStyle(e).backgroundColor);
    expect(bg).to.equal('rgb(26, 127, 55)');
    await page.close();
  });

  it('every province and one city of each: tiles in code order with full names, nothing overlapping or cut', async () => {
    const page = await open('/console/map.html');
    const nat = await api('/api/v1/coverage?level=national');
    for (const p of nat.children) {
      await open(`/console/map.html?region=${p.code}`, page);
      const cov = await api(`/api/v1/coverage?level=province&code=${p.code}`);
      const l = await layoutProblems(page);
      expect(l.problems, p.name).to.deep.equal([]);
      expect(l.tiles, p.name).to.equal(cov.children.length);
      expect(l.canvas, p.name).to.equal(0);
      const codes = await page.locator('#tilegrid a.tile').evaluateAll((as) => as.map((a) => a.dataset.code));
      expect(codes, p.name).to.deep.equal([...codes].sort());
      const city = cov.children.find((c: { level: string }) => c.level === 'city');
      if (!city) continue;
      await open(`/console/map.html?region=${city.code}`, page);
      const lc = await layoutProblems(page);
      expect(lc.problems, city.name).to.deep.equal([]);
      expect(lc.tiles, city.name).to.equal((await api(`/api/v1/coverage?level=city&code=${city.code}`)).children.length);
    }
    await page.close();
  });

  it('a click on a tile zooms into the region, down to a county, where the schools are points', async () => {
    const page = await open('/console/map.html');
    await page.locator('#tilegrid a[data-code="510000"]').click();
    await page.waitForSelector('main[aria-busy="false"]');
    expect(page.url()).to.contain('region=510000');
    expect(await page.locator('nav.crumbs').innerText()).to.contain('四川省');
    await page.screenshot({ path: join(ARTIFACTS, 'map-province-250k.png'), fullPage: true });
    await page.locator('#tilegrid a[data-code="513200"]').click();
    await page.waitForSelector('main[aria-busy="false"]');
    expect(page.url()).to.contain('region=513200');
    await page.locator('#tilegrid a.tile').first().click();
    await page.waitForSelector('main[aria-busy="false"]');
    expect(await page.locator('#tilegrid').count()).to.equal(0);
    expect(await page.locator('#map-canvas').count()).to.equal(1);
    await page.close();
  });

  it('shaded by a compliance rule, a tile shows the pass share of the schools measured, as the compliance API counts them', async () => {
    const page = await open('/console/map.html');
    await page.selectOption('#shade', 'CN-BB-02');
    await page.locator('form.filters button', { hasText: '应用' }).last().click();
    await page.waitForSelector('main[aria-busy="false"]');
    expect(page.url()).to.contain('shade=CN-BB-02');
    expect(await page.locator('#map-legend').innerText()).to.contain('CN-BB-02');
    const c = await api('/api/v1/compliance?profile=cn-moe&level=national');
    for (const ch of c.children.slice(0, 10)) {
      const r = ch.rules.find((x: { rule: string }) => x.rule === 'CN-BB-02');
      const shown = await page.locator(`#tilegrid a[data-code="${ch.code}"] .tile-value`).innerText();
      if (r.pass + r.fail === 0) expect(shown, ch.name).to.contain('未知');
      else expect(shown, ch.name).to.contain(pct.format(r.pass / (r.pass + r.fail)));
    }
    expect((await layoutProblems(page)).problems).to.deep.equal([]);
    await page.close();
  });

  it('no page raised a script error', () => {
    expect(pageErrors).to.deep.equal([]);
  });
});
