import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { ERRORS, agentActionFor } from '../../protocol/errors.js';

describe('protocol/errors', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const rows = new Map(
    [...doc.matchAll(/^\| `([A-Z_]+)` \| ([^|]+) \| (.+) \|$/gm)].map((m) => [m[1] as string, { status: (m[2] as string).trim(), meaning: (m[3] as string).trim() }]),
  );

  it('docs/errors.md lists every code of the catalogue with its status and meaning, and no other', () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      expect(rows.get(code), `${code} missing from docs/errors.md`).to.deep.equal({ status: String((spec as { status?: number }).status ?? '—'), meaning: spec.meaning });
    }
    expect([...rows.keys()].sort()).to.deep.equal(Object.keys(ERRORS).sort());
  });

  it('agentActionFor() gives each status its one documented meaning', () => {
    expect(agentActionFor(200)).to.equal('none');
    expect(agentActionFor(400)).to.equal('drop-and-count');
    expect(agentActionFor(413)).to.equal('drop-and-count');
    expect(agentActionFor(415)).to.equal('drop-and-count');
    expect(agentActionFor(401)).to.equal('stop-and-alert');
    expect(agentActionFor(403)).to.equal('stop-and-alert');
    expect(agentActionFor(429)).to.equal('keep-and-back-off');
    expect(agentActionFor(503)).to.equal('keep-and-back-off');
    expect(agentActionFor(500)).to.equal('keep-and-back-off');
  });
});
