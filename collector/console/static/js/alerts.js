// Alerts: firing, acknowledged and recently resolved alerts of the viewer's scope (the collector
// filters them), newest first; operators acknowledge a firing one (who and when is kept). Refreshes
// by itself every minute, for a NOC wall or a phone in the pocket.
import { api, el, fmt, header, href, mainArea, param, regionPicker, setState, showError, t, lang } from './common.js';
import { DICT } from './i18n.js';

Object.assign(DICT['zh-CN'], {
  'alertState.all': '全部', 'alertState.firing': '告警中', 'alertState.acknowledged': '已确认', 'alertState.resolved': '已恢复',
  firingN: '告警中 {n} 条', ackedN: '其中已确认 {n} 条', noAlerts: '当前范围内没有告警', acknowledge: '确认', acknowledgedBy: '{by} 于 {t} 确认',
  startsAt: '开始', endsAt: '恢复', severity: '级别', 'severity.critical': '严重', 'severity.warning': '警告', 'severity.info': '提示', stateCol: '状态',
  maintenance: '维护窗口', maintenanceNote: '窗口内不产生新告警', inForce: '生效中', upcoming: '未开始', target: '对象', until: '至', by: '设置人',
  yourScope: '账号 {name}（{role}），可见范围 {scope}', 'role.viewer': '只读', 'role.operator': '运维', 'role.admin': '管理员', openPage: '查看', refreshNote: '每分钟自动刷新',
});
Object.assign(DICT.en, {
  'alertState.all': 'all', 'alertState.firing': 'firing', 'alertState.acknowledged': 'acknowledged', 'alertState.resolved': 'resolved',
  firingN: '{n} firing', ackedN: '{n} of them acknowledged', noAlerts: 'No alerts in this scope', acknowledge: 'Acknowledge', acknowledgedBy: 'acknowledged by {by} at {t}',
  startsAt: 'Started', endsAt: 'Resolved', severity: 'Severity', 'severity.critical': 'critical', 'severity.warning': 'warning', 'severity.info': 'info', stateCol: 'State',
  maintenance: 'Maintenance windows', maintenanceNote: 'no new alert is raised inside a window', inForce: 'in force', upcoming: 'upcoming', target: 'Target', until: 'until', by: 'Set by',
  yourScope: 'Account {name} ({role}), scope {scope}', 'role.viewer': 'viewer', 'role.operator': 'operator', 'role.admin': 'admin', openPage: 'Open', refreshNote: 'refreshes every minute',
});

const STATES = ['all', 'firing', 'acknowledged', 'resolved'];
const state = { region: param('region', '000000'), state: STATES.includes(param('state')) ? param('state') : 'all' };
const REFRESH_MS = 60_000;

/** The console page of what the alert is about, on this collector (the alert's own link may name another host). */
function placeLink(a) {
  if (a.labels.school) return href('/console/school.html', { id: a.labels.school });
  return href('/console/offline.html', { region: a.labels.region ?? a.labels.county ?? a.labels.city ?? a.labels.province });
}

async function acknowledge(key, button) {
  button.disabled = true;
  const res = await fetch('/api/v1/alerts/ack', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ key }) });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    button.disabled = false;
    button.after(el('span', { class: 'error', role: 'alert' }, body?.error?.message ?? `${res.status}`));
    return;
  }
  await render();
}

function item(a, canAck) {
  const place = a.labels.school_name ? `${a.labels.school_name}（${a.labels.school}）` : `${a.labels.region_name ?? ''} ${a.labels.region ?? ''}`;
  const ack = a.ack ? el('span', { class: 'acked' }, '✓ ', t('acknowledgedBy', { by: a.ack.by, t: fmt.date(a.ack.at) })) : null;
  return el('li', { class: `alert sev-${a.severity} ${a.state}`, 'data-key': a.key, 'data-state': a.state },
    el('p', { class: 'summary' }, lang === 'zh-CN' ? a.summaryZh : a.summary),
    el('dl', { class: 'meta' },
      el('div', {}, el('dt', {}, t('stateCol')), el('dd', {}, t(`alertState.${a.state}`))),
      el('div', {}, el('dt', {}, t('severity')), el('dd', {}, t(`severity.${a.severity}`))),
      el('div', {}, el('dt', {}, t('startsAt')), el('dd', {}, fmt.date(a.startsAt))),
      a.endsAt ? el('div', {}, el('dt', {}, t('endsAt')), el('dd', {}, fmt.date(a.endsAt))) : null,
      el('div', {}, el('dt', {}, t('rule')), el('dd', {}, a.rule))),
    el('div', { class: 'actions' },
      el('a', { href: placeLink(a) }, `${t('openPage')}: ${place.trim()}`),
      ack,
      a.state === 'firing' && !a.ack && canAck ? el('button', { type: 'button', class: 'ack', onclick: (ev) => acknowledge(a.key, ev.currentTarget) }, t('acknowledge')) : null));
}

let main;
let me;

/** Windows in force or still to come, of the caller's scope. */
function maintenanceSection(windows, nowIso) {
  const open = windows.filter((w) => w.endsAt > nowIso);
  if (!open.length) return null;
  return el('section', { class: 'card', id: 'maintenance' }, el('h2', {}, t('maintenance')), el('p', { class: 'note' }, t('maintenanceNote')),
    el('ul', { class: 'alerts' }, open.map((w) => el('li', { class: 'alert', 'data-window': w.id },
      el('p', { class: 'summary' }, `${w.inForce ? t('inForce') : t('upcoming')} · ${w.reason}`),
      el('dl', { class: 'meta' },
        el('div', {}, el('dt', {}, t('target')), el('dd', {}, w.target)),
        el('div', {}, el('dt', {}, t('startsAt')), el('dd', {}, `${fmt.date(w.startsAt)} ${t('until')} ${fmt.date(w.endsAt)}`)),
        el('div', {}, el('dt', {}, t('by')), el('dd', {}, w.createdBy)))))));
}

async function render() {
  const [{ trail }, board, maint] = await Promise.all([
    api(`/api/v1/console/trail/${state.region}`),
    api(`/api/v1/alerts/board?region=${state.region}&state=${state.state}&limit=500`),
    api('/api/v1/maintenance').catch(() => ({ windows: [] })),
  ]);
  // An open collector (no accounts) takes no changes: acknowledging needs an operator account.
  const canAck = me.authenticated && (me.role === 'operator' || me.role === 'admin');
  const stateLinks = el('nav', { class: 'seg', 'aria-label': t('stateCol') }, STATES.map((s) =>
    el('a', { href: href('/console/alerts.html', { region: state.region === '000000' ? undefined : state.region, state: s === 'all' ? undefined : s }), 'aria-current': s === state.state ? 'true' : undefined }, t(`alertState.${s}`))));
  main.replaceChildren(
    el('h1', {}, t('alerts')),
    me.authenticated ? el('p', { class: 'note', id: 'whoami' }, t('yourScope', { name: me.name, role: t(`role.${me.role}`), scope: me.scope })) : null,
    await regionPicker(trail, '/console/alerts.html', { state: state.state === 'all' ? undefined : state.state }),
    stateLinks,
    el('p', { class: 'counts' }, el('strong', { id: 'firing-count' }, t('firingN', { n: fmt.n(board.firing) })), el('span', {}, t('ackedN', { n: fmt.n(board.acknowledged) }))),
    maintenanceSection(maint.windows, board.asOf),
    board.items.length ? el('ul', { class: 'alerts', id: 'alert-list' }, board.items.map((a) => item(a, canAck))) : el('p', { class: 'note', id: 'alert-list' }, t('noAlerts')),
    el('p', { class: 'note' }, `${t('asOf', { t: fmt.date(board.asOf) })} · ${t('refreshNote')}`),
  );
}

async function start() {
  header('alerts', state.region);
  main = mainArea();
  try {
    setState({ region: state.region === '000000' ? undefined : state.region, state: state.state === 'all' ? undefined : state.state });
    me = await api('/api/v1/me');
    await render();
  } catch (e) {
    showError(main, e);
  } finally {
    main.setAttribute('aria-busy', 'false');
  }
  setInterval(() => void render().catch((e) => showError(main, e)), REFRESH_MS);
}

start();
