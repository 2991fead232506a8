/** `GET /api/v1/regions[/:code]` and `GET /api/v1/coverage`. Read-only, no authentication yet (docs/views.md). */
import { Router } from 'express';
import { z } from 'zod';
import { sendError } from '../../http/errors.js';
import type { Registry } from '../../registry/index.js';
import { COVERAGE_LEVELS, type CoverageModel } from '../coverage/model.js';
import { LINK_FIELDS, TIERS } from '../coverage/tiers.js';
import { NATIONAL_CODE, coverageAnswer, type CoverageRow, type SchoolCoverageRow, type SchoolHoursSource } from '../coverage/view.js';
import { parseQuery, sendCsv, wantsCsv } from './respond.js';

const code6 = z.string().regex(/^\d{6}$/, 'must be a 6-digit GB/T 2260 code');
const format = z.enum(['json', 'csv']).optional();

const coverageQuery = z
  .strictObject({ level: z.enum(COVERAGE_LEVELS, { error: `must be one of ${COVERAGE_LEVELS.join(', ')}` }), code: code6.optional(), format })
  .superRefine((q, ctx) => {
    if (q.level !== 'national' && q.code === undefined) ctx.addIssue({ code: 'custom', path: ['code'], message: `is required for level ${q.level}` });
    if (q.level === 'national' && q.code !== undefined && q.code !== NATIONAL_CODE) {
      ctx.addIssue({ code: 'custom', path: ['code'], message: `must be empty or ${NATIONAL_CODE} for level national` });
    }
  });

const regionParams = z.strictObject({ code: code6 });

export interface CoverageRoutesOptions {
  /** The registry in force (a reload replaces it). */
  registry: () => Registry;
  model: () => CoverageModel;
  now: () => number;
  /** The school-hours online rate (absent before the module started). */
  schoolHours?: () => SchoolHoursSource | undefined;
}

/** CSV columns of a coverage answer: the `coverage` measurement's field names, plus the school's own. */
export const COVERAGE_CSV_COLUMNS = [
  'level', 'code', 'name', 'registered', 'online', 'offline', 'never_seen', 'online_pct',
  ...TIERS.map((t) => t.key), 'measured_speed', 'satellite', 'satellite_pct', ...LINK_FIELDS,
  'status', 'school_type', 'link_type', 'contracted_mbps', 'measured_mbps', 'tier_from', 'last_report_at',
  'tier_unknown', 'measured_at', 'port_speed_mbps', 'tier_mbps', 'school_hours_online_7d_pct', 'school_hours_online_30d_pct',
] as const;

function csvRow(r: CoverageRow): unknown[] {
  const s = r.level === 'school' ? (r as SchoolCoverageRow) : undefined;
  return [
    r.level, r.code, r.name, r.registered, r.online, r.offline, r.neverSeen, round(100 * r.onlineShare),
    ...TIERS.map((t) => r.tiers[t.json]), r.tierSource.measured, r.satellite, round(100 * r.satelliteShare),
    ...Object.values(r.links),
    s?.status ?? '', s?.schoolType ?? '', s?.linkType ?? '', s?.contractedMbps ?? '', s?.measuredMbps ?? '', s?.tierFrom ?? '', s?.lastReportAt ?? '',
    r.tierSource.unknown, s?.measuredAt ?? '', s?.portSpeedMbps ?? '', s?.tierMbps ?? '',
    ...[0, 1].map((k) => {
      const pct = r.schoolHoursOnline?.[k]?.onlinePct;
      return pct == null ? '' : round(pct);
    }),
  ];
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

export function coverageRouter(opts: CoverageRoutesOptions): Router {
  const router = Router();

  const regionAnswer = (reg: Registry, code: string): object | undefined => {
    if (code === NATIONAL_CODE) {
      return {
        level: 'national', code: NATIONAL_CODE, name: reg.national.name, parent: null, childLevel: 'province', schoolCount: reg.national.schoolCount,
        children: reg.national.children.map((c) => ({ level: 'province', code: c, name: reg.provinces.get(c)?.name, schoolCount: reg.provinces.get(c)?.schoolCount })),
      };
    }
    const r = reg.region(code);
    if (!r) return undefined;
    const children =
      r.level === 'county'
        ? r.children.map((id) => {
            const s = reg.get(id);
            return { level: 'school', code: id, name: s?.name, schoolType: s?.type, linkType: s?.linkType, contractedMbps: s?.contractedMbps, hubSchoolId: s?.hubSchoolId ?? null };
          })
        : r.children.map((c) => {
            const child = reg.region(c);
            return { level: child?.level ?? r.childLevel, code: c, name: child?.name, schoolCount: child?.schoolCount };
          });
    return { level: r.level, code: r.code, name: r.name, parent: r.parent ?? NATIONAL_CODE, childLevel: r.childLevel, schoolCount: r.schoolCount, children };
  };

  router.get('/api/v1/regions', (_req, res) => {
    res.json(regionAnswer(opts.registry(), NATIONAL_CODE));
  });

  router.get('/api/v1/regions/:code', (req, res) => {
    const p = parseQuery(regionParams, { ...req.params }, res);
    if (!p) return;
    if (Object.keys(req.query).length > 0) return parseQuery(z.strictObject({}), req.query, res);
    const answer = regionAnswer(opts.registry(), p.code);
    if (!answer) return sendError(res, 'COL_ERR_NOT_FOUND', `no region with code ${p.code} in the registry${opts.registry().replacedNote(p.code)}`);
    res.json(answer);
  });

  router.get('/api/v1/coverage', (req, res) => {
    const q = parseQuery(coverageQuery, req.query, res);
    if (!q) return;
    const nowMs = opts.now();
    const answer = coverageAnswer(opts.model(), q.level, q.code, nowMs, opts.schoolHours?.());
    if (!answer) return sendError(res, 'COL_ERR_NOT_FOUND', `no ${q.level} with code ${q.code} in the registry${q.code ? opts.model().registry.replacedNote(q.code) : ''}`);
    if (wantsCsv(req, q.format)) {
      const { children, ...head } = answer;
      return sendCsv(res, `coverage-${q.level}-${answer.code}.csv`, COVERAGE_CSV_COLUMNS, [csvRow(head), ...children.map(csvRow)]);
    }
    res.json(answer);
  });

  return router;
}
