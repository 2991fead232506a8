// Shared by every page: language, formatting, the JSON API, DOM building (text only, never HTML
// strings: names come from the registry and agents), the header, breadcrumbs and tables.
import { DICT, LANGS } from './i18n.js';

const params = new URLSearchParams(location.search);

/** The chosen language: ?lang=, else the last choice, else zh-CN. */
export const lang = (() => {
  const q = params.get('lang');
  if (q && LANGS.includes(q)) return q;
  const saved = globalThis.localStorage?.getItem('campuslink.lang');
  return saved && LANGS.includes(saved) ? saved : 'zh-CN';
})();
document.documentElement.lang = lang;

/**
 * A NOC wall: `?kiosk=1` hides the navigation and reloads the page every `refresh` seconds (default 60;
 * `?refresh=N` alone refreshes an ordinary page). 10 s to 1 h; links carry both on.
 */
export const kiosk = params.get('kiosk') === '1';
export const refreshS = (() => {
  const n = Number(params.get('refresh') ?? (kiosk ? 60 : 0));
  return Number.isFinite(n) && n > 0 ? Math.min(3600, Math.max(10, Math.round(n))) : 0;
})();

/** A text of the chosen language with {name} placeholders filled. */
export function t(key, vars = {}) {
  const s = DICT[lang][key] ?? DICT.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ''));
}

const nf = new Intl.NumberFormat(lang);
const pf = new Intl.NumberFormat(lang, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 });
const df = new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' });

export const fmt = {
  n: (x, digits) => (x == null || Number.isNaN(x) ? '—' : digits === undefined ? nf.format(x) : new Intl.NumberFormat(lang, { maximumFractionDigits: digits }).format(x)),
  pct: (share) => (share == null ? '—' : pf.format(share)),
  date: (iso) => (iso ? df.format(new Date(iso)) : '—'),
  bps: (x) => {
    if (x == null) return '—';
    const units = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s'];
    let i = 0;
    while (Math.abs(x) >= 1000 && i < units.length - 1) (x /= 1000), i++;
    return `${new Intl.NumberFormat(lang, { maximumFractionDigits: 1 }).format(x)} ${units[i]}`;
  },
  duration: (s) => {
    if (s == null) return '—';
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    const unit = (v, u) => new Intl.NumberFormat(lang, { style: 'unit', unit: u, unitDisplay: 'narrow' }).format(v);
    const parts = [];
    if (d) parts.push(unit(d, 'day'));
    if (h) parts.push(unit(h, 'hour'));
    if (!d) parts.push(unit(m, 'minute'));
    return parts.join(' ');
  },
};

/** A URL parameter of the page. */
export function param(name, fallback = undefined) {
  return params.get(name) ?? fallback;
}

/** A link to a console page carrying the chosen language when it is not the default. */
export function href(path, query = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  if (lang !== 'zh-CN') q.set('lang', lang);
  if (kiosk) q.set('kiosk', '1');
  if (refreshS) q.set('refresh', String(refreshS));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** Replaces the page's query (the URL carries the state) without reloading. */
export function setState(query) {
  history.replaceState(null, '', href(location.pathname, query));
}

/** GET JSON from the collector; throws with the catalogue's message on an error answer. */
export async function api(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body?.error?.message ?? `${res.status} ${res.statusText}`);
  return body;
}

/** Builds an element. `children` are nodes or strings (always text nodes). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}

/** The status of a school as a badge: a symbol and a word besides the colour. */
export function statusBadge(status) {
  const sym = { online: '●', offline: '■', never_seen: '○' }[status] ?? '?';
  return el('span', { class: `badge st-${status}` }, el('span', { 'aria-hidden': 'true' }, sym), ' ', t(`status.${status}`));
}

/** Which kinds of agent report a school (full, tiny, proxy with its id), from the console API's `agents`. */
export function kindsText(agents) {
  if (!agents || !agents.length) return '—';
  return agents.map((a) => (a.kind === 'proxy' ? t('kind.proxy', { id: a.agent }) : `${t(`kind.${a.kind}`)} ${a.agent}`)).join(', ');
}

/** Online share as a coloured cell: the value, a symbol and a word, so colour is never the only signal. */
export function shareCell(share, registered) {
  if (!registered) return el('td', { class: 'num share-none' }, t('none'));
  const grade = share >= 0.95 ? 'good' : share >= 0.8 ? 'warn' : 'bad';
  const sym = { good: '✓', warn: '!', bad: '✗' }[grade];
  return el('td', { class: `num share-${grade}`, 'data-grade': grade }, fmt.pct(share), ' ', el('span', { 'aria-hidden': 'true' }, sym), el('span', { class: 'sr-only' }, ` (${t(grade)})`));
}

/** The page header: title, navigation, language switch. `active` names the current page. */
export function header(active, regionCode) {
  const nav = [
    ['overview', '/'],
    ['map', '/console/map.html'],
    ['compliance', '/console/compliance.html'],
    ['offline', '/console/offline.html'],
    ['alerts', '/console/alerts.html'],
  ];
  const other = lang === 'zh-CN' ? 'en' : 'zh-CN';
  const switchLang = () => {
    localStorage.setItem('campuslink.lang', other);
    const q = new URLSearchParams(location.search);
    if (other === 'zh-CN') q.delete('lang');
    else q.set('lang', other);
    const s = q.toString();
    location.assign(s ? `${location.pathname}?${s}` : location.pathname);
  };
  const h = el(
    'header',
    { class: 'top' },
    el('a', { class: 'skip', href: '#main' }, t('skip')),
    el('span', { class: 'brand' }, t('appName')),
    el('nav', { 'aria-label': t('appName') }, el('ul', {}, nav.map(([k, p]) => el('li', {}, el('a', { href: href(p, regionCode && regionCode !== '000000' ? { region: regionCode } : {}), ...(k === active ? { 'aria-current': 'page' } : {}) }, t(k)))))),
    el('button', { type: 'button', class: 'lang', id: 'lang-switch', lang: other, 'aria-label': `${t('language')}: ${t('switchTo')}`, onclick: switchLang }, t('switchTo')),
  );
  document.body.prepend(h);
  document.title = `${t(active)} · ${t('appName')}`;
  if (kiosk) document.body.classList.add('kiosk');
  if (refreshS) autoRefresh(h);
}

/** Reloads the page every `refreshS` seconds (a whole reload: nothing piles up on a wall left on for weeks), saying when. */
function autoRefresh(h) {
  const at = new Date(Date.now() + refreshS * 1000);
  const stamp = new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(at);
  h.append(el('span', { class: 'kiosk-stamp', id: 'refresh-stamp', 'data-refresh-s': refreshS }, `${t('kioskRefresh', { s: refreshS })} · ${t('kioskNext', { t: stamp })}`));
  setTimeout(() => location.reload(), refreshS * 1000);
}

/** Breadcrumbs from a trail [{level, code, name}], every step a link to `page` at that region. */
export function breadcrumbs(trail, page = '/', extra = {}, last = undefined) {
  const items = trail.map((s, i) => {
    const name = s.level === 'national' ? t('national') : s.name;
    const isLast = i === trail.length - 1 && !last;
    return el('li', {}, isLast ? el('span', { 'aria-current': 'page' }, name) : el('a', { href: href(page, { ...extra, region: s.code === '000000' ? undefined : s.code }) }, name));
  });
  if (last) items.push(el('li', {}, el('span', { 'aria-current': 'page' }, last)));
  return el('nav', { class: 'crumbs', 'aria-label': t('breadcrumb') }, el('ol', {}, items));
}

/**
 * A table with sortable columns. `cols`: [{ key, label, num?, value(row), cell(row) → td }]. The sort
 * state is kept in the URL (`sort`, `dir`) through `onSort`.
 */
export function sortableTable({ caption, cols, rows, sort, dir = 'asc', onSort, id }) {
  const col = cols.find((c) => c.key === sort);
  const sorted = col ? [...rows].sort((a, b) => cmp(col.value(a), col.value(b)) * (dir === 'desc' ? -1 : 1)) : rows;
  const thead = el('thead', {}, el('tr', {}, cols.map((c) => {
    const state = c.key === sort ? (dir === 'desc' ? 'descending' : 'ascending') : 'none';
    const next = c.key === sort && dir === 'asc' ? 'desc' : 'asc';
    return el('th', { scope: 'col', 'aria-sort': state, class: c.num ? 'num' : '' },
      c.value ? el('button', { type: 'button', class: 'sort', 'data-key': c.key, title: t('sortBy', { col: c.label }), onclick: () => onSort(c.key, next) }, c.label, el('span', { 'aria-hidden': 'true' }, state === 'ascending' ? ' ▲' : state === 'descending' ? ' ▼' : ' ↕')) : c.label);
  })));
  const tbody = el('tbody', {}, sorted.map((r) => el('tr', {}, cols.map((c) => c.cell(r)))));
  return el('table', { class: 'grid', id }, caption ? el('caption', {}, caption) : null, thead, tbody);
}

function cmp(a, b) {
  if (a == null && b == null) return 0;
  if (a == null) return 1;
  if (b == null) return -1;
  return typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b), lang);
}

/** A table cell with text. */
export const td = (text, cls) => el('td', { class: cls }, text ?? '—');

/** Pager links for a page answer. */
export function pager(answer, link) {
  return el('nav', { class: 'pager', 'aria-label': t('page', { p: answer.page, n: answer.pages }) },
    answer.page > 1 ? el('a', { href: link(answer.page - 1), rel: 'prev' }, t('prev')) : el('span', { class: 'disabled' }, t('prev')),
    el('span', {}, ` ${t('page', { p: fmt.n(answer.page), n: fmt.n(answer.pages) })} · ${t('results', { n: fmt.n(answer.total) })} `),
    answer.page < answer.pages ? el('a', { href: link(answer.page + 1), rel: 'next' }, t('next')) : el('span', { class: 'disabled' }, t('next')));
}

/** Horizontal bars: [{label, value}] out of `total`, each labelled with count and share. */
export function bars(title, items, total, note) {
  return el('section', { class: 'card bars' }, el('h2', {}, title),
    el('ul', {}, items.map((i) => el('li', {},
      el('span', { class: 'bar-label' }, i.label),
      el('span', { class: 'bar', role: 'img', 'aria-label': `${i.label}: ${fmt.n(i.value)} (${fmt.pct(total ? i.value / total : 0)})` }, el('span', { class: 'bar-fill', style: `width:${total ? (100 * i.value) / total : 0}%` })),
      el('span', { class: 'bar-value num' }, `${fmt.n(i.value)} · ${fmt.pct(total ? i.value / total : 0)}`)))),
    note ? el('p', { class: 'note' }, note) : null);
}

/** Shows an error in the main area instead of a blank page. */
export function showError(main, e) {
  main.append(el('p', { class: 'error', role: 'alert' }, `${t('failed')}: ${e?.message ?? e}`));
}

/** The main element, emptied, with a polite live region for loading states. */
export function mainArea() {
  const main = document.getElementById('main');
  main.replaceChildren();
  return main;
}

export function levelOfTrail(trail) {
  return trail[trail.length - 1]?.level ?? 'national';
}

/** A judgement value or threshold: a number with its unit, or named values. */
export function val(v, unit) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return `${fmt.n(v, 2)} ${unit}`;
  return Object.entries(v).map(([k, x]) => `${DICT[lang][`field.${k}`] ?? k} ${x == null ? '—' : fmt.n(x, 1)}`).join(lang === 'zh-CN' ? '，' : ', ');
}

/**
 * A region picker: the breadcrumb up, and a select of the child regions down (none under a county).
 * Navigates to `page` with the chosen region and `extra` query.
 */
export async function regionPicker(trail, page, extra = {}) {
  const code = trail[trail.length - 1]?.code ?? '000000';
  const r = await api(code === '000000' ? '/api/v1/regions' : `/api/v1/regions/${code}`);
  const wrap = el('div', {}, breadcrumbs(trail, page, extra));
  if (r.childLevel !== 'school' && r.children.length) {
    const sel = el('select', { id: 'child-region', 'aria-label': t('region') }, el('option', { value: '' }, `— ${t('region')} —`), r.children.map((c) => el('option', { value: c.code }, c.name ?? c.code)));
    wrap.append(el('form', { class: 'filters', onsubmit: (ev) => {
      ev.preventDefault();
      if (sel.value) location.assign(href(page, { ...extra, region: sel.value }));
    } }, el('label', {}, t('region'), sel), el('button', { type: 'submit' }, t('apply'))));
  }
  return wrap;
}
