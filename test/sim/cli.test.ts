/** `npm run sim -- gateway|switch|modem`: each answers SNMP on the port it printed, and stops on SIGTERM. */
import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { createNetSnmpClient, varbindNumber, varbindString } from '../../agent/probes/snmp/client.js';
import { repoPath } from '../helpers/cli.js';

function startSim(args: string[]): Promise<{ port: number; line: string; stop: () => Promise<number | null> }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--import', 'tsx', repoPath('sim/cli.ts'), ...args], { cwd: repoPath(''), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const exited = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
    c.stderr.on('data', (d) => (err += d));
    c.stdout.on('data', (d) => {
      out += d;
      const m = /listening on udp:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve({ port: Number(m[1]), line: out.trim(), stop: () => (c.kill('SIGTERM'), exited) });
    });
    void exited.then((code) => reject(new Error(`sim ${args.join(' ')} exited ${code}: ${err}`)));
  });
}

describe('sim/cli.ts (npm run sim)', function () {
  this.timeout(60_000);

  it('gateway answers sysName and IF-MIB on the printed port, and exits 0 on SIGTERM', async () => {
    const sim = await startSim(['gateway', '--port', '0', '--name', 'gw-test', '--interfaces', '2']);
    const client = createNetSnmpClient({ host: '127.0.0.1', port: sim.port });
    try {
      const [name, ifNumber] = await client.get(['1.3.6.1.2.1.1.5.0', '1.3.6.1.2.1.2.1.0']);
      expect(varbindString(name)).to.equal('gw-test');
      expect(varbindNumber(ifNumber)).to.equal(3); // two interfaces and lo0
    } finally {
      client.close();
    }
    expect(await sim.stop()).to.equal(0);
  });

  it('switch serves its generated devices in the ARP table', async () => {
    const sim = await startSim(['switch', '--port', '0', '--devices', '5']);
    const client = createNetSnmpClient({ host: '127.0.0.1', port: sim.port });
    try {
      const rows = await client.subtree('1.3.6.1.2.1.4.35.1.4');
      expect(rows).to.have.length(5);
    } finally {
      client.close();
    }
    expect(await sim.stop()).to.equal(0);
  });

  it('modem serves the profile it was given (iDirect: SNR at its OID)', async () => {
    const sim = await startSim(['modem', '--port', '0', '--profile', 'idirect', '--index', '7']);
    expect(sim.line).to.include('profile idirect, modemIndex 7');
    const { resolveModemProfile } = await import('../../agent/probes/modem/profile.js');
    const snr = resolveModemProfile({ profile: 'idirect' }).fields.find((f) => f.field === 'snr_db');
    const client = createNetSnmpClient({ host: '127.0.0.1', port: sim.port });
    try {
      const [vb] = await client.get([(snr?.oid as string).replace('{index}', '7')]);
      const raw = Number(varbindString(vb) ?? varbindNumber(vb));
      const spec = snr as unknown as { scale: number; offset: number };
      expect(raw * spec.scale + spec.offset).to.be.closeTo(11.5, 0.01);
    } finally {
      client.close();
    }
    expect(await sim.stop()).to.equal(0);
  });

  it('refuses a non-loopback address and a bad port before serving anything', async () => {
    for (const args of [['gateway', '--host', '10.0.0.1'], ['gateway', '--port', '70000']]) {
      const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
        const c = spawn(process.execPath, ['--import', 'tsx', repoPath('sim/cli.ts'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        c.stderr.on('data', (d) => (err += d));
        c.on('close', (code) => resolve({ code, err }));
      });
      expect(r.code, args.join(' ')).to.not.equal(0);
      expect(r.err).to.match(/loopback|UDP port/);
    }
  });
});
