/**
 * What officials read, in headless Chromium against the seeded province (real influxd): chart axes for
 * any span and colours as the badges, one unit per chart, y labels never clipped; CJK Extension A place
 * names drawn as glyphs, not boxes; compliance texts in the page's language; "当前在线" labelled as such
 * beside the school-hours online rate; the NOC wall (kiosk auto-refresh, favicon, the offline list on a
 * 390 px phone). One browser for the file.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import type { BrowserContext, Page } from 'playwright-core';
import { launchConsoleBrowser } from './browser.js';
import { startConsoleHarness, type ConsoleHarness } from './harness.js';

// The page's globals, for the callbacks that run in the browser (the test project has no DOM lib).
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any;
declare function getComputedStyle(e: unknown, pseudo?: string): any;
type HTMLElement = any;
type Element = any;

const ARTIFACTS = join('test-artifacts', 'console');
const EXT_A_NAME = '湖㳇镇中心小学';
const CJK = /[\u3400-\u9fff]/;

describe('collector/console readable by officials in headless Chromium (seeded province, real influxd)', function () {
  this.timeout(120_000);
  let h: ConsoleHarness;
  let context: BrowserContext;
  let browser: Awaited<ReturnType<typeof launchConsoleBrowser>>;
  const pageErrors: string[] = [];

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await launchConsoleBrowser();
    context = browser.context;
    h = await startConsoleHarness({ names: { 0: EXT_A_NAME } });
  });
  after(async () => {
    await browser?.close();
    await h?.close();
  });

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const api = async (path: string): Promise<any> => {
    const res = await fetch(`${h.base}${path}`);
    expect(res.status, path).to.equal(200);
    return res.json();
  };
  const open = async (path: string, page?: Page): Promise<Page> => {
    const p = page ?? (await context.newPage());
    p.on('pageerror', (e) => pageErrors.push(`${path}: ${e.message}`));
    await p.goto(`${h.base}${path}`);
    await p.waitForSelector('main[aria-busy="false"]');
    return p;
  };
  const chartData = (page: Page, sel: string) =>
    page.locator(sel).evaluateAll((figs) => figs.map((f) => ({
      title: f.querySelector('figcaption')?.textContent ?? '',
      x: JSON.parse((f as HTMLElement).dataset.xTicks ?? 'null') as string[] | null,
      y: JSON.parse((f as HTMLElement).dataset.yTicks ?? 'null') as string[] | null,
      yAxisPx: Number((f as HTMLElement).dataset.yAxisPx),
      legend: [...f.querySelectorAll('.u-legend .u-series')].slice(1).map((r) => ({ label: r.querySelector('.u-label')?.textContent ?? '', color: getComputedStyle(r.querySelector('.u-marker') as Element).borderColor })),
    })));

  it('a chart of one bucket reads one date on its time axis, and spans from an hour to a year get round, distinct ticks', async () => {
    const page = await open('/');
    const result = await page.evaluate(async () => {
      const m = await import('/console/js/chart.js' as string);
      const t0 = Date.parse('2026-06-01T00:00:00+08:00');
      const fig = m.timeChart({ title: 'one', series: [{ label: 'x', values: [[t0, 5]] }] });
      document.getElementById('main')!.append(fig);
      await new Promise((r) => setTimeout(r, 100));
      const spans = [3600, 86400, 7 * 86400, 30 * 86400, 365 * 86400].map((span) => {
        const { step, ticks } = m.timeTicks(t0 / 1000, t0 / 1000 + span, 900);
        return { span, step, labels: m.timeLabels(ticks, step) as string[] };
      });
      return { single: JSON.parse(fig.dataset.xTicks), spans };
    });
    expect(result.single).to.deep.equal(['2026/6/1 00:00']);
    for (const s of result.spans) {
      expect(s.labels.length, `span ${s.span}`).to.be.within(2, 9);
      expect(new Set(s.labels).size, `distinct labels for span ${s.span}: ${s.labels.join(', ')}`).to.equal(s.labels.length);
    }
    // A day: times of day (the first with its date), never a run of months.
    expect(result.spans[1]!.labels.slice(1).every((l) => /^\d\d:\d\d$/.test(l) || /^6\/2 00:00$/.test(l)), result.spans[1]!.labels.join(', ')).to.equal(true);
    expect(result.spans[4]!.labels.every((l) => /^\d{1,2}\/\d{1,2}$/.test(l)), result.spans[4]!.labels.join(', ')).to.equal(true);
    await page.close();
  });

  it('the coverage history has the share on its own 0-100 % axis and the counts on another, online green and offline red as the badges', async () => {
    const page = await open('/?region=640000&range=24h');
    await page.waitForSelector('#history figure[data-y-ticks]');
    const charts = await chartData(page, '#history figure');
    expect(charts).to.have.length(2);
    const [share, counts] = charts as [(typeof charts)[number], (typeof charts)[number]];
    expect(share.y!.every((l) => l.endsWith('%')), share.y!.join()).to.equal(true);
    expect(counts.y!.some((l) => l.includes('%')), counts.y!.join()).to.equal(false);
    const badge = async (sel: string) => page.evaluate((s) => {
      const e = document.createElement('span');
      e.className = s;
      document.body.append(e);
      return getComputedStyle(e).color;
    }, sel);
    expect(counts.legend.map((l) => l.label)).to.deep.equal(['当前在线', '离线']);
    expect(await page.locator('#history .u-legend .u-series').first().innerText(), 'the time column of the legend in Chinese too').to.contain('时间');
    expect(counts.legend[0]!.color).to.equal('rgb(26, 127, 55)');
    expect(counts.legend[1]!.color).to.equal('rgb(207, 34, 46)');
    // Same hue family as the badges: green for online, red for offline.
    expect(await badge('badge st-online')).to.match(/^rgb\(17, 99, 41\)$/);
    expect(await badge('badge st-offline')).to.match(/^rgb\(164, 14, 38\)$/);
    await page.close();
  });

  it('the value axis of every school chart is as wide as its widest label (no "00 Mbit/s")', async () => {
    const page = await open('/console/school.html?id=1640104001');
    await page.waitForSelector('#charts figure[data-y-axis-px]');
    const charts = await chartData(page, '#charts figure[data-y-ticks]');
    expect(charts.length).to.be.greaterThanOrEqual(4);
    const wan = charts.find((c) => c.title.startsWith('WAN'))!;
    expect(wan.y!.some((l) => /\d00 Mbit\/s$/.test(l)), wan.y!.join()).to.equal(true);
    for (const c of charts) {
      const widest = await page.evaluate(async (labels) => (await import('/console/js/chart.js' as string)).labelWidth(labels), c.y!);
      expect(c.yAxisPx, `${c.title}: ${c.y!.join(', ')}`).to.be.greaterThan(widest + 8);
    }
    await page.close();
  });

  it('a place name with a CJK Extension A character (湖㳇镇) is drawn with a glyph, not a box, in the page font and the chart font', async () => {
    const page = await open('/console/school.html?id=1640104001');
    expect(await page.locator('#school-name').innerText()).to.equal(EXT_A_NAME);
    const fonts = await page.evaluate(async () => [getComputedStyle(document.getElementById('school-name')!).fontFamily, (await import('/console/js/chart.js' as string)).CHART_FONT.replace(/^12px /, '')]);
    for (const family of fonts) {
      // The glyph drawn against what the font draws for a code point no font has (the "tofu" box).
      // A string, not a function: the test's transpiler would wrap named inner functions in a helper the page lacks.
      const same = (await page.evaluate(`(() => {
        const draw = (ch) => {
          const c = document.createElement('canvas');
          c.width = 64;
          c.height = 64;
          const ctx = c.getContext('2d');
          ctx.font = '48px ' + ${JSON.stringify(family)};
          ctx.fillText(ch, 4, 52);
          return Array.from(ctx.getImageData(0, 0, 64, 64).data).join(',');
        };
        const tofu = draw('\u{10FFFD}');
        return { extA: draw('㳇') === tofu, common: draw('镇') === tofu, blank: draw('㳇') === draw(' ') };
      })()`)) as Record<string, boolean>;
      expect(same, family).to.deep.equal({ extA: false, common: false, blank: false });
    }
    await page.screenshot({ path: join(ARTIFACTS, 'school-ext-a.png'), clip: { x: 0, y: 0, width: 900, height: 160 } });
    await page.close();
  });

  it('the compliance page and the school page show rule texts, sources, windows and notes in Chinese on zh-CN and in English on en', async () => {
    const page = await open('/console/compliance.html?region=640000');
    const c = await api('/api/v1/compliance?profile=cn-moe&level=province&code=640000');
    for (const r of c.rules) {
      const cell = await page.locator(`#rules tr[data-rule="${r.rule}"] td.rule-text`).innerText();
      expect(cell, r.rule).to.match(CJK);
      expect(cell, r.rule).not.to.contain(r.description);
    }
    const failing = c.rules.find((r: { fail: number }) => r.fail > 0);
    await open(`/console/compliance.html?region=640000&rule=${failing.rule}`, page);
    for (const sel of ['#failing td.window', '#failing td.reason']) {
      const texts = (await page.locator(sel).allInnerTexts()).filter((x) => x.trim());
      for (const x of texts) expect(x, sel).to.match(CJK);
    }
    await open('/console/school.html?id=1640105005', page);
    const rows = page.locator('#compliance tbody tr');
    expect(await rows.count()).to.be.greaterThan(5);
    for (const sel of ['td.window', 'td.source', 'td.reason']) {
      const texts = (await page.locator(`#compliance ${sel}`).allInnerTexts()).filter((x) => x.trim());
      expect(texts.length, sel).to.be.greaterThan(0);
      for (const x of texts) {
        expect(x, sel).to.match(CJK);
        expect(x, sel).not.to.match(/\b(the|no|in the window|last \d+ days?)\b/);
      }
    }
    await page.screenshot({ path: join(ARTIFACTS, 'school-compliance-zh.png'), fullPage: true });
    await open('/console/school.html?id=1640105005&lang=en', page);
    const en = await api('/api/v1/schools/1640105005/compliance');
    const first = en.judgements[0];
    expect(await page.locator(`#compliance tr[data-rule="${first.rule}"] td.source`).innerText()).to.equal(first.source);
    expect(await page.locator(`#compliance tr[data-rule="${first.rule}"] td.window`).innerText()).to.equal(first.window.description);
    await page.close();
  });

  it('the overview calls online now "当前在线" with a tooltip on the 15-minute window, beside the school-hours online rate of 7 and 30 days', async () => {
    const page = await open('/?region=640000');
    const cov = await api('/api/v1/coverage?level=province&code=640000');
    expect(await page.locator('#kpi-share dt').innerText()).to.contain('当前在线');
    const tip = await page.locator('#kpi-share').getAttribute('title');
    expect(tip).to.contain('15 分钟').and.to.contain('不是接入率');
    for (const d of [7, 30]) {
      const rate = cov.schoolHoursOnline.find((r: { days: number }) => r.days === d);
      expect(await page.locator(`#kpi-hours${d} dt`).innerText()).to.contain(`上学时段在线率（${d} 天）`);
      expect(await page.locator(`#kpi-hours${d}`).getAttribute('title'), 'the tooltip, also when there is no rate yet, in Chinese').to.match(CJK).and.not.to.match(/school hours/);
      const shown = await page.locator(`#kpi-hours${d} dd`).innerText();
      if (rate.onlinePct === null) expect(shown).to.equal('无数据');
      else expect(shown).to.equal(new Intl.NumberFormat('zh-CN', { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(rate.onlinePct / 100));
    }
    expect(await page.locator('#children-table thead').innerText()).to.contain('上学时段在线率（7 天）');
    await page.close();
  });

  it('a cell of schools on the county map is shaded by its online share (one offline of 100 is green), and count labels never overlap', async () => {
    const page = await open('/');
    const r = (await page.evaluate(`(async () => {
      const m = await import('/console/js/points.js');
      const c = document.createElement('canvas');
      c.width = 200;
      c.height = 100;
      const ctx = c.getContext('2d');
      const at = { 1: [50, 50], 2: [150, 50], 3: [152, 52] };
      const labels = m.drawClusters(ctx, [[1, 0, 100, 99, 1, 0], [2, 0, 100, 10, 90, 0], [3, 0, 50, 50, 0, 0]], (lon) => at[lon], []);
      const px = (x, y) => Array.from(ctx.getImageData(x, y, 1, 1).data.slice(0, 3)).join(',');
      return { mostlyOnline: px(50, 50), mostlyOffline: px(138, 50), labels };
    })()`)) as { mostlyOnline: string; mostlyOffline: string; labels: number };
    expect(r.mostlyOnline).to.equal('26,127,55');
    expect(r.mostlyOffline).to.equal('207,34,46');
    // Three cells, two of them on top of each other: two labels.
    expect(r.labels).to.equal(2);
    await page.close();
  });

  it('kiosk mode hides the navigation, carries kiosk and refresh on its links, and reloads the page by itself', async () => {
    const page = await context.newPage();
    await page.clock.install();
    await open('/?kiosk=1&refresh=60', page);
    expect(await page.locator('header nav').isVisible()).to.equal(false);
    expect(await page.locator('#refresh-stamp').innerText()).to.contain('每 60 秒自动刷新');
    const link = await page.locator('#children-table a').first().getAttribute('href');
    expect(link).to.contain('kiosk=1').and.to.contain('refresh=60');
    const reloaded = page.waitForEvent('load');
    await page.clock.runFor(61_000);
    await reloaded;
    await page.waitForSelector('main[aria-busy="false"]');
    expect(page.url()).to.contain('kiosk=1');
    await page.close();
  });

  it('every page has a favicon the collector serves', async () => {
    const page = await open('/console/offline.html');
    const icon = await page.locator('link[rel="icon"]').getAttribute('href');
    const res = await fetch(`${h.base}${icon}`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^image\/svg\+xml/);
    expect(await res.text()).to.match(/^<svg /);
    await page.close();
  });

  it('on a 390 px phone the offline list, the overview and the map fit the screen: nothing overflows horizontally', async () => {
    const page = await context.newPage();
    await page.setViewportSize({ width: 390, height: 844 });
    for (const path of ['/console/offline.html', '/', '/console/map.html', '/console/map.html?region=640000']) {
      await open(path, page);
      const over = await page.evaluate(() => {
        const w = document.documentElement.clientWidth;
        const wide = [...document.querySelectorAll('main *')].filter((e) => e.getBoundingClientRect().right > w + 1 && !e.closest('.chart, .u-wrap')).map((e) => `${e.tagName}.${e.className}#${e.id}`);
        return { doc: document.documentElement.scrollWidth, w, wide: wide.slice(0, 5) };
      });
      expect(over.wide, path).to.deep.equal([]);
      expect(over.doc, `${path} scrollWidth`).to.be.at.most(over.w);
      if (path === '/console/offline.html') {
        // Each school is a card whose cells say what they are.
        expect(await page.locator('#offline-table tbody tr').first().locator('td[data-label]').first().evaluate((e) => getComputedStyle(e, '::before').content)).to.contain('区域');
        await page.screenshot({ path: join(ARTIFACTS, 'offline-phone.png'), fullPage: true });
      }
    }
    await page.close();
  });

  it('no page raised a script error', () => {
    expect(pageErrors).to.deep.equal([]);
  });
});
