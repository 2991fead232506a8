// Time-series charts with uPlot (served by the collector from node_modules). Times come in ms; labels,
// axis ticks and the legend use the chosen locale and the browser's time zone. The time axis picks its
// own step for the span shown (minutes to months), so one bucket reads as one date, not a run of
// months; the value axis is as wide as its longest label; one chart has one unit (a share and a count
// never share an axis); online is green and offline red, as on the badges.
import uPlot from '/console/vendor/uplot.esm.js';
import { el, fmt, lang, t } from './common.js';

/** The font of chart text: CJK first-class, with fonts that carry Extension A (湖㳇镇) before the rest. */
export const CHART_FONT = '12px system-ui, "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", SimSun, "WenQuanYi Micro Hei", sans-serif';
/** Colours by meaning, matching the status badges; anything else takes the palette in turn. */
export const KIND_COLORS = { online: '#1a7f37', offline: '#cf222e', never_seen: '#6e7781', share: '#0969da' };
const PALETTE = ['#0969da', '#8250df', '#bc4c00', '#1b7c83', '#9a6700', '#bf3989', '#57606a', '#0550ae'];
const DASHES = [[], [6, 3], [2, 2], [8, 3, 2, 3]];

const MIN = 60;
const HOUR = 3600;
const DAY = 86400;
/** Steps the time axis may take, seconds. */
export const TIME_STEPS = [MIN, 5 * MIN, 10 * MIN, 15 * MIN, 30 * MIN, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY];

/** Seconds east of UTC of the browser's zone at `tS`. */
const zoneOffsetS = (tS) => -new Date(tS * 1000).getTimezoneOffset() * 60;

/**
 * Ticks for a time axis over [minS, maxS] seconds, about one per `spacePx` of `widthPx`, on round local
 * times: `{ step, ticks }`. A span of zero (one bucket) gives that one time.
 */
export function timeTicks(minS, maxS, widthPx, spacePx = 110) {
  if (!(maxS > minS)) return { step: 0, ticks: [minS] };
  const want = Math.max(2, Math.floor(widthPx / spacePx));
  const step = TIME_STEPS.find((s) => (maxS - minS) / s <= want) ?? TIME_STEPS[TIME_STEPS.length - 1];
  const off = zoneOffsetS(minS);
  const ticks = [];
  for (let x = Math.ceil((minS + off) / step) * step - off; x <= maxS; x += step) ticks.push(x);
  return { step, ticks };
}

const dayFmt = new Intl.DateTimeFormat(lang, { month: 'numeric', day: 'numeric' });
const timeFmt = new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const fullFmt = new Intl.DateTimeFormat(lang, { year: 'numeric', month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

/** Tick labels: dates for day steps, times within a day (with the date where a day begins). */
export function timeLabels(ticks, step) {
  if (step === 0) return ticks.map((x) => fullFmt.format(new Date(x * 1000)));
  return ticks.map((x, i) => {
    const d = new Date(x * 1000);
    if (step >= DAY) return dayFmt.format(d);
    const midnight = (x + zoneOffsetS(x)) % DAY === 0;
    return i === 0 || midnight ? `${dayFmt.format(d)} ${timeFmt.format(d)}` : timeFmt.format(d);
  });
}

let measurer;
/** Width in CSS pixels of the widest of `labels` in the chart font. */
export function labelWidth(labels) {
  measurer ??= document.createElement('canvas').getContext('2d');
  measurer.font = CHART_FONT;
  return Math.max(0, ...labels.map((s) => measurer.measureText(String(s)).width));
}

/**
 * A chart in a <figure>: `series` = [{ label, values: [[tMs, v], …], kind? }] joined on time, all in one
 * unit (`format` formats it; `range` fixes the value axis, e.g. [0, 100] for a per-cent). With no data
 * it says so instead of drawing empty axes.
 */
export function timeChart({ title, series, yLabel, width = 520, height = 220, format = (v) => fmt.n(v, 1), range }) {
  const fig = el('figure', { class: 'chart' }, el('figcaption', {}, title));
  const times = [...new Set(series.flatMap((s) => s.values.map((p) => p[0])))].sort((a, b) => a - b);
  if (!times.length) {
    fig.append(el('p', { class: 'note' }, t('noData')));
    return fig;
  }
  const index = new Map(times.map((tm, i) => [tm, i]));
  const data = [times.map((tm) => tm / 1000)];
  for (const s of series) {
    const col = new Array(times.length).fill(null);
    for (const [tm, v] of s.values) col[index.get(tm)] = v;
    data.push(col);
  }
  const single = times.length === 1;
  // What the axes show, on the figure (data-x-ticks, data-y-ticks, data-y-axis-px): the canvas has no text to read.
  const record = (key, v) => {
    fig.dataset[key] = typeof v === 'number' ? String(v) : JSON.stringify(v);
    return v;
  };
  let step = 0;
  let other = 0;
  const opts = {
    width,
    height,
    series: [
      { label: t('time'), value: (_u, v) => (v == null ? '—' : fmt.date(new Date(v * 1000).toISOString())) },
      ...series.map((s) => {
        const stroke = KIND_COLORS[s.kind] ?? PALETTE[other++ % PALETTE.length];
        return { label: s.label, stroke, dash: s.kind ? [] : DASHES[(other - 1) % DASHES.length], width: 1.5, spanGaps: false, points: { show: times.length < 3, size: 7, fill: stroke }, value: (_u, v) => (v == null ? '—' : format(v)) };
      }),
    ],
    axes: [
      {
        font: CHART_FONT,
        splits: (u, _i, min, max) => {
          const r = timeTicks(min, max, u.bbox.width / devicePixelRatio);
          step = single ? 0 : r.step;
          return single ? [data[0][0]] : r.ticks;
        },
        values: (_u, ticks) => record('xTicks', timeLabels(ticks, step)),
      },
      {
        font: CHART_FONT,
        label: yLabel,
        labelFont: CHART_FONT,
        values: (_u, ticks) => record('yTicks', ticks.map((v) => format(v))),
        // As wide as the longest label plus the tick and gap: "100 Mbit/s" is never cut to "00 Mbit/s".
        size: (_u, values) => record('yAxisPx', Math.ceil(labelWidth(values ?? []) + 22)),
      },
    ],
    scales: {
      x: { time: true, range: (_u, min, max) => (max > min ? [min, max] : [min - HOUR, max + HOUR]) },
      ...(range ? { y: { range: () => range } } : {}),
    },
  };
  const box = el('div', { class: 'plot', role: 'img', 'aria-label': `${title}: ${series.map((s) => s.label).join(', ')}` });
  fig.append(box);
  // uPlot measures its container: draw once the figure is in the document; never wider than it.
  queueMicrotask(() => {
    opts.width = Math.max(240, Math.min(width, fig.clientWidth || width));
    new uPlot(opts, data, box);
  });
  return fig;
}
