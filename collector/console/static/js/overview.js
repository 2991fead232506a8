// Overview: a region's coverage (national by default), its history, and its children as a sortable
// table; every name drills down (province → city → county → schools → school page).
import { api, bars, breadcrumbs, el, fmt, header, href, kindsText, levelOfTrail, mainArea, pager, param, setState, shareCell, showError, sortableTable, statusBadge, t, td } from './common.js';
import { timeChart } from './chart.js';
import { noteText } from './notes.js';

const TIER_KEYS = ['1000', '100', '20', '2', 'lt2'];
const state = { region: param('region', '000000'), sort: param('sort', ''), dir: param('dir', 'asc'), range: param('range', '7d'), q: param('q', ''), page: Number(param('page', '1')) || 1 };

function save() {
  setState({ region: state.region === '000000' ? undefined : state.region, sort: state.sort || undefined, dir: state.sort ? state.dir : undefined, range: state.range === '7d' ? undefined : state.range, q: state.q || undefined, page: state.q && state.page > 1 ? state.page : undefined });
}

async function main() {
  header('overview', state.region);
  const main = mainArea();
  try {
    const { trail } = await api(`/api/v1/console/trail/${state.region}`);
    const level = levelOfTrail(trail);
    const cov = await api(`/api/v1/coverage?level=${level}${level === 'national' ? '' : `&code=${state.region}`}`);
    const title = level === 'national' ? t('national') : cov.name;
    main.append(breadcrumbs(trail), el('h1', { id: 'region-name' }, title), el('p', { class: 'note' }, t('asOf', { t: fmt.date(cov.asOf) })));
    main.append(kpis(cov));
    const row = el('div', { class: 'row' });
    row.append(
      bars(t('tiers'), TIER_KEYS.map((k) => ({ label: k === 'lt2' ? t('tierLt2') : t('tierLabel', { n: k }), value: cov.tiers[k] ?? 0 })), cov.registered, t('tierSource', { measured: fmt.n(cov.tierSource.measured), contracted: fmt.n(cov.tierSource.contracted) })),
      bars(t('links'), Object.entries(cov.links).filter(([, n]) => n > 0).map(([k, n]) => ({ label: t(`link.${k}`), value: n })), cov.registered),
    );
    main.append(row);
    main.append(await historySection(level));
    main.append(search());
    if (state.q) main.append(await searchResults());
    main.append(childrenTable(cov, level));
  } catch (e) {
    showError(main, e);
  } finally {
    main.setAttribute('aria-busy', 'false');
  }
}

function kpis(cov) {
  // `tip`: the full explanation as tooltip; `short`: a few words under the number, so nobody needs to hover to read it right.
  const item = (id, label, value, extra, tip, short) => el('div', { class: 'kpi', id, title: tip }, el('dt', {}, label, tip ? el('span', { class: 'tip', 'aria-hidden': 'true' }, ' ⓘ') : null), el('dd', {}, value, extra ?? ''), short ? el('p', { class: 'kpi-note note' }, short) : null);
  const grade = cov.onlineShare >= 0.95 ? 'good' : cov.onlineShare >= 0.8 ? 'warn' : 'bad';
  const hours = (d) => {
    const r = cov.schoolHoursOnline?.find((x) => x.days === d);
    return item(`kpi-hours${d}`, t('hoursRate', { d }), r?.onlinePct == null ? t('none') : fmt.pct(r.onlinePct / 100), null, r?.onlinePct == null ? (noteText(r?.reason) || t('hoursTip')) : t('hoursTip'), t('hoursShort'));
  };
  return el('dl', { class: 'kpis' },
    item('kpi-share', t('onlineShare'), el('span', { class: `share-${grade}` }, fmt.pct(cov.onlineShare)), el('span', { class: 'sr-only' }, ` (${t(grade)})`), t('onlineNowTip', { m: cov.onlineWindowMin ?? 15 }), t('onlineNowShort', { m: cov.onlineWindowMin ?? 15 })),
    hours(7),
    hours(30),
    item('kpi-registered', t('registered'), fmt.n(cov.registered)),
    item('kpi-online', t('onlineNow'), fmt.n(cov.online)),
    item('kpi-offline', t('offline_'), fmt.n(cov.offline)),
    item('kpi-never', t('neverSeen'), fmt.n(cov.neverSeen)),
    item('kpi-satellite', t('satelliteShare'), `${fmt.pct(cov.satelliteShare)} (${fmt.n(cov.satellite)})`));
}

async function historySection(level) {
  const sec = el('section', { class: 'card', id: 'history' }, el('h2', {}, t('history')));
  const ranges = ['24h', '7d', '30d'];
  sec.append(el('div', { class: 'seg', role: 'group', 'aria-label': t('history') }, ranges.map((r) =>
    el('a', { href: href('/', { region: state.region === '000000' ? undefined : state.region, range: r === '7d' ? undefined : r }), 'aria-current': r === state.range ? 'true' : undefined }, t(`range${r}`)))));
  try {
    const h = await api(`/api/v1/console/history?region=${state.region}&range=${encodeURIComponent(state.range)}`);
    const col = (name) => h.columns.indexOf(name);
    const series = (name) => h.values.map((v) => [v[0], v[col(name)]]);
    // A share and counts are two charts: one axis never mixes per-cent and schools.
    sec.append(el('div', { class: 'charts' },
      timeChart({ title: `${t('onlineShare')} (%)`, series: [{ label: t('onlineShare'), kind: 'share', values: series('online_pct') }], range: [0, 100], format: (v) => `${fmt.n(v, 1)} %`, width: 600 }),
      timeChart({ title: `${t('onlineNow')} / ${t('offline_')} (${t('schoolUnit')})`, series: [
        { label: t('onlineNow'), kind: 'online', values: series('online') },
        { label: t('offline_'), kind: 'offline', values: series('offline') },
      ], format: (v) => fmt.n(v, 0), width: 600 })));
  } catch (e) {
    showError(sec, e);
  }
  return sec;
}

function search() {
  const input = el('input', { type: 'search', id: 'school-search', name: 'q', value: state.q, placeholder: t('searchPlaceholder'), 'aria-label': t('search') });
  return el('form', { class: 'search', role: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    location.assign(href('/', { region: state.region === '000000' ? undefined : state.region, q: input.value.trim() || undefined }));
  } }, el('label', { for: 'school-search' }, t('search')), ' ', input, ' ', el('button', { type: 'submit' }, t('search')));
}

async function searchResults() {
  const r = await api(`/api/v1/console/schools?region=${state.region}&q=${encodeURIComponent(state.q)}&page=${state.page}&pageSize=20`);
  return el('section', { class: 'card', id: 'search-results' },
    el('h2', {}, `${t('search')}: ${state.q}`),
    el('table', { class: 'grid' }, el('thead', {}, el('tr', {}, [t('name'), t('code'), t('status'), t('linkType'), t('region'), t('lastReport'), t('reportedBy')].map((c) => el('th', { scope: 'col' }, c)))),
      el('tbody', {}, r.items.map((s) => el('tr', {}, el('td', {}, el('a', { href: href('/console/school.html', { id: s.id }) }, s.name)), td(s.id), el('td', {}, statusBadge(s.status)), td(t(`link.${s.linkType}`)), td(`${s.city.name} ${s.county.name}`), td(fmt.date(s.lastReportAt)), td(kindsText(s.agents)))))),
    pager(r, (p) => href('/', { region: state.region === '000000' ? undefined : state.region, q: state.q, page: p })));
}

const hoursPct = (r, d) => r.schoolHoursOnline?.find((x) => x.days === d)?.onlinePct ?? null;

function childrenTable(cov, level) {
  const schools = level === 'county';
  const onSort = (key, dir) => {
    state.sort = key;
    state.dir = dir;
    save();
    document.getElementById('children').replaceWith(childrenTable(cov, level));
    document.querySelector(`#children button[data-key="${key}"]`)?.focus();
  };
  const nameCell = (r) => el('td', {}, el('a', { href: schools ? href('/console/school.html', { id: r.code }) : href('/', { region: r.code }) }, r.name));
  const cols = schools
    ? [
        { key: 'name', label: t('name'), value: (r) => r.name, cell: nameCell },
        { key: 'code', label: t('code'), value: (r) => r.code, cell: (r) => td(r.code) },
        { key: 'status', label: t('status'), value: (r) => r.status, cell: (r) => el('td', {}, statusBadge(r.status)) },
        { key: 'link', label: t('linkType'), value: (r) => r.linkType, cell: (r) => td(t(`link.${r.linkType}`)) },
        { key: 'contracted', label: t('contracted'), num: true, value: (r) => r.contractedMbps, cell: (r) => td(fmt.n(r.contractedMbps), 'num') },
        { key: 'last', label: t('lastReport'), value: (r) => r.lastReportAt, cell: (r) => td(fmt.date(r.lastReportAt)) },
      ]
    : [
        { key: 'name', label: t('name'), value: (r) => r.name, cell: nameCell },
        { key: 'registered', label: t('registered'), num: true, value: (r) => r.registered, cell: (r) => td(fmt.n(r.registered), 'num') },
        { key: 'online', label: t('onlineNow'), num: true, value: (r) => r.online, cell: (r) => td(fmt.n(r.online), 'num') },
        { key: 'offline', label: t('offline_'), num: true, value: (r) => r.offline, cell: (r) => td(fmt.n(r.offline), 'num') },
        { key: 'never', label: t('neverSeen'), num: true, value: (r) => r.neverSeen, cell: (r) => td(fmt.n(r.neverSeen), 'num') },
        { key: 'share', label: t('onlineShare'), num: true, value: (r) => r.onlineShare, cell: (r) => shareCell(r.onlineShare, r.registered) },
        { key: 'hours7', label: t('hoursRate', { d: 7 }), num: true, value: (r) => hoursPct(r, 7), cell: (r) => td(hoursPct(r, 7) == null ? t('none') : fmt.pct(hoursPct(r, 7) / 100), 'num') },
        { key: 'satellite', label: t('satelliteShare'), num: true, value: (r) => r.satelliteShare, cell: (r) => td(fmt.pct(r.satelliteShare), 'num') },
      ];
  const table = sortableTable({ id: 'children-table', caption: schools ? t('schools') : t('children'), cols, rows: cov.children, sort: state.sort, dir: state.dir, onSort });
  return el('section', { class: 'card', id: 'children' }, el('h2', {}, schools ? t('schools') : t('children')), table);
}

main();
