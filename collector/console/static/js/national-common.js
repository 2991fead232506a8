// Shared by the national hub's pages: the header (the hub's own pages), the stale marks, and the
// province's console link for school lists (the hub never has them).
import './national-i18n.js';
import { el, fmt, href, kiosk, lang, refreshS, t } from './common.js';

/** The hub's header: overview and map, the language switch. */
export function hubHeader(active, regionCode) {
  const nav = [['overview', '/'], ['map', '/console/national-map.html']];
  const other = lang === 'zh-CN' ? 'en' : 'zh-CN';
  const switchLang = () => {
    localStorage.setItem('campuslink.lang', other);
    const q = new URLSearchParams(location.search);
    if (other === 'zh-CN') q.delete('lang');
    else q.set('lang', other);
    const s = q.toString();
    location.assign(s ? `${location.pathname}?${s}` : location.pathname);
  };
  const h = el('header', { class: 'top' },
    el('a', { class: 'skip', href: '#main' }, t('skip')),
    el('span', { class: 'brand' }, `${t('appName')} · ${t('hubName')}`),
    el('nav', { 'aria-label': t('appName') }, el('ul', {}, nav.map(([k, p]) => el('li', {}, el('a', { href: href(p, regionCode && regionCode !== '000000' ? { region: regionCode } : {}), ...(k === active ? { 'aria-current': 'page' } : {}) }, t(k)))))),
    el('button', { type: 'button', class: 'lang', id: 'lang-switch', lang: other, 'aria-label': `${t('language')}: ${t('switchTo')}`, onclick: switchLang }, t('switchTo')));
  document.body.prepend(h);
  document.title = `${t(active)} · ${t('hubName')} · ${t('appName')}`;
  if (kiosk) document.body.classList.add('kiosk');
  if (refreshS) setTimeout(() => location.reload(), refreshS * 1000);
}

/** A badge "stale since <asOf>" or "current": a word and a border besides the colour. */
export function freshBadge(row) {
  return row.stale
    ? el('span', { class: 'badge st-stale', 'data-stale': 'true' }, el('span', { 'aria-hidden': 'true' }, '△ '), t('staleSince', { t: fmt.date(row.asOf) }))
    : el('span', { class: 'badge st-current' }, el('span', { 'aria-hidden': 'true' }, '● '), t('current'));
}
