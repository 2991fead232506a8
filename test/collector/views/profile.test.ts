import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parse } from 'yaml';
import { ProfileError, loadProfiles, resolveProfiles, versionAt } from '../../../collector/views/compliance/profile.js';
import { windowPieces } from '../../../collector/views/compliance/engine.js';

describe('collector/views compliance profiles', () => {
  it('the shipped profiles load, with rule ids and sources from shared/reference/standards.md', () => {
    const profiles = loadProfiles('config/compliance');
    expect([...profiles.keys()].sort()).to.deep.equal(['cn-moe', 'itu-2030', 'ningxia']);
    const ids = (p: string) => profiles.get(p)!.rules.map((r) => r.id);
    expect(ids('cn-moe')).to.deep.equal(['CN-BB-01', 'CN-BB-02', 'CN-BB-03', 'CN-BB-05', 'CN-DC-01', 'CN-DC-02', 'CN-DC-03', 'CN-DC-04', 'CN-DC-05', 'C2C-01']);
    expect(ids('itu-2030')).to.deep.equal(['INT-01', 'INT-04']);
    expect(profiles.get('ningxia')!.lineage).to.deep.equal(['ningxia', 'cn-moe']);
    // The ids of the standards table (CN-BB-04 is the provincial override; C2C-01 names the class-to-class section, which has no id there).
    const known = /^(CN-BB-0[1-5]|CN-DC-0[1-5]|INT-0[1-4]|C2C-01)$/;
    for (const p of profiles.values()) for (const r of p.rules) expect(r.id).to.match(known);
    expect(profiles.get('ningxia')!.rules.find((r) => r.id === 'CN-BB-02')!.overriddenBy.map((o) => o.as)).to.deep.equal(['CN-BB-04']);
  });

  it('versionAt() picks the version in force at a time (China-time midnight of validFrom)', () => {
    const rule = loadProfiles('config/compliance').get('ningxia')!.rules.find((r) => r.id === 'CN-BB-02')!;
    expect(versionAt(rule, Date.parse('2019-12-31T23:59:00+08:00'))?.threshold).to.equal(100);
    expect(versionAt(rule, Date.parse('2020-01-01T00:00:00+08:00'))?.threshold).to.equal(200);
    expect(versionAt(rule, Date.parse('2014-06-01T00:00:00+08:00'))).to.equal(undefined);
  });

  it('a bad profile set fails with every problem named by file and path', () => {
    const cn = parse(readFileSync('config/compliance/cn-moe.yaml', 'utf8'));
    const bad = () =>
      resolveProfiles([
        { file: 'a.yaml', data: { id: 'a', name: 'A', rules: [{ ...cn.rules[1], metric: 'wan_sped' }] } },
        { file: 'b.yaml', data: { id: 'b', name: 'B', extends: 'nope' } },
        { file: 'c.yaml', data: { id: 'c', name: 'C', extends: 'd' } },
        { file: 'd.yaml', data: { id: 'd', name: 'D', extends: 'c' } },
        { file: 'e.yaml', data: { id: 'e', name: 'E', rules: [{ ...cn.rules.at(-1), versions: [{ validFrom: '2020-01-01', threshold: 3 }] }] } },
      ]);
    expect(bad).to.throw(ProfileError);
    try {
      bad();
    } catch (e) {
      const m = (e as Error).message;
      expect(m).to.include('a.yaml: rules.0.metric');
      expect(m).to.include('b.yaml: extends: no profile nope');
      expect(m).to.include('extends forms a cycle');
      expect(m).to.include('e.yaml: rules.0.versions.0.threshold: peer_path needs named limits');
    }
  });

  it('a school-hours window is Monday-Friday pieces in China time, clipped at the judgement time', () => {
    const sat = Date.parse('2026-11-28T12:00:00+08:00');
    const pieces = windowPieces({ schoolDays: 2, from: '08:00', to: '17:00' }, sat);
    expect(pieces.map((p) => new Date(p.fromMs).toISOString())).to.deep.equal(['2026-11-26T00:00:00.000Z', '2026-11-27T00:00:00.000Z']);
    const wed = Date.parse('2026-11-25T10:00:00+08:00');
    const today = windowPieces({ schoolDays: 1, from: '08:00', to: '17:00' }, wed);
    expect(today).to.deep.equal([{ fromMs: Date.parse('2026-11-25T08:00:00+08:00'), toMs: wed }]);
  });
});
