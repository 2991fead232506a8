/**
 * A compliance profile's texts in the page's language, for the console: `GET
 * /api/v1/console/profile-texts?profile=&lang=zh-CN|en`. The views API answers carry the profile's
 * English texts (they are what CSV exports and alerts use); the console shows these instead on a zh-CN
 * page. Profiles carry the Chinese ones in `zh:` fields (config/compliance/*.yaml); a text without its
 * Chinese version is sent in English and listed in `untranslated`, never left blank.
 */
import { Router } from 'express';
import { z } from 'zod';
import { sendError } from '../../http/errors.js';
import { parseQuery } from '../../views/http/respond.js';
import type { Profile } from '../../views/compliance/profile.js';
import type { ConsoleDeps } from './deps.js';

const textsQuery = z.strictObject({
  profile: z.string().regex(/^[a-z0-9-]+$/, 'must be a profile id like cn-moe').optional(),
  lang: z.enum(['zh-CN', 'en']).default('zh-CN'),
});

/** The texts of one profile in one language. */
export interface ProfileTexts {
  profile: { id: string; name: string; description: string | null };
  lang: 'zh-CN' | 'en';
  /** Per rule id: its description and its sources (the rule's, then each override's), as the judgements' `source` joins them. */
  rules: Record<string, { description: string; source: string }>;
  /** Rule ids whose Chinese texts are missing (sent in English). */
  untranslated: string[];
}

/** The texts of `p` in `lang`. */
export function profileTexts(p: Profile, lang: 'zh-CN' | 'en'): ProfileTexts {
  const zh = lang === 'zh-CN';
  const untranslated: string[] = [];
  const rules: ProfileTexts['rules'] = {};
  for (const r of p.rules) {
    if (zh && (!r.zh || r.overriddenBy.some((o) => !o.zh))) untranslated.push(r.id);
    const overrides = r.overriddenBy.map((o) => {
      const as = o.as ? `${o.as}: ` : '';
      return zh ? `${as}${o.zh?.source ?? o.source}（自 ${o.from} 起）` : `${as}${o.source} (from ${o.from})`;
    });
    rules[r.id] = {
      description: zh ? (r.zh?.description ?? r.description) : r.description,
      source: [zh ? (r.zh?.source ?? r.source) : r.source, ...overrides].join(zh ? '；' : '; '),
    };
  }
  const name = zh ? (p.zh?.name ?? p.name) : p.name;
  const description = (zh ? (p.zh?.description ?? p.description) : p.description) ?? null;
  return { profile: { id: p.id, name, description }, lang, rules, untranslated };
}

/** The router: mounted beside the console API. */
export function profileTextsRouter(deps: Pick<ConsoleDeps, 'profile' | 'profileIds'>): Router {
  const router = Router();
  router.get('/api/v1/console/profile-texts', (req, res) => {
    const q = parseQuery(textsQuery, req.query, res);
    if (!q) return;
    const p = deps.profile(q.profile);
    if (!p) return sendError(res, 'COL_ERR_NOT_FOUND', `no compliance profile ${q.profile}; known: ${deps.profileIds().join(', ')}`);
    res.json(profileTexts(p, q.lang));
  });
  return router;
}
