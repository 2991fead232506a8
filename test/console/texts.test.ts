/**
 * The compliance texts the console shows in the page's language: every shipped profile carries Chinese
 * texts for every rule, the profile-texts answer gives them (and the English ones exactly as the
 * judgements carry them), and every note the engine writes has its Chinese in the console's table.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { expect } from 'chai';
import express from 'express';
import { profileTexts, profileTextsRouter } from '../../collector/console/api/texts.js';
import { planRules } from '../../collector/views/compliance/engine.js';
import { loadProfiles } from '../../collector/views/compliance/profile.js';
import { jsonOf } from '../helpers/http.js';

const CJK = /[\u3400-\u9fff]/;
const profiles = loadProfiles('config/compliance');

describe('collector/console/api/texts', () => {
  it('every rule of every shipped profile has a Chinese description and source, and profileTexts(zh-CN) sends them with nothing untranslated', () => {
    expect(profiles.size).to.be.greaterThanOrEqual(3);
    for (const p of profiles.values()) {
      const zh = profileTexts(p, 'zh-CN');
      expect(zh.untranslated, p.id).to.deep.equal([]);
      expect(zh.profile.name, p.id).to.match(CJK);
      for (const r of p.rules) {
        expect(zh.rules[r.id]?.description, `${p.id} ${r.id}`).to.match(CJK).and.not.equal(r.description);
        expect(zh.rules[r.id]?.source, `${p.id} ${r.id}`).to.match(CJK);
      }
    }
  });

  it('profileTexts(en) gives the descriptions and sources exactly as the judgements carry them, overrides included', () => {
    const ningxia = profiles.get('ningxia')!;
    const en = profileTexts(ningxia, 'en');
    for (const plan of planRules(ningxia, Date.parse('2026-06-01T00:00:00+08:00'))) {
      expect(en.rules[plan.rule.id]?.source, plan.rule.id).to.equal(plan.base.source);
      expect(en.rules[plan.rule.id]?.description, plan.rule.id).to.equal(plan.rule.description);
    }
    const zh = profileTexts(ningxia, 'zh-CN');
    expect(zh.rules['CN-BB-02']?.description).to.contain('200 Mbps').and.to.contain('宁夏');
    expect(zh.rules['CN-BB-02']?.source).to.contain('CN-BB-04: 宁夏').and.to.contain('（自 2020-01-01 起）');
  });

  it('a rule without Chinese texts is sent in English and listed as untranslated, never blank', () => {
    const p = profiles.get('itu-2030')!;
    const bare = { ...p, rules: p.rules.map((r) => ({ ...r, zh: undefined })) };
    const zh = profileTexts(bare, 'zh-CN');
    expect(zh.untranslated).to.deep.equal(p.rules.map((r) => r.id));
    expect(zh.rules['INT-01']?.description).to.equal(p.rules[0]?.description);
  });

  it('GET /api/v1/console/profile-texts answers the texts, 404 for an unknown profile and 400 for an unknown language', async () => {
    const app = express().use(profileTextsRouter({ profile: (id) => profiles.get(id ?? 'cn-moe'), profileIds: () => [...profiles.keys()] }));
    const server: Server = await new Promise((res) => {
      const s = app.listen(0, '127.0.0.1', () => res(s));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const ok = await fetch(`${base}/api/v1/console/profile-texts?profile=cn-moe&lang=zh-CN`);
      expect(ok.status).to.equal(200);
      expect((await jsonOf(ok)).rules['CN-BB-02'].description).to.match(CJK);
      const missing = await fetch(`${base}/api/v1/console/profile-texts?profile=nope`);
      expect(missing.status).to.equal(404);
      expect((await jsonOf(missing)).error.code).to.equal('COL_ERR_NOT_FOUND');
      const bad = await fetch(`${base}/api/v1/console/profile-texts?lang=fr`);
      expect(bad.status).to.equal(400);
      expect((await jsonOf(bad)).error.code).to.equal('COL_ERR_INVALID_QUERY');
    } finally {
      await new Promise<void>((res) => server.close(() => res()));
    }
  });

  it('every note and reason the compliance engine writes has its Chinese text in the console (static/js/notes.js)', () => {
    const notesJs = readFileSync('collector/console/static/js/notes.js', 'utf8');
    const known = new Set([...notesJs.matchAll(/^ {2}'([^']+)': '[^']+',$/gm)].map((m) => m[1]));
    const dir = 'collector/views/compliance';
    const written = new Set<string>();
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
      for (const m of readFileSync(join(dir, f), 'utf8').matchAll(/\b(?:reason|note): '([^']+)'/g)) written.add(m[1] as string);
      for (const m of readFileSync(join(dir, f), 'utf8').matchAll(/\?\? '([^']+)' \}/g)) written.add(m[1] as string);
    }
    expect(written.size).to.be.greaterThan(10);
    expect([...written].filter((w) => !known.has(w))).to.deep.equal([]);
    // Those with a variable part are matched by a pattern, written as the code writes them.
    expect(notesJs).to.contain('the rule is not in force yet at this time');
    const availability = readFileSync('collector/views/coverage/availability.ts', 'utf8');
    expect(availability).to.contain('reason: `no school hours in the last ${days} days since ${isoDateOf(sinceDay)} (weekends, holidays, term breaks, or counting started only today)`');
    expect(notesJs).to.contain('^no school hours in the last (\\d+) days since (\\d{4}-\\d{2}-\\d{2}) \\(weekends, holidays, term breaks, or counting started only today\\)$');
  });
});
