import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { z } from 'zod';
import { ConfigError, envKeys, loadConfig } from '../../protocol/config.js';

const schema = z.strictObject({
  listen: z.string().default('127.0.0.1:1'),
  stateDir: z.string().default('x'),
  influx: z.strictObject({ url: z.string().default(''), maxBatchPoints: z.number().int().min(1).default(10) }).prefault({}),
  targets: z.array(z.strictObject({ host: z.string() })).default([]),
});

function yamlFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cl-config-'));
  const f = join(dir, 'c.yaml');
  writeFileSync(f, text);
  return f;
}

function thrown(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('protocol/config', () => {
  it('envKeys() names one CAMPUSLINK_ variable per leaf key, in UPPER_SNAKE_CASE, plus aliases', () => {
    const names = envKeys(schema, { 'influx.url': ['CAMPUSLINK_DB_URL'] }).map((k) => k.name);
    expect(names).to.have.members(['CAMPUSLINK_LISTEN', 'CAMPUSLINK_STATE_DIR', 'CAMPUSLINK_INFLUX_URL', 'CAMPUSLINK_DB_URL', 'CAMPUSLINK_INFLUX_MAX_BATCH_POINTS', 'CAMPUSLINK_TARGETS']);
  });

  it('loadConfig() applies environment overrides over the file, parsing non-string keys as YAML', () => {
    const f = yamlFile('listen: 0.0.0.0:1\ninflux:\n  maxBatchPoints: 5\n');
    const c = loadConfig({
      schema,
      file: f,
      errorCode: 'X',
      env: { CAMPUSLINK_LISTEN: '127.0.0.1:99', CAMPUSLINK_INFLUX_MAX_BATCH_POINTS: '7', CAMPUSLINK_TARGETS: '[{host: a}]' },
    });
    expect(c).to.deep.equal({ listen: '127.0.0.1:99', stateDir: 'x', influx: { url: '', maxBatchPoints: 7 }, targets: [{ host: 'a' }] });
  });

  it('loadConfig() keeps string values verbatim, so a numeric-looking string stays a string', () => {
    const c = loadConfig({ schema, errorCode: 'X', env: { CAMPUSLINK_STATE_DIR: '0123' } });
    expect(c.stateDir).to.equal('0123');
  });

  it('loadConfig() lists every problem with its path, not only the first', () => {
    const f = yamlFile('listen: 5\ninflux:\n  maxBatchPoints: 0\n  colour: red\ntargets:\n  - {}\n');
    const e = thrown(() => loadConfig({ schema, file: f, errorCode: 'AGT_ERR_CONFIG_INVALID', env: {} }));
    expect(e.issues.map((i) => i.path)).to.include.members(['listen', 'influx.maxBatchPoints', 'influx', 'targets.0.host']);
    expect(e.message).to.match(/^AGT_ERR_CONFIG_INVALID/).and.match(/influx\.maxBatchPoints/);
  });

  it('loadConfig() reports YAML syntax errors and a missing file as config problems', () => {
    const e = thrown(() => loadConfig({ schema, file: yamlFile('listen: [unclosed\n'), errorCode: 'X', env: {} }));
    expect(e.issues[0]?.message).to.match(/^YAML/);
    const missing = thrown(() => loadConfig({ schema, file: '/nonexistent/campuslink.yaml', errorCode: 'X', env: {} }));
    expect(missing.issues[0]?.message).to.match(/cannot read file/);
  });

  it('loadConfig() returns a frozen config', () => {
    const c = loadConfig({ schema, errorCode: 'X', env: {} });
    expect(Object.isFrozen(c)).to.equal(true);
    expect(Object.isFrozen(c.influx)).to.equal(true);
  });
  it('loadConfig() names the environment variable, not only the key, when a value from the environment is invalid', () => {
    const e = thrown(() => loadConfig({ schema, errorCode: 'X', env: { CAMPUSLINK_INFLUX_MAX_BATCH_POINTS: '0' } }));
    expect(e.issues).to.have.length(1);
    expect(e.issues[0]?.path).to.equal('influx.maxBatchPoints');
    expect(e.issues[0]?.message).to.match(/^CAMPUSLINK_INFLUX_MAX_BATCH_POINTS: /);
    const fromFile = thrown(() => loadConfig({ schema, file: yamlFile('influx:\n  maxBatchPoints: 0\n'), errorCode: 'X', env: {} }));
    expect(fromFile.issues[0]?.message).not.to.match(/CAMPUSLINK_/);
  });

  it('loadConfig() names the variable for a problem inside a structured value (CAMPUSLINK_TARGETS)', () => {
    const e = thrown(() => loadConfig({ schema, errorCode: 'X', env: { CAMPUSLINK_TARGETS: '[{port: 1}]' } }));
    expect(e.issues.every((i) => i.message.startsWith('CAMPUSLINK_TARGETS: '))).to.equal(true);
  });

  it('loadConfig() says to quote a number written where text is expected (school: 1640104001)', () => {
    const e = thrown(() => loadConfig({ schema, file: yamlFile('stateDir: 1640104001\n'), errorCode: 'X', env: {} }));
    expect(e.issues[0]?.path).to.equal('stateDir');
    expect(e.issues[0]?.message).to.match(/expected string/).and.match(/quote it/);
    const other = thrown(() => loadConfig({ schema, file: yamlFile('stateDir: [a]\n'), errorCode: 'X', env: {} }));
    expect(other.issues[0]?.message).not.to.match(/quote it/);
  });
});
