// The county level of the map: every school at its registry latitude/longitude on a plain canvas (no
// tile server), coloured and shaped by status, with a hover card and a list for the keyboard. Should a
// county have more schools than the server sends one by one, it sends grid cells, drawn as circles
// shaded by their online share (never red because one school in them is offline), with count labels
// only where they do not overlap another label.
import { api, el, fmt, href, statusBadge, t, td } from './common.js';
import { H, W, projection } from './projection.js';
import { binOf } from './tilegrid.js';

const COLORS = { online: '#1a7f37', offline: '#cf222e', never_seen: '#6e7781' };
const BIN_COLORS = { b4: '#1a7f37', b3: '#4ac26b', b2: '#d4a72c', b1: '#e16f24', b0: '#cf222e', nodata: '#afb8c1' };
export const CANVAS_FONT = '12px system-ui, "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", SimSun, sans-serif';

function mark(ctx, status, x, y, r = 5) {
  ctx.fillStyle = COLORS[status];
  ctx.strokeStyle = COLORS[status];
  ctx.lineWidth = 2;
  ctx.beginPath();
  if (status === 'offline') ctx.rect(x - r, y - r, 2 * r, 2 * r);
  else ctx.arc(x, y, r, 0, 2 * Math.PI);
  if (status === 'never_seen') ctx.stroke();
  else ctx.fill();
}

/** Draws grid cells `[lon, lat, n, online, offline, never]`; returns how many count labels it drew (no two overlap). */
export function drawClusters(ctx, clusters, proj, hits) {
  const taken = [];
  const free = (b) => !taken.some((o) => b[0] < o[2] && b[2] > o[0] && b[1] < o[3] && b[3] > o[1]);
  ctx.font = CANVAS_FONT;
  for (const [lon, lat, n, on, off, never] of clusters) {
    const [x, y] = proj(lon, lat);
    const r = 4 + Math.min(14, Math.sqrt(n));
    ctx.fillStyle = BIN_COLORS[binOf(n ? on / n : null)];
    ctx.beginPath();
    ctx.arc(x, y, r, 0, 2 * Math.PI);
    ctx.fill();
    const label = fmt.n(n);
    const w = ctx.measureText(label).width;
    const box = [x + r + 2, y - 14, x + r + 4 + w, y];
    if (free(box)) {
      taken.push(box);
      ctx.fillStyle = '#000';
      ctx.fillText(label, box[0], y - 3);
    }
    hits.push({ x, y, cluster: { n, on, off, never } });
  }
  return taken.length;
}

/** Draws the schools of county `code` into `main`. */
export async function countyPoints(main, code) {
  const m = await api(`/api/v1/console/map?region=${code}&maxPoints=3000`);
  const legend = el('ul', { class: 'legend', id: 'map-legend', 'aria-label': t('legend') }, ['online', 'offline', 'never_seen'].map((s) => {
    const c = el('canvas', { width: 14, height: 14, 'aria-hidden': 'true' });
    mark(c.getContext('2d'), s, 7, 7, 5);
    return el('li', {}, c, ' ', t(`status.${s}`));
  }));
  const canvas = el('canvas', { id: 'map-canvas', width: W, height: H, role: 'img', 'aria-label': `${t('mapTitle')}: ${t('shownSchools', { n: fmt.n(m.total) })}` });
  const card = el('div', { class: 'hovercard', id: 'hovercard', hidden: true, role: 'status' });
  main.append(legend, el('div', { class: 'map-wrap' }, canvas, card));
  if (!m.bounds) {
    main.append(el('p', { class: 'note' }, t('noData')));
    return;
  }
  const proj = projection(m.bounds);
  const ctx = canvas.getContext('2d');
  const hits = [];
  if (m.mode === 'points') {
    for (const [id, name, lon, lat, status, link] of m.points) {
      const [x, y] = proj(lon, lat);
      mark(ctx, status, x, y);
      hits.push({ x, y, id, name, status, link });
    }
  } else {
    main.append(el('p', { class: 'note', id: 'clustered' }, t('clusters', { n: fmt.n(m.total) })));
    drawClusters(ctx, m.clusters, proj, hits);
  }
  hover(canvas, card, hits);
  // The same schools as a list: reachable by keyboard and screen readers (first 200).
  if (m.mode === 'points') {
    main.append(el('details', { class: 'card' }, el('summary', {}, t('shownSchools', { n: fmt.n(m.points.length) })),
      el('table', { class: 'grid' }, el('tbody', {}, m.points.slice(0, 200).map(([id, name, lon, lat, status]) => el('tr', {},
        el('td', {}, el('a', { href: href('/console/school.html', { id }) }, name)), el('td', {}, statusBadge(status)), td(`${fmt.n(lat, 3)}, ${fmt.n(lon, 3)}`)))))));
  }
}

function hover(canvas, card, hits) {
  const nearest = (ev) => {
    const r = canvas.getBoundingClientRect();
    const x = ((ev.clientX - r.left) * W) / r.width;
    const y = ((ev.clientY - r.top) * H) / r.height;
    let best;
    let bd = 100;
    for (const h of hits) {
      const d = (h.x - x) ** 2 + (h.y - y) ** 2;
      if (d < bd) (bd = d), (best = h);
    }
    return best;
  };
  canvas.addEventListener('mousemove', (ev) => {
    const best = nearest(ev);
    if (!best) {
      card.hidden = true;
      canvas.style.cursor = '';
      return;
    }
    card.replaceChildren(...(best.cluster
      ? [el('strong', {}, t('shownSchools', { n: fmt.n(best.cluster.n) })), el('div', {}, `${t('onlineNow')} ${fmt.n(best.cluster.on)} · ${t('offline_')} ${fmt.n(best.cluster.off)} · ${t('neverSeen')} ${fmt.n(best.cluster.never)}`)]
      : [el('strong', { class: 'hc-name' }, best.name), el('div', {}, best.id, ' · ', t(`link.${best.link}`)), el('div', {}, statusBadge(best.status)), el('div', { class: 'note' }, t('openSchool'))]));
    card.style.left = `${(best.x * canvas.clientWidth) / W + 12}px`;
    card.style.top = `${(best.y * canvas.clientHeight) / H + 12}px`;
    card.hidden = false;
    canvas.style.cursor = best.id ? 'pointer' : '';
  });
  canvas.addEventListener('mouseleave', () => (card.hidden = true));
  canvas.addEventListener('click', (ev) => {
    const best = nearest(ev);
    if (best?.id) location.assign(href('/console/school.html', { id: best.id }));
  });
}
