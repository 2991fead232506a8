// National overview on a hub: the nation, a province, a city or a county from the provinces' roll-ups:
// counts, tiers, links, history, and the regions below as a sortable table; a stale province is marked
// "stale since <as-of>" everywhere and summed with its last known figures. A county's schools are on
// its province's console (a link), never on the hub.
import { api, bars, breadcrumbs, el, fmt, href, levelOfTrail, mainArea, param, setState, shareCell, showError, sortableTable, t, td } from './common.js';
import { timeChart } from './chart.js';
import { freshBadge, hubHeader } from './national-common.js';

const TIER_KEYS = ['1000', '100', '20', '2', 'lt2'];
const state = { region: param('region', '000000'), sort: param('sort', ''), dir: param('dir', 'asc'), range: param('range', '7d') };
const regionQ = () => (state.region === '000000' ? undefined : state.region);

function save() {
  setState({ region: regionQ(), sort: state.sort || undefined, dir: state.sort ? state.dir : undefined, range: state.range === '7d' ? undefined : state.range });
}

async function main() {
  hubHeader('overview', state.region);
  const main = mainArea();
  try {
    const tr = await api(`/api/v1/console/trail/${state.region}`);
    const level = levelOfTrail(tr.trail);
    const cov = await api(`/api/v1/coverage?level=${level}${level === 'national' ? '' : `&code=${state.region}`}`);
    main.append(breadcrumbs(tr.trail), el('h1', { id: 'region-name' }, level === 'national' ? t('national') : cov.name),
      el('p', { class: 'note' }, t('asOf', { t: fmt.date(cov.asOf) }), ' ', freshBadge(cov)), staleNote(cov, level));
    main.append(kpis(cov, level));
    main.append(el('div', { class: 'row' },
      bars(t('tiers'), TIER_KEYS.map((k) => ({ label: k === 'lt2' ? t('tierLt2') : t('tierLabel', { n: k }), value: cov.tiers[k] ?? 0 })), cov.registered, t('tierSource', { measured: fmt.n(cov.tierSource.measured), contracted: fmt.n(cov.tierSource.contracted) })),
      bars(t('links'), Object.entries(cov.links).filter(([, n]) => n > 0).map(([k, n]) => ({ label: t(`link.${k}`), value: n })), cov.registered)));
    if (level === 'national') main.append(await alertsSection(), await feedsSection());
    main.append(await historySection(level));
    if (level === 'county') main.append(schoolsLink(cov));
    else main.append(childrenTable(cov));
    main.append(el('p', { class: 'note', id: 'hub-note' }, t('hubNote')));
  } catch (e) {
    showError(main, e);
  } finally {
    main.setAttribute('aria-busy', 'false');
  }
}

function staleNote(cov, level) {
  if (level === 'national') {
    if (!cov.staleProvinces?.length) return null;
    return el('div', { class: 'stale-banner', id: 'stale-banner', role: 'status' },
      t('staleBanner', { n: fmt.n(cov.staleProvinces.length), m: fmt.n(Math.round(cov.staleAfterMs / 60000)) }),
      el('ul', {}, cov.staleProvinces.map((p) => el('li', { 'data-code': p.code }, el('a', { href: href('/', { region: p.code }) }, p.name), ' — ', t('staleSince', { t: fmt.date(p.asOf) })))));
  }
  if (!cov.stale) return null;
  return el('div', { class: 'stale-banner', id: 'stale-banner', role: 'status' }, t('staleRegion', { t: fmt.date(cov.asOf), r: fmt.date(cov.receivedAt) }));
}

function kpis(cov, level) {
  const item = (id, label, value, tip, short) => el('div', { class: 'kpi', id, title: tip }, el('dt', {}, label), el('dd', {}, value), short ? el('p', { class: 'kpi-note note' }, short) : null);
  const grade = cov.onlineShare >= 0.95 ? 'good' : cov.onlineShare >= 0.8 ? 'warn' : 'bad';
  const h = cov.schoolHoursOnline?.[0];
  return el('dl', { class: 'kpis' },
    item('kpi-share', t('onlineShare'), el('span', { class: `share-${grade}` }, fmt.pct(cov.onlineShare)), t('onlineNowTip', { m: 15 }), t('onlineNowShort', { m: 15 })),
    item('kpi-hours7', t('hoursRate', { d: 7 }), h?.onlinePct == null ? t('none') : fmt.pct(h.onlinePct / 100), h?.reason ?? t('hoursTip'), level === 'national' ? t('hoursNational') : t('hoursShort')),
    item('kpi-registered', t('registered'), fmt.n(cov.registered)),
    item('kpi-online', t('onlineNow'), fmt.n(cov.online)),
    item('kpi-offline', t('offline_'), fmt.n(cov.offline)),
    item('kpi-never', t('neverSeen'), fmt.n(cov.neverSeen)),
    item('kpi-satellite', t('satelliteShare'), `${fmt.pct(cov.satelliteShare)} (${fmt.n(cov.satellite)})`),
    level === 'national' ? el('div', { class: 'kpi', id: 'kpi-provinces' }, el('dt', {}, t('provincesFeeds')), el('dd', {}, `${fmt.n(cov.provinces.reporting)} / ${fmt.n(cov.provinces.reporting + cov.provinces.stale)}`), el('p', { class: 'kpi-note note' }, t('provincesReporting', { r: fmt.n(cov.provinces.reporting), s: fmt.n(cov.provinces.stale) }))) : null);
}

/** The alert's text in the page's language, with times in the browser's zone (the API's summary is for Alertmanager). */
function alertText(x) {
  const f = x.facts ?? {};
  if (x.kind === 'province_stale') return t('alertStale', { t: fmt.date(f.receivedAt), a: fmt.date(f.asOf) });
  if (x.kind === 'province_online') return t('alertOnline', { v: fmt.pct(f.valuePct / 100), th: fmt.pct(f.thresholdPct / 100), m: fmt.n(f.forMin) });
  return x.summary;
}

async function alertsSection() {
  const sec = el('section', { class: 'card', id: 'alerts' }, el('h2', {}, t('nationalAlerts')));
  try {
    const a = await api('/api/v1/hub/alerts');
    if (!a.firing.length) sec.append(el('p', { class: 'note' }, t('noAlerts')));
    else sec.append(el('ul', { class: 'alerts-list' }, a.firing.map((x) => el('li', { 'data-kind': x.kind, 'data-region': x.labels.region },
      el('span', { class: `sev-${x.severity}` }, t(`kind.${x.kind}`)), ' ', el('a', { href: href('/', { region: x.labels.region }) }, x.labels.region_name), ': ',
      alertText(x), ' ', el('span', { class: 'note' }, `(${t('alertSince', { t: fmt.date(x.startsAt) })})`)))));
  } catch (e) {
    showError(sec, e);
  }
  return sec;
}

async function feedsSection() {
  const sec = el('section', { class: 'card', id: 'feeds' }, el('h2', {}, t('provincesFeeds')));
  const f = await api('/api/v1/hub/feeds');
  if (!f.provinces.length) {
    sec.append(el('p', { class: 'note' }, t('noProvinces')));
    return sec;
  }
  sec.append(el('table', { class: 'grid', id: 'feeds-table' }, el('caption', {}, t('provincesFeeds')),
    el('thead', {}, el('tr', {}, [t('name'), t('feedCollector'), t('feedAsOf'), t('feedReceived'), t('feedStatus'), t('provinceConsole')].map((c) => el('th', { scope: 'col' }, c)))),
    el('tbody', {}, f.provinces.map((p) => {
      const code = `${p.province}0000`;
      return el('tr', { class: p.stale ? 'stale' : '', 'data-code': code },
        el('td', {}, el('a', { href: href('/', { region: code }) }, p.name ?? code)), td(p.collector), td(fmt.date(p.asOf)), td(fmt.date(p.receivedAt)), el('td', {}, freshBadge(p)),
        el('td', {}, p.consoleUrl ? el('a', { href: p.consoleUrl, rel: 'noopener' }, t('consoleLink')) : '—'));
    }))));
  return sec;
}

async function historySection(level) {
  const sec = el('section', { class: 'card', id: 'history' }, el('h2', {}, t('history')));
  sec.append(el('div', { class: 'seg', role: 'group', 'aria-label': t('history') }, ['24h', '7d', '30d'].map((r) =>
    el('a', { href: href('/', { region: regionQ(), range: r === '7d' ? undefined : r }), 'aria-current': r === state.range ? 'true' : undefined }, t(`range${r}`)))));
  try {
    const h = await api(`/api/v1/console/history?region=${state.region}&range=${encodeURIComponent(state.range)}`);
    const col = (name) => h.columns.indexOf(name);
    const series = (name) => h.values.map((v) => [v[0], v[col(name)]]);
    sec.append(el('div', { class: 'charts' },
      timeChart({ title: `${t('onlineShare')} (%)`, series: [{ label: t('onlineShare'), kind: 'share', values: series('online_pct') }], range: [0, 100], format: (v) => `${fmt.n(v, 1)} %`, width: 600 }),
      timeChart({ title: `${t('onlineNow')} / ${t('offline_')} (${t('schoolUnit')})`, series: [
        { label: t('onlineNow'), kind: 'online', values: series('online') },
        { label: t('offline_'), kind: 'offline', values: series('offline') },
      ], format: (v) => fmt.n(v, 0), width: 600 })));
    if (level === 'national') sec.append(el('p', { class: 'note' }, t('historyCarried')));
  } catch (e) {
    showError(sec, e);
  }
  return sec;
}

function schoolsLink(cov) {
  return el('section', { class: 'card', id: 'schools' }, el('h2', {}, t('schools')), el('p', {}, t('provinceConsole'), ': ',
    cov.schoolsUrl ? el('a', { href: cov.schoolsUrl, id: 'province-console-link', rel: 'noopener' }, t('openProvinceConsole')) : '—'));
}

const hoursPct = (r) => r.schoolHoursOnline?.[0]?.onlinePct ?? null;

function childrenTable(cov) {
  const onSort = (key, dir) => {
    state.sort = key;
    state.dir = dir;
    save();
    document.getElementById('children').replaceWith(childrenTable(cov));
    document.querySelector(`#children button[data-key="${key}"]`)?.focus();
  };
  const cols = [
    { key: 'name', label: t('name'), value: (r) => r.name, cell: (r) => el('td', {}, el('a', { href: href('/', { region: r.code }) }, r.name)) },
    { key: 'registered', label: t('registered'), num: true, value: (r) => r.registered, cell: (r) => td(fmt.n(r.registered), 'num') },
    { key: 'online', label: t('onlineNow'), num: true, value: (r) => r.online, cell: (r) => td(fmt.n(r.online), 'num') },
    { key: 'offline', label: t('offline_'), num: true, value: (r) => r.offline, cell: (r) => td(fmt.n(r.offline), 'num') },
    { key: 'never', label: t('neverSeen'), num: true, value: (r) => r.neverSeen, cell: (r) => td(fmt.n(r.neverSeen), 'num') },
    { key: 'share', label: t('onlineShare'), num: true, value: (r) => r.onlineShare, cell: (r) => shareCell(r.onlineShare, r.registered) },
    { key: 'hours7', label: t('hoursRate', { d: 7 }), num: true, value: hoursPct, cell: (r) => td(hoursPct(r) == null ? t('none') : fmt.pct(hoursPct(r) / 100), 'num') },
    { key: 'fresh', label: t('feedStatus'), value: (r) => (r.stale ? 1 : 0), cell: (r) => el('td', {}, freshBadge(r)) },
  ];
  const table = sortableTable({ id: 'children-table', caption: t('children'), cols, rows: cov.children, sort: state.sort, dir: state.dir, onSort });
  return el('section', { class: 'card', id: 'children' }, el('h2', {}, t('children')), table);
}

main();
