import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { agentConfigSchema } from '../../../../agent/config.js';
import { checkThroughput } from '../../../../agent/probes/throughput/doctor.js';

const base = { school: '5300000001', collector: { url: 'http://127.0.0.1:1', token: 'x'.repeat(32) } };

describe('agent/probes/throughput/doctor: checkThroughput()', () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => server.close());

  it('says nothing when the probe is off', async () => {
    expect(await checkThroughput(agentConfigSchema.parse(base))).to.deep.equal([]);
  });

  it('says iperf3 runs, a listening server accepts and a closed port does not (a warning: the next server is tried)', async () => {
    const config = agentConfigSchema.parse({ ...base, throughput: { enabled: true, servers: [{ host: '127.0.0.1', port }, { host: '127.0.0.1', port: 1 }] } });
    const checks = await checkThroughput(config);
    expect(checks.map((c) => c.status)).to.deep.equal(['ok', 'ok', 'warn']);
    expect(checks[0]?.detail).to.match(/^iperf 3\./);
    expect(checks[2]?.detail).to.include('ECONNREFUSED');
  });

  it('fails when the iperf3 program does not run, saying how to install it', async () => {
    const config = agentConfigSchema.parse({ ...base, throughput: { enabled: true, servers: [{ host: '127.0.0.1', port }], command: 'iperf3-missing' } });
    const [program] = await checkThroughput(config);
    expect(program).to.include({ status: 'fail', what: 'iperf3' });
    expect(program?.detail).to.include('apt-get install iperf3');
  });
});
