// Offline schools: offline now, longest first, filterable by region and link type, with how long and
// the last known cause (the views' liveness, gaps and modem lock from InfluxDB).
import { api, el, fmt, header, href, kindsText, mainArea, pager, param, regionPicker, setState, showError, t } from './common.js';

const state = { region: param('region', '000000'), link: param('link', ''), page: Number(param('page', '1')) || 1 };
const q = (over = {}) => {
  const s = { ...state, ...over };
  return { region: s.region === '000000' ? undefined : s.region, link: s.link || undefined, page: s.page > 1 ? s.page : undefined };
};

export function causeText(i) {
  const parts = [t(`reason.${i.reason}`, { id: i.seenBy ?? '' })];
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
    const heads = [t('name'), t('region'), t('linkType'), t('offlineFor'), t('since'), t('lastReport'), t('cause'), t('reportedBy')];
    // data-label: on a phone each row is a card and each cell says what it is.
    const cell = (k, text, cls) => el('td', { class: cls, 'data-label': heads[k] }, text ?? '—');
    main.append(el('section', { class: 'card' }, el('table', { class: 'grid stack', id: 'offline-table' },
      el('caption', {}, t('results', { n: fmt.n(r.total) })),
      el('thead', {}, el('tr', {}, heads.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, r.items.map((i) => el('tr', { 'data-school': i.id },
        el('td', { class: 'school-name' }, el('a', { href: href('/console/school.html', { id: i.id }) }, i.name)), cell(1, `${i.city.name} ${i.county.name}`), cell(2, t(`link.${i.linkType}`)),
        cell(3, fmt.duration(i.offlineForS), 'num'), cell(4, fmt.date(i.since)), cell(5, fmt.date(i.lastReportAt)), cell(6, causeText(i), 'cause'), cell(7, kindsText(i.agents), 'kinds'))))),
      pager(r, (p) => href('/console/offline.html', q({ page: p })))));
  } catch (e) {
    showError(main, e);
  } finally {
    main.setAttribute('aria-busy', 'false');
  }
}

main();
