import { expect } from 'chai';
import { loadCollectorConfig, parseHostPort } from '../../collector/config.js';
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

  it('parseHostPort() splits IPv4, names and bracketed IPv6', () => {
    expect(parseHostPort('127.0.0.1:8470')).to.deep.equal({ host: '127.0.0.1', port: 8470 });
    expect(parseHostPort('[::1]:80')).to.deep.equal({ host: '::1', port: 80 });
  });

  it('serve stops start-up with the line number of a bad registry row', async () => {
    const r = await runCli('collector', ['serve'], { CAMPUSLINK_REGISTRY: repoPath('test/fixtures/registry/bad-row.csv'), CAMPUSLINK_INFLUX_URL: 'http://127.0.0.1:9' });
    expect(r.code).to.equal(2); // an invalid registry is an invalid config
    expect(r.stderr).to.match(/COL_ERR_REGISTRY_INVALID/).and.match(/bad-row\.csv:3 column contracted_mbps/);
  });
});
