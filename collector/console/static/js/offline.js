// Offline schools: offline now, longest first, filterable by region and link type, with how long and
// the last known cause (the views' liveness, gaps and modem lock from InfluxDB).
import { api, el, fmt, header, href, mainArea, pager, param, regionPicker, setState, showError, t, td } from './common.js';

const state = { region: param('region', '000000'), link: param('link', ''), page: Number(param('page', '1')) || 1 };
const q = (over = {}) => {
  const s = { ...state, ...over };
  return { region: s.region === '000000' ? undefined : s.region, link: s.link || undefined, page: s.page > 1 ? s.page : undefined };
};

export function causeText(i) {
  const parts = [t(`reason.${i.reason}`)];
  const ev = i.evidence;
  if (ev?.modemUnlockedSince) parts.push(t('modemUnlocked', { t: fmt.date(ev.modemUnlockedSince) }));
  if (ev?.lastGap) parts.push(t('lastGap', { cause: t(`cause.${ev.lastGap.cause}`), t: fmt.date(ev.lastGap.at), d: fmt.duration(ev.lastGap.durationS) }));
  return parts.join(' · ');
}

async function main() {
  header('offline', state.region);
  const main = mainArea();
  try {
    setState(q());
    const [meta, { trail }] = await Promise.all([api('/api/v1/console/meta'), api(`/api/v1/console/trail/${state.region}`)]);
    main.append(el('h1', {}, t('offline')), await regionPicker(trail, '/console/offline.html', { link: state.link || undefined }));
    const sel = el('select', { id: 'link-filter', name: 'link' }, el('option', { value: '' }, t('allLinks')), meta.linkTypes.map((l) => el('option', { value: l, selected: l === state.link }, t(`link.${l}`))));
    main.append(el('form', { class: 'filters', onsubmit: (ev) => {
      ev.preventDefault();
      location.assign(href('/console/offline.html', q({ link: sel.value, page: 1 })));
    } }, el('label', {}, t('linkType'), sel), el('button', { type: 'submit' }, t('filter'))));
    const r = await api(`/api/v1/console/offline?region=${state.region}${state.link ? `&link=${state.link}` : ''}&page=${state.page}&pageSize=50`);
    main.append(el('p', { class: 'note' }, t('asOf', { t: fmt.date(r.asOf) })));
    main.append(el('section', { class: 'card' }, el('table', { class: 'grid', id: 'offline-table' },
      el('caption', {}, t('results', { n: fmt.n(r.total) })),
      el('thead', {}, el('tr', {}, [t('name'), t('region'), t('linkType'), t('offlineFor'), t('since'), t('lastReport'), t('cause')].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, r.items.map((i) => el('tr', { 'data-school': i.id },
        el('td', {}, el('a', { href: href('/console/school.html', { id: i.id }) }, i.name)), td(`${i.city.name} ${i.county.name}`), td(t(`link.${i.linkType}`)),
        td(fmt.duration(i.offlineForS), 'num'), td(fmt.date(i.since)), td(fmt.date(i.lastReportAt)), td(causeText(i), 'cause'))))),
      pager(r, (p) => href('/console/offline.html', q({ page: p })))));
  } catch (e) {
    showError(main, e);
  } finally {
    main.setAttribute('aria-busy', 'false');
  }
}

main();
