import { expect } from 'chai';
import { loadCollectorConfig } from '../../../collector/config.js';
import { ConfigError } from '../../../protocol/config.js';

const issuesOf = (env: Record<string, string>): string[] => {
  try {
    loadCollectorConfig(undefined, env);
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${i.message.replace(/^CAMPUSLINK_[A-Z_]+: /, "")}`);
    throw e;
  }
  return [];
};

describe('collector config: role and hub', () => {
  it('defaults: provincial, no hub section, no roll-ups', () => {
    const c = loadCollectorConfig(undefined, {});
    expect(c.role).to.equal('provincial');
    expect(c.hub).to.equal(undefined);
  });

  it('a provincial hub section gets its defaults; a national one its staleness bound', () => {
    const p = loadCollectorConfig(undefined, { CAMPUSLINK_HUB_URL: 'https://hub.example:8470' });
    expect(p.hub).to.include({ url: 'https://hub.example:8470', intervalMs: 60_000, minIntervalMs: 10_000, changeMinSchools: 1, staleAfterMs: 180_000 });
    const n = loadCollectorConfig(undefined, { CAMPUSLINK_ROLE: 'national', CAMPUSLINK_HUB_STALE_AFTER_MS: '30000' });
    expect(n.role).to.equal('national');
    expect(n.hub?.staleAfterMs).to.equal(30_000);
  });

  it('lists every problem at once', () => {
    expect(issuesOf({ CAMPUSLINK_ROLE: 'national', CAMPUSLINK_HUB_URL: 'https://hub.example', CAMPUSLINK_HUB_ENROLL_CODE: 'clke_0123456789abcdef' })).to.have.members([
      "hub.url: is a provincial collector's key; a national hub (role: national) takes roll-ups and sends none",
      "hub.enrollCode: is a provincial collector's key; a national hub (role: national) takes roll-ups and sends none",
    ]);
    const p = issuesOf({ CAMPUSLINK_HUB_INTERVAL_MS: '20000', CAMPUSLINK_HUB_MIN_INTERVAL_MS: '30000', CAMPUSLINK_HUB_PROVINCE: '3' });
    expect(p.some((i) => i.startsWith('hub.province: must be a 2-digit province code'))).to.equal(true);
    expect(issuesOf({ CAMPUSLINK_HUB_INTERVAL_MS: '20000', CAMPUSLINK_HUB_MIN_INTERVAL_MS: '30000' })).to.have.members([
      'hub.url: is required for a provincial collector with a hub section (the national hub to send roll-ups to); remove the section to send none',
      'hub.minIntervalMs: must be at most hub.intervalMs (20000)',
    ]);
    expect(issuesOf({ CAMPUSLINK_ROLE: 'county' })[0]).to.match(/^role: /);
  });
});
