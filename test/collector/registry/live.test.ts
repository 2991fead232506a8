import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { LiveRegistry, RegistryError, watchRegistry, type RegistryChange } from '../../../collector/registry/index.js';
import { toCsv, school } from './fixtures.js';

describe('collector/registry/live', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'campuslink-reg-'));
    path = join(dir, 'schools.csv');
    writeFileSync(path, toCsv([school(1), school(2)]));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reload() of the same file changes nothing, not even the registry object', () => {
    const live = new LiveRegistry({ path });
    const first = live.current();
    expect(live.reload()).to.deep.equal({ status: 'unchanged' });
    writeFileSync(path, toCsv([school(2), school(1)]));
    expect(live.reload()).to.deep.equal({ status: 'unchanged' });
    expect(live.current()).to.equal(first);
  });

  it('reload() of a changed file replaces the registry and emits change with what changed', () => {
    const live = new LiveRegistry({ path });
    const changes: RegistryChange[] = [];
    live.on('change', (c) => changes.push(c));
    writeFileSync(path, toCsv([school(1, { contracted_mbps: '500' }), school(3)]));
    expect(live.reload()).to.deep.equal({ status: 'reloaded', schools: 2, added: 1, removed: 1, changed: 1 });
    expect(changes).to.have.length(1);
    expect(live.tagsFor('1640104003')).to.include({ county: '640104' });
    expect(live.get('1640104002')).to.equal(undefined);
  });

  it('a bad new file keeps the registry in force and logs every problem with line and column', () => {
    const lines: string[] = [];
    const log = pino({ level: 'error' }, { write: (s: string) => void lines.push(s) });
    const live = new LiveRegistry({ path, log });
    writeFileSync(path, toCsv([school(1, { contracted_mbps: 'abc' }), school(2, { lat: '1' })]));
    const out = live.reload();
    expect(out.status).to.equal('rejected');
    expect((out as { error: RegistryError }).error.total).to.equal(2);
    expect(live.get('1640104002')).to.not.equal(undefined);
    const logged = JSON.parse(lines[0] as string) as { problems: string[]; code: string };
    expect(logged.code).to.equal('COL_ERR_REGISTRY_INVALID');
    expect(logged.problems).to.have.length(2);
    expect(logged.problems[0]).to.match(/schools\.csv:2 column contracted_mbps/);
  });

  it('watchRegistry() picks up a file replaced by rename without a restart', async function () {
    this.timeout(10_000);
    const w = watchRegistry({ path, pollIntervalMs: 50 });
    try {
      const changed = new Promise<RegistryChange>((res) => w.registry.once('change', res));
      const tmp = join(dir, 'new.csv');
      writeFileSync(tmp, toCsv([school(1), school(2), school(4)]));
      const { renameSync } = await import('node:fs');
      renameSync(tmp, path);
      const c = await changed;
      expect(c.added).to.equal(1);
      expect(w.registry.current().schools.size).to.equal(3);
    } finally {
      w.close();
    }
  });
});
