// Compliance: pick a profile; per-rule pass/fail/unknown for the region and each child; the schools
// with a given result on one rule, with their evidence; CSV download of the region's table.
import { api, breadcrumbs, el, fmt, header, href, lang, levelOfTrail, mainArea, pager, param, setState, showError, t, td, val } from './common.js';
import { noteText, unitText, windowText } from './notes.js';

/** The profile's texts in the page's language (rule descriptions, sources, name). */
export const profileTexts = (id) => api(`/api/v1/console/profile-texts?profile=${encodeURIComponent(id)}&lang=${lang}`);

const state = { region: param('region', '000000'), profile: param('profile', ''), rule: param('rule', ''), status: param('status', 'fail'), page: Number(param('page', '1')) || 1 };
const q = (over = {}) => {
  const s = { ...state, ...over };
  return { region: s.region === '000000' ? undefined : s.region, profile: s.profile || undefined, rule: s.rule || undefined, status: s.rule && s.status !== 'fail' ? s.status : undefined, page: s.rule && s.page > 1 ? s.page : undefined };
};

async function main() {
  header('compliance', state.region);
  const main = mainArea();
  try {
    const [meta, { trail }] = await Promise.all([api('/api/v1/console/meta'), api(`/api/v1/console/trail/${state.region}`)]);
    state.profile ||= meta.defaultProfile;
    setState(q());
    const level = levelOfTrail(trail);
    const codeQ = level === 'national' ? '' : `&code=${state.region}`;
    const apiPath = `/api/v1/compliance?profile=${encodeURIComponent(state.profile)}&level=${level}${codeQ}`;
    main.append(breadcrumbs(trail, '/console/compliance.html', { profile: state.profile }));
    const allTexts = new Map((await Promise.all(meta.profiles.map((p) => profileTexts(p.id)))).map((x) => [x.profile.id, x]));
    const texts = allTexts.get(state.profile);
    const select = el('select', { id: 'profile', name: 'profile' }, meta.profiles.map((p) => el('option', { value: p.id, selected: p.id === state.profile }, `${allTexts.get(p.id)?.profile.name ?? p.name} (${p.id})`)));
    main.append(el('form', { class: 'filters', method: 'get', action: '/console/compliance.html' },
      el('label', {}, t('profile'), select),
      state.region !== '000000' ? el('input', { type: 'hidden', name: 'region', value: state.region }) : null,
      document.documentElement.lang === 'en' ? el('input', { type: 'hidden', name: 'lang', value: 'en' }) : null,
      el('button', { type: 'submit' }, t('apply'))));
    const c = await api(apiPath);
    main.append(el('h1', { id: 'region-name' }, `${level === 'national' ? t('national') : c.name} · ${t('compliance')}`),
      el('p', {}, el('a', { id: 'csv', href: `${apiPath}&format=csv`, download: `compliance-${c.profile.id}-${c.level}-${c.code}.csv` }, t('downloadCsv')), ' ', el('span', { class: 'note' }, t('csvNote'))));
    main.append(el('section', { class: 'card', id: 'rules' }, el('table', { class: 'grid' }, el('caption', {}, `${texts?.profile.name ?? c.profile.name} · ${t('schools')}: ${fmt.n(c.schools)}`),
      el('thead', {}, el('tr', {}, [t('rule'), t('ruleText'), t('pass'), t('fail'), t('unknown'), t('notApplicable'), t('passShare'), t('knownShare'), ''].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, c.rules.map((r) => el('tr', { 'data-rule': r.rule },
        el('th', { scope: 'row' }, r.rule), el('td', { class: 'rule-text' }, texts?.rules[r.rule]?.description ?? r.description, el('div', { class: 'note rule-source' }, `${t('source')}: ${texts?.rules[r.rule]?.source ?? ''}`)), td(fmt.n(r.pass), 'num pass'), td(fmt.n(r.fail), 'num fail'), td(fmt.n(r.unknown), 'num unknown'), td(fmt.n(r.notApplicable), 'num'),
        td(fmt.pct(r.passShare), 'num'), td(fmt.pct(r.knownShare), 'num'),
        el('td', {}, r.fail > 0 ? el('a', { class: 'show-failing', href: href('/console/compliance.html', q({ rule: r.rule, status: 'fail', page: 1 })) }, t('showFailing')) : '')))))));
    if (c.children.length && c.children[0].level !== 'school') {
      main.append(el('section', { class: 'card', id: 'children' }, el('table', { class: 'grid' }, el('caption', {}, `${t('children')}: ${t('pass')} / ${t('fail')} / ${t('unknown')}`),
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, t('name')), el('th', { scope: 'col', class: 'num' }, t('schools')), c.rules.map((r) => el('th', { scope: 'col', class: 'num' }, r.rule)))),
        el('tbody', {}, c.children.map((ch) => el('tr', {},
          el('th', { scope: 'row' }, el('a', { href: href('/console/compliance.html', { region: ch.code, profile: state.profile }) }, ch.name)), td(fmt.n(ch.schools), 'num'),
          ch.rules.map((r) => td(`${fmt.n(r.pass)} / ${fmt.n(r.fail)} / ${fmt.n(r.unknown)}`, 'num'))))))));
    }
    if (state.rule) main.append(await ruleSchools());
  } catch (e) {
    showError(main, e);
  } finally {
    main.setAttribute('aria-busy', 'false');
  }
}

async function ruleSchools() {
  const r = await api(`/api/v1/console/compliance/schools?profile=${encodeURIComponent(state.profile)}&region=${state.region}&rule=${encodeURIComponent(state.rule)}&status=${state.status}&page=${state.page}&pageSize=50`);
  return el('section', { class: 'card', id: 'failing' }, el('h2', {}, t('failingSchools', { rule: state.rule })),
    el('table', { class: 'grid' }, el('thead', {}, el('tr', {}, [t('name'), t('region'), t('linkType'), t('value'), t('threshold'), t('window'), t('reasonCol')].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, r.items.map((s) => el('tr', {},
        el('td', {}, el('a', { href: href('/console/school.html', { id: s.id, profile: state.profile }) }, s.name)), td(s.county.name), td(t(`link.${s.linkType}`)),
        td(val(s.judgement.value, unitText(s.judgement.unit))), td(`${s.judgement.comparison} ${val(s.judgement.threshold, unitText(s.judgement.unit))}`), td(windowText(s.judgement.window.spec, s.judgement.window.description), 'window'), td(noteText(s.judgement.reason), 'reason'))))),
    pager(r, (p) => href('/console/compliance.html', q({ page: p }))));
}

main();
