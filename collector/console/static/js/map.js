// Map: above county level a tile-grid cartogram of the child regions (tilegrid.js says why no borders),
// each tile shaded by a share — online now, the school-hours online rate, or a compliance rule's pass
// share — with its name and value as text; a click zooms into the region. At county level the schools
// are points at their registry latitude/longitude on a canvas, with a hover card.
import { api, el, fmt, header, href, lang, levelOfTrail, mainArea, param, regionPicker, setState, showError, t } from './common.js';
import { noteText } from './notes.js';
import { countyPoints } from './points.js';
import { BINS, binOf, columnsFor, layout, NATIONAL_COLUMNS, PROVINCE_TILES, shortName } from './tilegrid.js';

const state = { region: param('region', '000000'), shade: param('shade', 'online'), profile: param('profile', '') };
const query = (over = {}) => {
  const s = { ...state, ...over };
  return { region: s.region === '000000' ? undefined : s.region, shade: s.shade === 'online' ? undefined : s.shade, profile: s.profile || undefined };
};

/** The share a tile is shaded by, its text, and a note for the tooltip. */
function measure(child, shade, rules) {
  if (shade === 'online') {
    if (!child.registered) return { share: null, text: t('none') };
    return { share: child.onlineShare, text: fmt.pct(child.onlineShare) };
  }
  if (shade === 'hours7' || shade === 'hours30') {
    const rate = child.schoolHoursOnline?.find((r) => r.days === (shade === 'hours7' ? 7 : 30));
    if (!rate || rate.onlinePct == null) return { share: null, text: t('none'), note: noteText(rate?.reason) };
    return { share: rate.onlinePct / 100, text: fmt.pct(rate.onlinePct / 100) };
  }
  const r = rules?.get(child.code)?.find((x) => x.rule === shade);
  const known = r ? r.pass + r.fail : 0;
  if (!r || !known) return { share: null, text: t('unknown'), note: r ? t('ruleNothingKnown') : undefined };
  const applicable = r.pass + r.fail + r.unknown;
  return { share: r.pass / known, text: fmt.pct(r.pass / known), note: t('ruleKnown', { k: fmt.pct(applicable ? known / applicable : 0) }) };
}

const SYMBOL = { b4: '✓', b3: '✓', b2: '!', b1: '✗', b0: '✗', nodata: '–' };

function tile(child, m, level) {
  const bin = binOf(m.share);
  const name = level === 'national' ? shortName(child.code, child.name, lang) : child.name;
  const tip = [child.name, `${t('registered')} ${fmt.n(child.registered)} · ${t('onlineNow')} ${fmt.n(child.online)} · ${t('offline_')} ${fmt.n(child.offline)} · ${t('neverSeen')} ${fmt.n(child.neverSeen)}`, m.note].filter(Boolean).join('\n');
  return el('a', { class: `tile ${bin}`, href: href('/console/map.html', query({ region: child.code })), 'data-code': child.code, 'data-bin': bin, title: tip },
    el('span', { class: 'tile-name' }, name),
    el('span', { class: 'tile-value' }, m.text, ' ', el('span', { 'aria-hidden': 'true' }, SYMBOL[bin])),
    el('span', { class: 'tile-count' }, t('nSchools', { n: fmt.n(child.registered) })));
}

function legend(shade) {
  const label = (i) => (i === 0 ? `≥ ${fmt.pct(BINS[0].min)}` : i === BINS.length - 1 ? `< ${fmt.pct(BINS[i - 1].min)}` : `${fmt.pct(BINS[i].min)} – ${fmt.pct(BINS[i - 1].min)}`);
  return el('div', { class: 'legend-box', id: 'map-legend' }, el('strong', {}, `${t('legend')}: ${shadeLabel(shade)}`),
    el('ul', { class: 'legend' }, BINS.map((b, i) => el('li', {}, el('span', { class: `swatch ${b.cls}`, 'aria-hidden': 'true' }), ` ${label(i)}`)),
      el('li', {}, el('span', { class: 'swatch nodata', 'aria-hidden': 'true' }), ` ${shade === 'online' ? t('noSchools') : t('unknown')}`)));
}

let ruleNames = new Map();
function shadeLabel(shade) {
  if (shade === 'online') return t('onlineNowShare');
  if (shade === 'hours7') return t('hoursRate', { d: 7 });
  if (shade === 'hours30') return t('hoursRate', { d: 30 });
  return t('rulePassShare', { rule: `${shade} ${ruleNames.get(shade) ?? ''}`.trim() });
}

function shadePicker(profile) {
  const options = ['online', 'hours7', 'hours30', ...(profile?.rules ?? []).map((r) => r.id)];
  const sel = el('select', { id: 'shade', name: 'shade' }, options.map((o) => el('option', { value: o, selected: o === state.shade }, shadeLabel(o))));
  return el('form', { class: 'filters', onsubmit: (ev) => {
    ev.preventDefault();
    location.assign(href('/console/map.html', query({ shade: sel.value })));
  } }, el('label', {}, t('shadeBy'), sel), el('button', { type: 'submit' }, t('apply')));
}

async function cartogram(main, level, meta, texts) {
  const profileId = state.profile || meta.defaultProfile;
  const profile = meta.profiles.find((p) => p.id === profileId);
  ruleNames = new Map((profile?.rules ?? []).map((r) => [r.id, texts?.rules?.[r.id]?.description ?? r.description]));
  const codeQ = level === 'national' ? '' : `&code=${state.region}`;
  const isRule = !['online', 'hours7', 'hours30'].includes(state.shade);
  const [cov, comp] = await Promise.all([
    api(`/api/v1/coverage?level=${level}${codeQ}`),
    isRule ? api(`/api/v1/compliance?profile=${encodeURIComponent(profileId)}&level=${level}${codeQ}`) : null,
  ]);
  const rules = comp ? new Map(comp.children.map((c) => [c.code, c.rules])) : null;
  const children = cov.children;
  const columns = level === 'national' ? NATIONAL_COLUMNS : columnsFor(children.length);
  const byCode = new Map(children.map((c) => [c.code, c]));
  const grid = el('div', { class: `tilegrid ${level === 'national' ? 'national' : 'ordered'}`, id: 'tilegrid', role: 'list', 'aria-label': `${t('mapTitle')}: ${shadeLabel(state.shade)}`, style: `--cols:${columns}` },
    layout(children.map((c) => c.code), level, columns).map((pos) => el('div', { role: 'listitem', class: 'tile-cell', style: `grid-column:${pos.col + 1};grid-row:${pos.row + 1}` }, tile(byCode.get(pos.code), measure(byCode.get(pos.code), state.shade, rules), level))));
  // At national level the units without a registered school keep their place, so the country stays recognisable.
  if (level === 'national') {
    for (const [code, [col, row, zh, en]] of Object.entries(PROVINCE_TILES)) {
      if (byCode.has(code)) continue;
      grid.append(el('div', { role: 'listitem', class: 'tile-cell', style: `grid-column:${col + 1};grid-row:${row + 1}` },
        el('span', { class: 'tile nodata', 'data-code': code, 'data-bin': 'nodata', title: t('noSchools') }, el('span', { class: 'tile-name' }, lang === 'en' ? en : zh), el('span', { class: 'tile-count' }, t('noSchools')))));
    }
  }
  main.append(shadePicker(profile), legend(state.shade), grid,
    el('p', { class: 'note', id: 'cartogram-note' }, level === 'national' ? t('cartogramNational') : t('cartogramOrdered')));
}

async function main() {
  header('map', state.region);
  const main = mainArea();
  try {
    setState(query());
    const [{ trail }, meta] = await Promise.all([api(`/api/v1/console/trail/${state.region}`), api('/api/v1/console/meta')]);
    const level = levelOfTrail(trail);
    main.append(el('h1', {}, t('mapTitle')), await regionPicker(trail, '/console/map.html', { shade: query().shade, profile: query().profile }));
    if (level === 'county') await countyPoints(main, state.region);
    else {
      const texts = await api(`/api/v1/console/profile-texts?profile=${encodeURIComponent(state.profile || meta.defaultProfile)}&lang=${lang}`).catch(() => null);
      await cartogram(main, level, meta, texts);
    }
  } catch (e) {
    showError(main, e);
  } finally {
    main.setAttribute('aria-busy', 'false');
  }
}

main();
