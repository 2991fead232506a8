import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { PROXY_NODE_FLAGS } from '../../../bench/proxy.bench.js';

const UNIT = join(import.meta.dirname, '..', '..', '..', 'agent', 'packaging', 'systemd', 'campuslink-proxy.service');

describe('agent/packaging: the county proxy unit', () => {
  it('campuslink-proxy.service passes systemd-analyze verify and keeps its hardening', async () => {
    // systemd-analyze exits non-zero (execFile rejects, with its stderr) on a unit it cannot load.
    const { stderr } = await promisify(execFile)('systemd-analyze', ['verify', UNIT]);
    expect(stderr.trim()).to.equal('');
    const text = readFileSync(UNIT, 'utf8');
    for (const line of ['DynamicUser=yes', 'AmbientCapabilities=CAP_NET_RAW', 'CapabilityBoundingSet=CAP_NET_RAW', 'ProtectSystem=strict', 'StateDirectory=campuslink-proxy', 'NoNewPrivileges=yes']) {
      expect(text).to.include(`\n${line}\n`);
    }
  });

  it('campuslink-proxy.service runs node with the flags the proxy benchmark measures, and not the school agent\'s --lite-mode', () => {
    const text = readFileSync(UNIT, 'utf8');
    expect(text).to.include(`\nExecStart=/usr/bin/node ${PROXY_NODE_FLAGS.join(' ')} /opt/campuslink/campuslink-agent.mjs run --config /etc/campuslink/proxy.yaml\n`);
    expect(text).not.to.match(/^ExecStart=.*--lite-mode/m);
  });
});
