// Time-series charts with uPlot (served by the collector from node_modules). Times come in ms; labels,
// axis ticks and the legend use the chosen locale.
import uPlot from '/console/vendor/uplot.esm.js';
import { el, fmt, lang, t } from './common.js';

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];
const DASHES = [[], [6, 3], [2, 2], [8, 3, 2, 3]];

/**
 * A chart in a <figure>: `series` = [{ label, values: [[tMs, v], …] }] joined on time. With no data it
 * says so instead of drawing empty axes.
 */
export function timeChart({ title, series, yLabel, width = 520, height = 220, format = (v) => fmt.n(v, 1) }) {
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
  const tickFmt = new Intl.DateTimeFormat(lang, { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  const opts = {
    width,
    height,
    series: [
      { label: '', value: (_u, v) => (v == null ? '—' : fmt.date(new Date(v * 1000).toISOString())) },
      ...series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length], dash: DASHES[i % DASHES.length], width: 1.5, spanGaps: false, value: (_u, v) => (v == null ? '—' : format(v)) })),
    ],
    axes: [
      { space: 110, values: (_u, ticks) => ticks.map((v) => tickFmt.format(new Date(v * 1000))) },
      { label: yLabel, values: (_u, ticks) => ticks.map((v) => format(v)), size: 70 },
    ],
    scales: { x: { time: true } },
  };
  const box = el('div', { class: 'plot', role: 'img', 'aria-label': `${title}: ${series.map((s) => s.label).join(', ')}` });
  fig.append(box);
  // uPlot measures its container: draw once the figure is in the document.
  queueMicrotask(() => new uPlot(opts, data, box));
  return fig;
}
