// School page: registry facts, latest status, charts for 24 h / 7 days, devices, modem, compliance with
// evidence, gaps with their causes, agent health, and what the ingest budgets refused or left out.
import { api, breadcrumbs, el, fmt, header, href, kindsText, lang, mainArea, param, setState, showError, statusBadge, t, td, val } from './common.js';
import { timeChart } from './chart.js';
import { noteText, unitText, windowText } from './notes.js';

const state = { id: param('id', ''), range: param('range', '24h'), profile: param('profile', '') };

function table(caption, heads, rows, id) {
  return el('table', { class: 'grid', id }, el('caption', {}, caption), el('thead', {}, el('tr', {}, heads.map((h) => el('th', { scope: 'col' }, h)))), el('tbody', {}, rows));
}

async function main() {
  header('school');
  const main = mainArea();
  try {
    if (!/^\d{10}$/.test(state.id)) throw new Error('?id= must be a 10-digit school id');
    const d = await api(`/api/v1/console/schools/${state.id}`);
    const s = d.school;
    document.title = `${s.name} · ${t('appName')}`;
    main.append(breadcrumbs(d.trail, '/', {}, s.name), el('h1', { id: 'school-name' }, s.name), el('p', { class: 'note' }, t('asOf', { t: fmt.date(d.asOf) })));
    const row = el('div', { class: 'row' });
    row.append(
      el('section', { class: 'card', id: 'facts' }, el('h2', {}, t('facts')), el('dl', { class: 'facts' },
        fact(t('code'), s.id), fact(t('type'), t(`type.${s.type}`)), fact(t('linkType'), t(`link.${s.linkType}`)), fact(t('contracted'), fmt.n(s.contractedMbps)),
        fact(t('students'), fmt.n(s.students)), fact(t('classrooms'), fmt.n(s.classrooms)), fact(t('region'), `${s.province.name} ${s.city.name} ${s.county.name}`),
        fact(t('coords'), `${fmt.n(s.lat, 4)}, ${fmt.n(s.lon, 4)}`), fact(t('hub'), s.hub ? el('a', { href: href('/console/school.html', { id: s.hub.id }) }, s.hub.name) : '—'))),
      el('section', { class: 'card', id: 'latest' }, el('h2', {}, t('latest')), el('dl', { class: 'facts' },
        fact(t('status'), statusBadge(d.status.status)), fact(t('lastReport'), fmt.date(d.status.lastReportAt)),
        fact(t('internet'), d.status.internetAt ? `${fmt.date(d.status.internetAt)} · ${t('loss')} ${fmt.n(d.status.internetLossPct, 1)}%${d.status.seenBy ? ` · ${t('seenBy', { id: d.status.seenBy })}` : ''}` : '—'),
        fact(t('reportedBy'), el('span', { id: 'reported-by' }, kindsText(d.reportedBy))),
        fact(t('wanSpeed'), d.status.wanSpeedMbps == null ? '—' : `${fmt.n(d.status.wanSpeedMbps)} Mbps`),
        fact(t('modem'), modemText(d)))),
    );
    main.append(row);
    main.append(await charts());
    main.append(agentHealth(d), await budgets(), await devices(d), await compliance(), gaps(d));
  } catch (e) {
    showError(main, e);
  } finally {
    main.setAttribute('aria-busy', 'false');
  }
}

const fact = (k, v) => [el('dt', {}, k), el('dd', {}, v)];

function modemText(d) {
  if (!d.modems.length) return '—';
  return d.modems.map((m) => {
    const locked = m.fields.locked;
    const parts = [`${m.device} (${m.profile})`, locked === undefined ? '' : locked >= 1 ? t('locked') : t('unlocked')];
    for (const [k, v] of Object.entries(m.fields)) if (k !== 'locked') parts.push(`${k} ${fmt.n(v, 1)}`);
    if (locked !== undefined && locked < 1 && d.modemUnlockedSince) parts.push(t('modemUnlocked', { t: fmt.date(d.modemUnlockedSince) }));
    return parts.filter(Boolean).join(' · ');
  }).join('; ');
}

async function charts() {
  const sec = el('section', { class: 'card', id: 'charts' });
  sec.append(el('div', { class: 'seg', role: 'group' }, ['24h', '7d'].map((r) => el('a', { href: href('/console/school.html', { id: state.id, range: r === '24h' ? undefined : r }), 'aria-current': r === state.range ? 'true' : undefined }, t(`range${r}`)))));
  try {
    const ser = await api(`/api/v1/console/schools/${state.id}/series?range=${encodeURIComponent(state.range)}`);
    const per = (col) => ser.ping.map((p) => ({ label: `${p.target} (${p.role})`, values: p.values.map((v) => [v[0], v[p.columns.indexOf(col)]]) }));
    sec.append(el('div', { class: 'charts' },
      timeChart({ title: t('rtt'), series: per('rtt_ms') }),
      timeChart({ title: t('jitter'), series: per('jitter_ms') }),
      timeChart({ title: t('lossPct'), series: per('loss_pct'), range: [0, 100], format: (v) => `${fmt.n(v, 1)} %` }),
      timeChart({ title: t('wanInOut'), format: fmt.bps, series: ser.wan.flatMap((w) => [
        { label: `${w.ifname} ${t('in')}`, values: w.values.map((v) => [v[0], v[w.columns.indexOf('in_bps')]]) },
        { label: `${w.ifname} ${t('out')}`, values: w.values.map((v) => [v[0], v[w.columns.indexOf('out_bps')]]) }]) }),
      // One chart per modem field: a lock flag and an SNR in dB are different units.
      ...ser.modem.flatMap((m) => m.columns.slice(1).map((c, i) => timeChart({ title: `${t('modem')} ${m.device} · ${c}`, series: [{ label: c, values: m.values.map((v) => [v[0], v[i + 1]]) }] })))));
  } catch (e) {
    showError(sec, e);
  }
  return sec;
}

function agentHealth(d) {
  return el('section', { class: 'card', id: 'agents' }, table(t('agentHealth'), [t('agent'), t('agentKind'), t('version'), t('lastReport'), t('spool'), t('spoolBytes'), t('lag'), t('maxLag')],
    d.agents.length ? d.agents.map((a) => el('tr', {}, td(a.agent), td(t(`kind.${a.kind ?? 'unknown'}`, { id: a.agent })), td(a.version), td(fmt.date(a.lastSampleAt)), td(fmt.n(a.spoolReports), 'num'), td(fmt.n(a.spoolBytes), 'num'), td(fmt.n(a.lastLagS, 1), 'num'), td(fmt.n(a.maxLagS24h, 1), 'num')))
      : el('tr', {}, el('td', { colspan: 8 }, t('noData')))));
}

// The budget each drop reason is measured against (the others are InfluxDB's or the data's own).
const DROP_BUDGET = { budget_series: 'seriesPerDay', budget_tag_values: 'tagValuesPerKeyPerDay', budget_measurements: 'measurementsPerReport' };

/** Uploads refused (by budget) and points and values left out (by reason), today and since the collector started. */
async function budgets() {
  const sec = el('section', { class: 'card', id: 'budgets' }, el('h2', {}, t('budgets')));
  try {
    const b = await api(`/api/v1/ingest/budgets/${state.id}`);
    const kinds = [['budget_refusals', 'refused', (k) => t(`budget.${k}`, { limit: fmt.n(b.budgets[k]) })], ['dropped_points', 'points', (k) => t(`drop.${k}`, { limit: fmt.n(b.budgets[DROP_BUDGET[k]]) })], ['dropped_fields', 'fields', (k) => t(`drop.${k}`, { limit: '' })]];
    const rows = kinds.flatMap(([key, kind, explain]) => {
      const names = [...new Set([...Object.keys(b.total[key]), ...Object.keys(b.today[key])])];
      return names.map((k) => el('tr', { 'data-kind': kind, 'data-name': k }, td(t(`budgetKind.${kind}`)), el('td', {}, el('code', {}, k), ' ', explain(k)), td(fmt.n(b.today[key][k] ?? 0), 'num'), td(fmt.n(b.total[key][k] ?? 0), 'num')));
    });
    sec.append(rows.length ? table(t('budgetsCaption'), [t('budgetKind'), t('budgetWhat'), t('today'), t('sinceStart')], rows, 'budget-list') : el('p', { class: 'note', id: 'budgets-none' }, t('budgetsNone')),
      el('p', { class: 'note' }, t('seriesToday', { n: fmt.n(b.series_today), limit: fmt.n(b.budgets.seriesPerDay) })));
  } catch (e) {
    showError(sec, e);
  }
  return sec;
}

async function devices(d) {
  const sec = el('section', { class: 'card', id: 'devices' }, el('h2', {}, t('devices')));
  const classes = Object.entries(d.inventory);
  sec.append(table(t('devicesByClass'), [t('type'), t('deviceCount')], classes.length ? classes.map(([c, n]) => el('tr', {}, td(c), td(fmt.n(n), 'num'))) : el('tr', {}, el('td', { colspan: 2 }, t('noData')))));
  try {
    const list = await api(`/api/v1/schools/${state.id}/devices`);
    sec.append(list.devices.length
      ? table(`${t('devices')} (${fmt.n(list.count)})`, [t('mac'), t('ip'), t('type'), t('vendor'), t('name'), t('lastSeen')], list.devices.slice(0, 500).map((x) => el('tr', {}, td(x.mac), td(x.ip), td(x.class), td(x.vendor), td(x.name), td(fmt.date(new Date(x.lastSeen).toISOString())))), 'device-list')
      : el('p', { class: 'note' }, t('noDevices')));
  } catch {
    sec.append(el('p', { class: 'note' }, t('noDevices')));
  }
  return sec;
}

async function compliance() {
  const sec = el('section', { class: 'card', id: 'compliance' }, el('h2', {}, t('complianceResults')));
  try {
    const c = await api(`/api/v1/schools/${state.id}/compliance${state.profile ? `?profile=${encodeURIComponent(state.profile)}` : ''}`);
    const texts = await api(`/api/v1/console/profile-texts?profile=${encodeURIComponent(c.profile.id)}&lang=${lang}`);
    sec.append(el('p', { class: 'note' }, `${t('profile')}: ${texts.profile.name}`),
      table(c.profile.id, [t('rule'), t('status'), t('value'), t('threshold'), t('window'), t('source'), t('reasonCol')], c.judgements.map((j) => el('tr', { 'data-rule': j.rule },
        el('td', {}, el('strong', {}, j.rule), ' ', texts.rules[j.rule]?.description ?? ''), el('td', {}, el('span', { class: `badge st-${j.status}` }, t(j.status === 'not_applicable' ? 'notApplicable' : j.status))),
        td(val(j.value, unitText(j.unit))), td(`${j.comparison} ${val(j.threshold, unitText(j.unit))}`), td(windowText(j.window.spec, j.window.description), 'window'), td(texts.rules[j.rule]?.source ?? j.source, 'source'), td(noteText(j.reason), 'reason')))));
  } catch (e) {
    showError(sec, e);
  }
  return sec;
}


function gaps(d) {
  return el('section', { class: 'card', id: 'gaps' }, table(t('gaps'), [t('since'), t('cause'), t('duration'), t('missing'), t('agent')],
    d.gaps.length ? d.gaps.map((g) => el('tr', {}, td(fmt.date(g.at)), td(t(`cause.${g.cause}`)), td(fmt.duration(g.durationS)), td(fmt.n(g.missingReports), 'num'), td(g.agent))) : el('tr', {}, el('td', { colspan: 5 }, t('noData')))));
}

setState({ id: state.id, range: state.range === '24h' ? undefined : state.range, profile: state.profile || undefined });
main();
