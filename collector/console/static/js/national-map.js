// National map on a hub: the tile-grid cartogram (tilegrid.js: no borders) of the provinces at national
// level and of the regions below inside a province or city, shaded by online now or the 7-day
// school-hours rate from the roll-ups. A stale province's tiles keep their last known shade and say
// "stale · as of <time>" with a dashed outline: never painted as zero online. A county has no points
// here (the hub has no schools): its tile leads to the overview, which links the province's console.
import { api, el, fmt, href, lang, levelOfTrail, mainArea, param, setState, showError, t, breadcrumbs } from './common.js';
import { BINS, binOf, columnsFor, layout, NATIONAL_COLUMNS, PROVINCE_TILES, shortName } from './tilegrid.js';
import { hubHeader } from './national-common.js';

const state = { region: param('region', '000000'), shade: param('shade', 'online') };
const query = (over = {}) => {
  const s = { ...state, ...over };
  return { region: s.region === '000000' ? undefined : s.region, shade: s.shade === 'online' ? undefined : s.shade };
};
/** A compact as-of time for a tile (month, day, hour and minute); the tooltip has the full one. */
const shortTime = (iso) => (iso ? new Intl.DateTimeFormat(lang, { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(iso)) : '—');
const SYMBOL = { b4: '✓', b3: '✓', b2: '!', b1: '✗', b0: '✗', nodata: '–' };

function measure(child) {
  if (state.shade === 'hours7') {
    const pct = child.schoolHoursOnline?.[0]?.onlinePct;
    return pct == null ? { share: null, text: t('none'), note: child.schoolHoursOnline?.[0]?.reason } : { share: pct / 100, text: fmt.pct(pct / 100) };
  }
  return child.registered ? { share: child.onlineShare, text: fmt.pct(child.onlineShare) } : { share: null, text: t('none') };
}

function tile(child, level) {
  const m = measure(child);
  const bin = binOf(m.share);
  const name = level === 'national' ? shortName(child.code, child.name, lang) : child.name;
  const stale = child.stale ? t('staleTile', { t: fmt.date(child.asOf) }) : null;
  const staleShort = child.stale ? `${t('stale')} ${shortTime(child.asOf)}` : null;
  const tip = [child.name, `${t('registered')} ${fmt.n(child.registered)} · ${t('onlineNow')} ${fmt.n(child.online)} · ${t('offline_')} ${fmt.n(child.offline)} · ${t('neverSeen')} ${fmt.n(child.neverSeen)}`, stale, m.note].filter(Boolean).join('\n');
  const target = child.level === 'county' ? href('/', { region: child.code }) : href('/console/national-map.html', query({ region: child.code }));
  return el('a', { class: `tile ${bin}${child.stale ? ' stale' : ''}`, href: target, 'data-code': child.code, 'data-bin': bin, 'data-stale': child.stale ? 'true' : 'false', title: tip },
    el('span', { class: 'tile-name' }, name),
    el('span', { class: 'tile-value' }, m.text, ' ', el('span', { 'aria-hidden': 'true' }, SYMBOL[bin])),
    stale ? el('span', { class: 'tile-stale' }, staleShort) : el('span', { class: 'tile-count' }, t('nSchools', { n: fmt.n(child.registered) })));
}

function legend() {
  const label = (i) => (i === 0 ? `≥ ${fmt.pct(BINS[0].min)}` : i === BINS.length - 1 ? `< ${fmt.pct(BINS[i - 1].min)}` : `${fmt.pct(BINS[i].min)} – ${fmt.pct(BINS[i - 1].min)}`);
  return el('div', { class: 'legend-box', id: 'map-legend' }, el('strong', {}, `${t('legend')}: ${shadeLabel(state.shade)}`),
    el('ul', { class: 'legend' }, BINS.map((b, i) => el('li', {}, el('span', { class: `swatch ${b.cls}`, 'aria-hidden': 'true' }), ` ${label(i)}`)),
      el('li', {}, el('span', { class: 'swatch nodata', 'aria-hidden': 'true' }), ` ${t('noRollup')}`),
      el('li', {}, el('span', { class: 'tile-stale' }, t('stale')), ` ${t('staleLegend')}`)));
}

const shadeLabel = (s) => (s === 'hours7' ? t('hoursRate', { d: 7 }) : t('onlineNowShare'));

function shadePicker() {
  const sel = el('select', { id: 'shade', name: 'shade' }, ['online', 'hours7'].map((o) => el('option', { value: o, selected: o === state.shade }, shadeLabel(o))));
  return el('form', { class: 'filters', onsubmit: (ev) => {
    ev.preventDefault();
    location.assign(href('/console/national-map.html', query({ shade: sel.value })));
  } }, el('label', {}, t('shadeBy'), sel), el('button', { type: 'submit' }, t('apply')));
}

async function main() {
  hubHeader('map', state.region);
  const main = mainArea();
  try {
    setState(query());
    const { trail } = await api(`/api/v1/console/trail/${state.region}`);
    let level = levelOfTrail(trail);
    // A county has no tiles below it on a hub: show its city's (or province's) grid.
    if (level === 'county') {
      state.region = trail[trail.length - 2]?.code ?? '000000';
      level = trail[trail.length - 2]?.level ?? 'national';
    }
    const cov = await api(`/api/v1/coverage?level=${level}${level === 'national' ? '' : `&code=${state.region}`}`);
    const columns = level === 'national' ? NATIONAL_COLUMNS : columnsFor(cov.children.length);
    const byCode = new Map(cov.children.map((c) => [c.code, c]));
    const grid = el('div', { class: `tilegrid ${level === 'national' ? 'national' : 'ordered'}`, id: 'tilegrid', role: 'list', 'aria-label': `${t('mapTitle')}: ${shadeLabel(state.shade)}`, style: `--cols:${columns}` },
      layout(cov.children.map((c) => c.code), level, columns).map((pos) => el('div', { role: 'listitem', class: 'tile-cell', style: `grid-column:${pos.col + 1};grid-row:${pos.row + 1}` }, tile(byCode.get(pos.code), level))));
    if (level === 'national') {
      for (const [code, [col, row, zh, en]] of Object.entries(PROVINCE_TILES)) {
        if (byCode.has(code)) continue;
        grid.append(el('div', { role: 'listitem', class: 'tile-cell', style: `grid-column:${col + 1};grid-row:${row + 1}` },
          el('span', { class: 'tile nodata', 'data-code': code, 'data-bin': 'nodata', title: t('noRollup') }, el('span', { class: 'tile-name' }, lang === 'en' ? en : zh), el('span', { class: 'tile-count' }, t('noRollupShort')))));
      }
    }
    main.append(el('h1', {}, t('mapTitle')), breadcrumbs(trail.slice(0, trail.findIndex((s) => s.code === state.region) + 1 || 1), '/console/national-map.html', { shade: query().shade }),
      shadePicker(), legend(), grid, el('p', { class: 'note', id: 'cartogram-note' }, level === 'national' ? t('cartogramNational') : t('cartogramOrdered')));
  } catch (e) {
    showError(main, e);
  } finally {
    main.setAttribute('aria-busy', 'false');
  }
}

main();
