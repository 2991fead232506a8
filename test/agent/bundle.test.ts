/**
 * Smoke test of the agent bundle (`npm run build:agent`): builds it into a temporary directory outside
 * the repository (so no node_modules can be found), runs `once --print` with config/agent.minimal.yaml
 * against a simulated gateway on loopback, and validates the printed report with the protocol schema.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { canMount, mountTmpfs } from './spool/tmpfs.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { reportSchema } from '../../protocol/report.js';
import { startGateway, type Gateway } from '../../sim/gateway.js';
import { startSwitch, type SimSwitch } from '../../sim/switch.js';
import { buildAgentBundle, type AgentBundle } from '../../scripts/build-agent.js';
import { LEAN_NODE_ENV, LEAN_NODE_FLAGS } from '../../bench/agent-steady.bench.js';

const MINIMAL = join(import.meta.dirname, '..', '..', 'config', 'agent.minimal.yaml');

function run(file: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

describe('agent bundle (dist/agent-bundle/campuslink-agent.mjs)', function () {
  this.timeout(60_000);
  let dir: string;
  let bundle: AgentBundle;
  let gateway: Gateway;
  let sw: SimSwitch;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'campuslink-bundle-'));
    bundle = await buildAgentBundle({ outDir: join(dir, 'bin') });
    gateway = await startGateway({ host: '127.0.0.1' });
    sw = await startSwitch({ devices: 40 });
  });
  /** `once --print` of the bundle with the minimal config against the simulated gateway, as agent `id`. */
  const printOnce = (id: string, env: NodeJS.ProcessEnv) =>
    run(bundle.file, ['once', '--print', '--config', MINIMAL], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        CAMPUSLINK_SNMP_HOST: `${gateway.host}:${gateway.port}`,
        CAMPUSLINK_STATE_DIR: join(dir, id, 'state'),
        CAMPUSLINK_SPOOL_DIR: join(dir, id, 'spool'),
        CAMPUSLINK_AGENT_ID: id,
        CAMPUSLINK_LOG_LEVEL: 'warn',
        ...env,
      },
      timeoutMs: 45_000,
    });
  after(async () => {
    await gateway?.stop();
    await sw?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is one JavaScript file plus the OUI index', () => {
    expect(statSync(bundle.file).size).to.equal(bundle.bytes);
    expect(bundle.bytes).to.be.within(100 * 1024, 4 * 1024 * 1024);
    expect(bundle.ouiFile).to.match(/oui-index\.bin$/);
    expect(bundle.ouiBytes).to.be.within(1024 * 1024, 3 * 1024 * 1024);
  });

  it('once --print names device vendors from the OUI index beside the bundle, without node_modules', async () => {
    const r = await printOnce('bundle-inventory', { CAMPUSLINK_INVENTORY_SOURCES: JSON.stringify([{ name: 'core-switch', host: `${sw.host}:${sw.port}`, community: sw.community }]) });
    expect(r.code, r.err).to.equal(0);
    const report = reportSchema.parse(JSON.parse(r.out));
    const devices = report.devices?.added ?? [];
    expect(devices).to.have.length(40);
    const cameras = sw.devices().filter((d) => d.kind === 'camera').map((d) => d.mac);
    expect(cameras.length).to.be.greaterThan(0);
    for (const mac of cameras) expect(devices.find((d) => d.mac === mac)?.vendor, mac).to.match(/Hikvision|Dahua/);
  });

  it('starts with the packaged node flags without any warning on stderr (no "disabling flag --expose_wasm")', async () => {
    const r = await new Promise<{ code: number | null; err: string }>((resolve, reject) => {
      const c = spawn(process.execPath, [...LEAN_NODE_FLAGS, bundle.file, '--version'], { cwd: dir, env: { PATH: process.env.PATH }, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      c.stderr.on('data', (d) => (err += d));
      c.on('error', reject);
      c.on('close', (code) => resolve({ code, err }));
    });
    expect(r.code).to.equal(0);
    expect(r.err).to.equal('');
    // The check can fail: --lite-mode alone does warn.
    const plain = await new Promise<string>((resolve) => {
      const c = spawn(process.execPath, ['--lite-mode', bundle.file, '--version'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      c.stderr.on('data', (d) => (err += d));
      c.on('close', () => resolve(err));
    });
    expect(plain).to.match(/disabling flag --expose_wasm/);
  });

  it('once --print with the minimal config reports the simulated gateway, valid against reportSchema, without node_modules', async () => {
    const r = await printOnce('bundle-smoke', { CAMPUSLINK_TARGETS: '[{host: 127.0.0.1, role: gateway}]' });
    expect(r.code, r.err).to.equal(0);
    const parsed = reportSchema.safeParse(JSON.parse(r.out));
    expect(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues)).to.equal(true);
    const report = parsed.data!;
    expect(report).to.include({ school: '1640104001', agent: 'bundle-smoke' });
    const names = report.measurements.map((m) => m.name);
    expect(names).to.include.members(['ping', 'sys', 'iface', 'agent']);
    const sys = report.measurements.find((m) => m.name === 'sys')!;
    expect(sys.fields).to.include({ result_code: 0 });
  });
});

describe('agent/packaging', () => {
  const PKG = join(import.meta.dirname, '..', '..', 'agent', 'packaging');

  it('the systemd unit passes systemd-analyze verify and keeps its hardening', async () => {
    const unit = join(PKG, 'systemd', 'campuslink-agent.service');
    const r = await new Promise<{ code: number | null; err: string }>((resolve, reject) => {
      const c = spawn('systemd-analyze', ['verify', unit], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      c.stderr.on('data', (d) => (err += d));
      c.on('error', (e) => reject(new Error(`systemd-analyze is missing: apt-get install systemd (${e.message})`)));
      c.on('close', (code) => resolve({ code, err }));
    });
    expect(r.code, r.err).to.equal(0);
    expect(r.err.trim()).to.equal('');
    const text = (await import('node:fs')).readFileSync(unit, 'utf8');
    for (const line of ['DynamicUser=yes', 'AmbientCapabilities=CAP_NET_RAW', 'CapabilityBoundingSet=CAP_NET_RAW', 'ProtectSystem=strict', 'StateDirectory=campuslink-agent', 'NoNewPrivileges=yes']) {
      expect(text).to.include(`\n${line}\n`);
    }
  });

  it('the systemd unit runs node with the flags and environment the agent-steady benchmark measures', () => {
    const text = readFileSync(join(PKG, 'systemd', 'campuslink-agent.service'), 'utf8');
    expect(text).to.include(`\nExecStart=/usr/bin/node ${LEAN_NODE_FLAGS.join(' ')} /opt/campuslink/campuslink-agent.mjs run `);
    for (const [k, v] of Object.entries(LEAN_NODE_ENV)) expect(text).to.include(`\nEnvironment=${k}=${v}\n`);
  });

  it('the OpenWrt procd init script is valid sh and runs the bundle under procd', async () => {
    const init = join(PKG, 'openwrt', 'campuslink-agent.init');
    const r = await new Promise<number | null>((resolve, reject) => {
      const c = spawn('sh', ['-n', init], { stdio: 'ignore' });
      c.on('error', reject);
      c.on('close', resolve);
    });
    expect(r).to.equal(0);
    const text = (await import('node:fs')).readFileSync(init, 'utf8');
    expect(text).to.match(/^#!\/bin\/sh \/etc\/rc\.common$/m);
    expect(text).to.match(/^USE_PROCD=1$/m);
    expect(text).to.include(`procd_set_param command "$PROG" ${LEAN_NODE_FLAGS.join(' ')} "$BUNDLE" run --config "$CONFIG"`);
  });

  /** Runs the init script's start_service with procd's functions recording their calls, as `user` would own things. */
  const startService = (opts: { config: string; state?: string; user: string; oldState?: string }) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
      const init = join(PKG, 'openwrt', 'campuslink-agent.init');
      const script = [
        'procd_open_instance() { echo OPEN; }',
        'procd_set_param() { echo "PARAM $*"; }',
        'procd_close_instance() { echo CLOSE; }',
        `. '${init}'`,
        `CONFIG='${opts.config}' SERVICE_USER='${opts.user}'`,
        opts.state ? `STATE='${opts.state}'` : '',
        opts.oldState ? `OLD_STATE='${opts.oldState}'` : '',
        'start_service',
      ].join('\n');
      const c = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (err += d));
      c.on('error', reject);
      c.on('close', (code) => resolve({ code, out, err }));
    });

  it('the OpenWrt init script refuses to start when the service user cannot read the config, and says the fix', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'cl-openwrt-'));
    try {
      const config = join(tmp, 'agent.yaml');
      writeFileSync(config, 'school: "1640104001"\n');
      chownSync(config, 0, 0);
      chmodSync(config, 0o600);
      const refused = await startService({ config, state: join(tmp, 'state'), user: 'nobody' });
      expect(refused.code).to.equal(1);
      expect(refused.err).to.include(`user nobody cannot read ${config}; run: chgrp nobody ${config} && chmod 0640 ${config}`);
      expect(refused.out).not.to.include('OPEN');

      // As the packaging README says: group of the service user, mode 0640.
      chownSync(config, 0, Number(execFileSync('id', ['-g', 'nobody']).toString().trim()));
      chmodSync(config, 0o640);
      const ok = await startService({ config, state: join(tmp, 'state'), user: 'nobody' });
      expect(ok.code, ok.err).to.equal(0);
      expect(ok.out).to.include('PARAM user nobody');
      expect(ok.out).to.include(`PARAM command /usr/bin/node ${LEAN_NODE_FLAGS.join(' ')} /usr/lib/campuslink/campuslink-agent.mjs run --config ${config}`);
      expect(statSync(join(tmp, 'state', 'spool')).uid).to.equal(Number(execFileSync('id', ['-u', 'nobody']).toString().trim()));

      // Without the user, root runs it and the 0600 root-owned config is fine.
      chownSync(config, 0, 0);
      chmodSync(config, 0o600);
      const root = await startService({ config, state: join(tmp, 'state2'), user: 'no-such-user-campuslink' });
      expect(root.code, root.err).to.equal(0);
      expect(root.out).not.to.include('PARAM user');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
  it('the OpenWrt init script keeps state on persistent storage by default, not in /var (RAM on OpenWrt)', async () => {
    const text = readFileSync(join(PKG, 'openwrt', 'campuslink-agent.init'), 'utf8');
    const state = /^STATE=(\S+)$/m.exec(text)?.[1];
    expect(state).to.equal('/etc/campuslink/state');
    expect(state).not.to.match(/^\/(var|tmp)\//);
  });

  it('the OpenWrt init script warns, naming the fix, when the state directory is on a tmpfs, and not when it is on disk', async () => {
    if (!canMount()) throw new Error('needs root to mount a tmpfs (CI runs as root)');
    const fs = mountTmpfs(1024 * 1024);
    const onDisk = mkdtempSync(join(process.cwd(), '.cl-openwrt-'));
    try {
      const config = join(onDisk, 'agent.yaml');
      writeFileSync(config, 'school: "1640104001"\n');
      chmodSync(config, 0o600);
      const ram = await startService({ config, state: join(fs.dir, 'state'), user: 'no-such-user-campuslink' });
      expect(ram.code, ram.err).to.equal(0);
      expect(ram.err).to.include(`state directory ${join(fs.dir, 'state')} is in RAM (tmpfs)`);
      expect(ram.err).to.include('set STATE in /etc/init.d/campuslink-agent to persistent storage');
      expect(execFileSync('stat', ['-f', '-c', '%T', onDisk]).toString().trim(), 'the working directory must be on disk for this case').not.to.equal('tmpfs');
      const disk = await startService({ config, state: join(onDisk, 'state'), user: 'no-such-user-campuslink' });
      expect(disk.code, disk.err).to.equal(0);
      expect(disk.err).not.to.include('is in RAM');
      expect(disk.out).to.include(`CAMPUSLINK_STATE_DIR=${join(onDisk, 'state')} CAMPUSLINK_SPOOL_DIR=${join(onDisk, 'state', 'spool')}`);
    } finally {
      fs.unmount();
      rmSync(onDisk, { recursive: true, force: true });
    }
  });

  it('the OpenWrt init script moves state left in the old /var location to the new one once, keeping unsent reports', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'cl-openwrt-'));
    try {
      const config = join(tmp, 'agent.yaml');
      writeFileSync(config, 'school: "1640104001"\n');
      chmodSync(config, 0o600);
      const oldState = join(tmp, 'var-lib');
      mkdirSync(join(oldState, 'spool'), { recursive: true });
      writeFileSync(join(oldState, 'spool', 'seg-1.log'), 'unsent');
      const state = join(tmp, 'etc', 'campuslink', 'state');
      const r = await startService({ config, state, oldState, user: 'no-such-user-campuslink' });
      expect(r.code, r.err).to.equal(0);
      expect(readFileSync(join(state, 'spool', 'seg-1.log'), 'utf8')).to.equal('unsent');
      expect(existsSync(oldState)).to.equal(false);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
