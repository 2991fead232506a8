import { expect } from 'chai';
import { ControlError, haproxyCommand, MAX_PAYLOAD_BYTES, replaceInHaproxy, servingPid } from '../../../collector/http/front-control.js';

describe('collector/http/front-control', () => {
  it('haproxyCommand() on a socket nobody serves fails as unreachable; servingPid() says undefined', async () => {
    const err = await haproxyCommand('/nonexistent/admin.sock', 'show info').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ControlError);
    expect((err as ControlError).unreachable).to.equal(true);
    expect(await servingPid('/nonexistent/admin.sock')).to.equal(undefined);
  });

  it('replaceInHaproxy() refuses a file larger than one runtime API command takes, before sending anything, and says to restart', async () => {
    const pem = `-----BEGIN CERTIFICATE-----\n${'A'.repeat(MAX_PAYLOAD_BYTES)}\n-----END CERTIFICATE-----\n`;
    const err = await replaceInHaproxy({ socketPath: '/nonexistent/admin.sock', kind: 'ca-file', path: '/f/ca.pem', pem }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ControlError);
    expect((err as ControlError).unreachable, 'refused here, not by a missing HAProxy').to.equal(false);
    expect((err as Error).message).to.match(/more than HAProxy's runtime API takes in one command \(15000\); restart the collector/);
  });
});
