/**
 * The OpenWrt side of the tiny agent without an OpenWrt box: the procd init script under BusyBox sh with
 * rc.common's UCI and procd functions stubbed (the UCI config turned into the agent's config, then the
 * instance procd is given), the config check that lists every problem (exit 2), and the package Makefile
 * installing every file of agent/tiny.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { repoPath } from '../../helpers/cli.js';
import { busyboxPath, TINY, tempDir, writeConf } from './tiny-env.js';

const INIT = repoPath('agent/packaging/openwrt/tiny/files/campuslink-tiny.init');

describe('agent/tiny packaging: procd init script, UCI config, config check, Makefile', () => {
  let bin: string;
  let dir: string;
  before(() => {
    bin = busyboxPath();
  });
  after(() => rmSync(bin, { recursive: true, force: true }));
  beforeEach(() => {
    dir = tempDir('pkg');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const sh = (script: string) => spawnSync(`${bin}/env`, ['-i', `PATH=${bin}`, `${bin}/sh`, '-c', script], { encoding: 'utf8' });

  it('start_service writes the UCI options as the agent config (0600, quoted), checks it, and hands procd "campuslink-tiny run" with respawn for ever', () => {
    // rc.common and procd, stubbed: UCI values from shell variables U_<option>, procd calls printed.
    const stubs = `
      config_load() { :; }
      config_get() { eval "_v=\\\${U_$3-}"; [ -n "$_v" ] || _v=$4; eval "$1=\\$_v"; }
      config_get_bool() { config_get "$@"; }
      config_list_foreach() { for x in $U_ping_target; do $3 "$x"; done; }
      procd_open_instance() { echo "procd open"; }
      procd_set_param() { echo "procd $*"; }
      procd_close_instance() { echo "procd close"; }
      logger() { echo "logger $*"; }
      . '${INIT}'
      PROG='${TINY}'
      RUN='${dir}/run'
      CONF='${dir}/run/tiny.conf'
      U_enabled=1
      U_collector_url='http://192.0.2.1:8080'
      U_school=1640104001
      U_agent_id=gw-01
      U_token="clk1_it's"
      U_ping_target='gateway:192.168.1.1 internet:114.114.114.114'
      U_wan_ifaces=wan
      U_state_dir='${dir}/state'
      start_service
    `;
    const r = sh(stubs);
    expect(r.status, r.stderr + r.stdout).to.equal(0);
    expect(r.stdout).to.contain(`procd command ${TINY} run -c ${dir}/run/tiny.conf`);
    expect(r.stdout).to.contain('procd respawn 3600 10 0');
    const conf = join(dir, 'run', 'tiny.conf');
    expect(statSync(conf).mode & 0o777).to.equal(0o600);
    const text = readFileSync(conf, 'utf8');
    expect(text).to.contain("PING_TARGETS='gateway:192.168.1.1 internet:114.114.114.114'");
    expect(text).to.contain("WAN_IFACES='wan'");
    // A quote in a value survives the round trip through sh.
    const v = sh(`. '${conf}'; printf %s "$TOKEN"`);
    expect(v.stdout).to.equal("clk1_it's");
  });

  it('check lists every problem of a bad config at once and exits 2 (AGT_ERR_CONFIG_INVALID)', () => {
    const conf = writeConf(dir, { COLLECTOR_URL: 'collector.example', SCHOOL: '12345', PING_TARGETS: 'router:192.168.1.1', CYCLE_S: 'soon', STATE_DIR: join(dir, 'state'), RUN_DIR: join(dir, 'run') });
    const r = sh(`'${TINY}' check -c '${conf}'`);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.contain('AGT_ERR_CONFIG_INVALID');
    for (const what of ['COLLECTOR_URL: must be http', 'SCHOOL: must be a 10-digit', 'identity: set ENROLL_CODE', 'CYCLE_S: must be a whole number', 'PING_TARGETS: "router:192.168.1.1": the role must be one of']) {
      expect(r.stderr).to.contain(what);
    }
  });

  it('the Makefile installs the script and every file of agent/tiny/lib (the globs cover them)', () => {
    const mk = readFileSync(repoPath('agent/packaging/openwrt/tiny/Makefile'), 'utf8');
    expect(mk).to.contain('$(INSTALL_BIN) $(PKG_BUILD_DIR)/campuslink-tiny $(1)/usr/bin/campuslink-tiny');
    const lib = readdirSync(repoPath('agent/tiny/lib'));
    expect(lib.filter((f) => !/\.(sh|awk)$/.test(f)), 'lib files the *.sh *.awk globs miss').to.deep.equal([]);
    expect(mk).to.contain('$(PKG_BUILD_DIR)/lib/*.sh $(PKG_BUILD_DIR)/lib/*.awk $(1)/usr/lib/campuslink-tiny/');
    // The installed layout: /usr/bin/campuslink-tiny finds its lib in /usr/lib/campuslink-tiny.
    expect(readFileSync(TINY, 'utf8')).to.contain('LIB=/usr/lib/campuslink-tiny');
  });
});
