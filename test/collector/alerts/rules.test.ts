import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { compareVersions, DEFAULT_RULES_YAML, loadAlertRules, parseAlertRules, resolveParams, RULE_KINDS } from '../../../collector/alerts/rules.js';
import { loadCollectorConfig } from '../../../collector/config.js';
import { ConfigError } from '../../../protocol/config.js';

const BAD = `rules:
  - id: rtt
    kind: link_rtt
    aboveMs: -1
    links: { satellite: { aboveMs: 900 } }
    regions: { "6401": { aboveMs: 3 } }
  - id: off
    kind: school_offline
    forMn: 30
  - id: county
    kind: region_online
    level: town
  - id: x
    kind: page_everyone
`;

describe('alerts/rules', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'cl-alert-rules-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('config/alerts.example.yaml holds exactly the built-in rules, and they parse', () => {
    expect(readFileSync(new URL('../../../config/alerts.example.yaml', import.meta.url), 'utf8')).to.equal(DEFAULT_RULES_YAML);
    expect(loadAlertRules('').map((r) => r.kind)).to.include.members(['school_offline', 'link_rtt', 'region_online', 'compliance_failing']);
  });

  it('parseAlertRules() lists every problem of every rule at once', () => {
    let err: unknown;
    try {
      parseAlertRules(BAD, 'bad.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ConfigError);
    const paths = (err as ConfigError).issues.map((i) => i.path);
    expect(paths).to.include.members(['rules.0.aboveMs', 'rules.0.links', 'rules.1', 'rules.2.level', 'rules.3.kind']);
    expect(paths.some((p) => p.startsWith('rules.0.regions'))).to.equal(true);
    expect((err as ConfigError).message).to.include('kind must be one of');
  });

  it('loadCollectorConfig() rejects a bad alerts.rulesFile with its problems listed, and the collector exits 2 naming them', async () => {
    const rulesFile = join(dir, 'alerts.yaml');
    writeFileSync(rulesFile, BAD);
    const config = join(dir, 'collector.yaml');
    writeFileSync(config, `alerts:\n  rulesFile: ${rulesFile}\n  receivers:\n    - { name: w, type: wecom, url: 'http://127.0.0.1:1/x', secret: s }\n`);
    expect(() => loadCollectorConfig(config, {})).to.throw(ConfigError).with.property('issues').that.satisfies((issues: { path: string; message: string }[]) =>
      issues.some((i) => i.path === 'alerts.receivers.0.secret') && issues.filter((i) => i.path === 'alerts.rulesFile').length >= 5,
    );
    const cli = new URL('../../../collector/cli.ts', import.meta.url).pathname;
    const run = promisify(execFile)(process.execPath, ['--import', 'tsx', cli, 'serve', '-c', config], { env: { ...process.env, CAMPUSLINK_STATE_DIR: dir } });
    const failed = (await run.then(() => undefined, (e: unknown) => e)) as { code: number; stderr: string };
    expect(failed.code).to.equal(2);
    expect(failed.stderr).to.include('alerts.rulesFile').and.include('rules.3.kind').and.include('rules.1: Unrecognized key');
  });

  it('resolveParams(): kind defaults < rule < built-in link-type defaults < links: < regions (province, city, county)', () => {
    const [rule] = parseAlertRules(
      `rules:
  - id: rtt
    kind: link_rtt
    aboveMs: 250
    links: { cellular: { aboveMs: 500 } }
    regions: { "640000": { forMin: 20 }, "640100": { aboveMs: 700 }, "640104": { enabled: false } }
`,
      't',
    );
    const at = (link: 'fiber' | 'sat-geo' | 'cellular', county: string) => resolveParams(rule!, { link, province: '640000', city: `${county.slice(0, 4)}00`, county });
    expect(at('fiber', '640202')).to.deep.include({ aboveMs: 250, forMin: 20, enabled: true });
    expect(at('sat-geo', '640202'), 'a GEO school keeps its 1500 ms').to.deep.include({ aboveMs: 1500 });
    expect(at('cellular', '640202')).to.deep.include({ aboveMs: 500 });
    expect(at('fiber', '640105')).to.deep.include({ aboveMs: 700 });
    expect(at('fiber', '640104').enabled).to.equal(false);
  });

  it('compareVersions() orders releases and puts a pre-release before its release', () => {
    expect(compareVersions('0.1.9', '0.2.0')).to.be.lessThan(0);
    expect(compareVersions('0.10.0', '0.9.1')).to.be.greaterThan(0);
    expect(compareVersions('1.0.0-rc.1', '1.0.0')).to.be.lessThan(0);
    expect(compareVersions('1.0.0', '1.0.0')).to.equal(0);
  });

  it('docs/alerts.md documents every rule kind', () => {
    const doc = readFileSync(new URL('../../../docs/alerts.md', import.meta.url), 'utf8');
    for (const k of RULE_KINDS) expect(doc, k).to.include(`\`${k}\``);
  });
});

describe('docs/alerts.md and the metrics', () => {
  it('lists every metric the collector defines', async () => {
    const { METRIC_NAMES } = await import('../../../collector/metrics/registry.js');
    const doc = readFileSync(new URL('../../../docs/alerts.md', import.meta.url), 'utf8');
    for (const n of METRIC_NAMES) expect(doc, n).to.include(`| \`${n}\` |`);
  });
});
