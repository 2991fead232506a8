/**
 * `campuslink-agent` as an operator runs it (from source through tsx): `--version`, exit codes,
 * `once` saying what happened, `once --print` storing nothing, and `doctor` against a real collector
 * (with a real influxd), a simulated gateway on loopback, and a collector that is not there.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startGateway, type Gateway } from '../../sim/gateway.js';
import { repoPath, runCli, startCli, type CliProcess } from '../helpers/cli.js';
import { startTestInfluxd, type TestInfluxd } from '../helpers/influxd.js';

const EXAMPLE = repoPath('config/agent.example.yaml');
const SCHOOL = '1640104001';

/** Every file under `dir` with its sha256, so "nothing changed" can be compared. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[p.slice(dir.length)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('campuslink-agent CLI', function () {
  this.timeout(120_000);
  let influx: TestInfluxd;
  let collector: CliProcess;
  let gateway: Gateway;
  let url: string;
  let token: string;
  const dir = mkdtempSync(join(tmpdir(), 'cl-agent-cli-'));
  const collectorEnv = () => ({
    CAMPUSLINK_STATE_DIR: join(dir, 'collector'),
    CAMPUSLINK_INFLUX_URL: influx.url,
    CAMPUSLINK_LISTEN: '127.0.0.1:0',
    CAMPUSLINK_LOG_LEVEL: 'warn',
  });
  const agentEnv = (name: string, extra: Record<string, string> = {}) => ({
    CAMPUSLINK_TOKEN: token,
    CAMPUSLINK_COLLECTOR_URL: url,
    CAMPUSLINK_SNMP_HOST: `${gateway.host}:${gateway.port}`,
    CAMPUSLINK_STATE_DIR: join(dir, name),
    CAMPUSLINK_SPOOL_DIR: join(dir, name, 'spool'),
    CAMPUSLINK_LOG_LEVEL: 'warn',
    ...extra,
  });

  before(async () => {
    influx = await startTestInfluxd();
    gateway = await startGateway({ host: '127.0.0.1' });
    const issued = await runCli('collector', ['token', 'issue', '--school', SCHOOL, '--config', repoPath('config/collector.example.yaml')], collectorEnv());
    expect(issued.code, issued.stderr).to.equal(0);
    token = issued.stdout.trim().split('\n').pop() as string;
    collector = await startCli('collector', ['serve', '--config', repoPath('config/collector.example.yaml')], { env: collectorEnv(), ready: /listening on (http\S+)/ });
    url = /listening on (http\S+)/.exec(collector.readyLine)?.[1] as string;
  });

  after(async () => {
    await collector?.stop();
    await gateway?.stop();
    await influx?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('--version prints the version of package.json, on both CLIs', async () => {
    const { version } = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { version: string };
    for (const bin of ['agent', 'collector'] as const) {
      const r = await runCli(bin, ['--version']);
      expect(r.code).to.equal(0);
      expect(r.stdout.trim()).to.equal(version);
    }
  });

  it('exits 2 for an invalid config on both sides, naming the variable and the port problem', async () => {
    const agent = await runCli('agent', ['once', '--config', EXAMPLE], { CAMPUSLINK_SNMP_HOST: '127.0.0.1:99999' });
    expect(agent.code).to.equal(2);
    expect(agent.stderr).to.include('snmp.host: CAMPUSLINK_SNMP_HOST: port must be 1-65535');
    const bad = join(dir, 'numeric-school.yaml');
    writeFileSync(bad, `school: ${SCHOOL}\n`);
    const numeric = await runCli('agent', ['once', '--config', bad]);
    expect(numeric.code).to.equal(2);
    expect(numeric.stderr).to.match(/school: .*expected string, received number.*quote it/);
    const col = await runCli('collector', ['serve', '--config', repoPath('config/collector.example.yaml')], { CAMPUSLINK_INFLUX_MAX_BATCH_POINTS: 'many' });
    expect(col.code).to.equal(2);
    expect(col.stderr).to.match(/^COL_ERR_CONFIG_INVALID/).and.include('CAMPUSLINK_INFLUX_MAX_BATCH_POINTS:');
    const tok = await runCli('collector', ['token', 'issue', '--school', SCHOOL], { CAMPUSLINK_INFLUX_MAX_BATCH_POINTS: 'many' });
    expect(tok.code).to.equal(2);
  });

  it('once says on stdout which report it delivered, and exits 1 saying why when it could not', async () => {
    const ok = await runCli('agent', ['once', '--config', EXAMPLE], agentEnv('once'));
    expect(ok.code, ok.stderr).to.equal(0);
    expect(ok.stdout).to.match(new RegExp(`^report 1 \\(\\d+ measurements\\) delivered to ${url.replace(/[.]/g, '\\.')}\\n$`));
    const down = await runCli('agent', ['once', '--config', EXAMPLE], agentEnv('once', { CAMPUSLINK_COLLECTOR_URL: `http://127.0.0.1:${await closedPort()}` }));
    expect(down.code).to.equal(1);
    expect(down.stderr).to.match(/report 2 not delivered \(.+\); it stays in the spool \(1 waiting\)/);
  });

  it('once --print stores nothing: a fresh state directory is not created, an existing one is left byte for byte', async () => {
    const fresh = agentEnv('print-fresh');
    const r = await runCli('agent', ['once', '--print', '--config', EXAMPLE], fresh);
    expect(r.code, r.stderr).to.equal(0);
    expect((JSON.parse(r.stdout) as { school: string }).school).to.equal(SCHOOL);
    expect(existsSync(fresh.CAMPUSLINK_STATE_DIR)).to.equal(false);

    const used = agentEnv('print-used');
    const sent = await runCli('agent', ['once', '--config', EXAMPLE], used);
    expect(sent.code, sent.stderr).to.equal(0);
    const before = snapshot(used.CAMPUSLINK_STATE_DIR);
    expect(Object.keys(before).some((f) => /snmp-.*\.json$/.test(f)), JSON.stringify(before)).to.equal(true);
    const printed = await runCli('agent', ['once', '--print', '--config', EXAMPLE], used);
    expect(printed.code, printed.stderr).to.equal(0);
    expect((JSON.parse(printed.stdout) as { seq: number }).seq).to.equal(2);
    expect(snapshot(used.CAMPUSLINK_STATE_DIR)).to.deep.equal(before);
  });

  it('doctor says, in plain words, that the example config has no internet target, and exits 1', async () => {
    const r = await runCli('agent', ['doctor', '--config', EXAMPLE], agentEnv('doctor'));
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stdout).to.match(/^FAIL {2}internet target: no ping target has role "internet", so the console never shows this school as online/m);
    expect(r.stdout).to.match(new RegExp(`^ok {4}collector ${url.replace(/[.]/g, '\\.')}: answers`, 'm'));
    expect(r.stdout).to.match(/^ok {4}token: accepted/m);
    expect(r.stdout).to.match(/^ok {4}SNMP gateway 127\.0\.0\.1:\d+: answers \(sysName "sim-gw"\)/m);
    expect(r.stdout).to.match(/^1 problem: /m);
  });

  it('doctor exits 0 when everything the console needs is there, and writes nothing to InfluxDB', async () => {
    const before = await influx.query('SHOW MEASUREMENTS').catch(() => []);
    const r = await runCli('agent', ['doctor', '--config', EXAMPLE], agentEnv('doctor-ok', { CAMPUSLINK_TARGETS: '[{host: 127.0.0.1, role: gateway}, {host: 127.0.0.2, role: internet}]' }));
    expect(r.code, r.stdout).to.equal(0);
    expect(r.stdout).to.match(/^ok {4}internet target: pinging 127\.0\.0\.2$/m);
    expect(r.stdout.trim().split('\n').pop()).to.equal('everything the console needs is in place.');
    expect(await influx.query('SHOW MEASUREMENTS').catch(() => [])).to.deep.equal(before);
  });

  it('doctor names a refused token, an unreachable collector and a silent SNMP device', async () => {
    const refused = await runCli('agent', ['doctor', '--config', EXAMPLE], agentEnv('doctor-bad', { CAMPUSLINK_TOKEN: 'clk1_not_a_real_token_at_all_000000000000000' }));
    expect(refused.code).to.equal(1);
    expect(refused.stdout).to.match(/^FAIL {2}token: refused by the collector \(401: /m);
    const silent = await closedPort();
    const down = await runCli('agent', ['doctor', '--config', EXAMPLE], agentEnv('doctor-down', { CAMPUSLINK_COLLECTOR_URL: `http://127.0.0.1:${await closedPort()}`, CAMPUSLINK_SNMP_HOST: `127.0.0.1:${silent}`, CAMPUSLINK_SNMP_TIMEOUT_MS: '300', CAMPUSLINK_SNMP_RETRIES: '0' }));
    expect(down.code).to.equal(1);
    expect(down.stdout).to.match(/^FAIL {2}collector http:\/\/127\.0\.0\.1:\d+: does not answer \(ECONNREFUSED\)/m);
    expect(down.stdout).to.match(/^FAIL {2}SNMP gateway 127\.0\.0\.1:\d+: does not answer/m);
  });
});
