import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import YAML from 'yaml';
import { agentConfigSchema } from '../../../../agent/config.js';
import { BUNDLED_PROFILES_DIR, createModemProbe, parseModemProfile, resolveModemProfile } from '../../../../agent/probes/modem/index.js';
import { measurementSchema, type Measurement } from '../../../../protocol/report.js';
import { startModem, type ModemSim } from '../../../../sim/modem.js';

const here = dirname(fileURLToPath(import.meta.url));
const SAMPLE = join(here, '../../../../agent/probes/modem/sample.yaml');

/** A pino logger that keeps its lines, to check what was reported and how often. */
function recordingLog(): { log: pino.Logger; lines: { level: number; msg: string; field?: string }[] } {
  const lines: { level: number; msg: string; field?: string }[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string; field?: string }) });
  return { log, lines };
}

function fieldsOf(ms: Measurement[]): Record<string, unknown> {
  expect(ms).to.have.length(1);
  const m = ms[0] as Measurement;
  expect(measurementSchema.safeParse(m).success, JSON.stringify(m)).to.equal(true);
  expect(m.name).to.equal('modem');
  return m.fields as Record<string, unknown>;
}

describe('modem profiles', () => {
  it('every bundled profile in config/snmp/modems validates, names its file, and says where each OID comes from', () => {
    const files = readdirSync(BUNDLED_PROFILES_DIR).filter((f) => f.endsWith('.yaml'));
    expect(files).to.include.members(['generic.yaml', 'idirect.yaml', 'newtec.yaml']);
    for (const f of files) {
      const p = resolveModemProfile({ profile: f.replace(/\.yaml$/, '') });
      expect(p.name).to.equal(f.replace(/\.yaml$/, ''));
      for (const field of p.fields) expect(field.source.length, `${f} ${field.field}`).to.be.greaterThan(10);
    }
  });

  it('each vendor profile has an SNR or Es/No field and an Rx power field', () => {
    for (const name of ['idirect', 'newtec']) {
      const fields = resolveModemProfile({ profile: name }).fields.map((f) => f.field);
      expect(fields.some((f) => f === 'snr_db' || f === 'esno_db'), name).to.equal(true);
      expect(fields, name).to.include('rx_power_dbm');
    }
  });

  it('parseModemProfile() lists every problem: bad OID, non-snake_case field, the probe’s own field names', () => {
    const text = YAML.stringify({
      name: 'bad',
      vendor: 'x',
      description: 'x',
      source: 'x',
      fields: [
        { field: 'snrDb', oid: 'iso.3.6', type: 'number', unit: 'dB', source: 's', verified: true },
        { field: 'result_code', oid: '1.3.6.1.4.1.1.0', type: 'number', unit: '1', source: 's', verified: true },
      ],
    });
    expect(() => parseModemProfile(text, 'bad.yaml')).to.throw(/fields\.0\.field: must be snake_case.*fields\.0\.oid: must be a numeric OID.*fields\.1\.field: must not be one of the probe's own fields/);
  });

  it('sample.yaml is a valid part of the whole agent config', () => {
    const sample = YAML.parse(readFileSync(SAMPLE, 'utf8')) as Record<string, unknown>;
    const r = agentConfigSchema.safeParse({ school: '1640104001', ...sample });
    expect(r.success, r.success ? '' : JSON.stringify(r.error.issues)).to.equal(true);
  });
});

describe('modem probe against the simulated modem', () => {
  let sim: ModemSim | undefined;
  afterEach(async () => {
    await sim?.stop();
    sim = undefined;
  });

  it('collect() reads the iDirect profile (DisplayString values, indexed by DID) into snr_db, tx/rx power and locked', async () => {
    const profile = resolveModemProfile({ profile: 'idirect' });
    sim = await startModem({ profile, index: '12345', values: { snr_db: 9.4, tx_power_dbm: -12.5, rx_power_dbm: -41.25, temperature_c: 38, locked: 1 } });
    const probe = createModemProbe({ device: 'vsat', host: `${sim.host}:${sim.port}`, profile, index: '12345', timeoutMs: 500 });
    const { log } = recordingLog();
    const ms = await probe.collect({ now: Date.now, log });
    expect(ms[0]?.tags).to.deep.equal({ device: 'vsat', profile: 'idirect' });
    expect(fieldsOf(ms)).to.deep.equal({ snr_db: 9.4, tx_power_dbm: -12.5, rx_power_dbm: -41.25, temperature_c: 38, locked: 1, result_code: 0, errors: 0, missing_fields: 0 });
  });

  it('collect() applies the profile’s scale (Newtec Es/No in 0.01 dB) and reports lock loss as locked=0 (generic profile)', async () => {
    const newtec = resolveModemProfile({ profile: 'newtec' });
    sim = await startModem({ profile: newtec, values: { esno_db: 11.37, rx_power_dbm: -38.5, temperature_c: 41 } });
    const probe = createModemProbe({ device: 'vsat', host: `${sim.host}:${sim.port}`, profile: newtec, index: '1', timeoutMs: 500 });
    expect(fieldsOf(await probe.collect({ now: Date.now, log: recordingLog().log }))).to.deep.include({ esno_db: 11.37, rx_power_dbm: -38.5, temperature_c: 41 });
    await sim.stop();

    const generic = resolveModemProfile({ profile: 'generic' });
    sim = await startModem({ profile: generic, index: '3', values: { locked: 1 } });
    const g = createModemProbe({ device: 'vsat', host: `${sim.host}:${sim.port}`, profile: generic, index: '3', timeoutMs: 500 });
    expect(fieldsOf(await g.collect({ now: Date.now, log: recordingLog().log }))).to.deep.include({ locked: 1 });
    sim.setLocked(false);
    expect(fieldsOf(await g.collect({ now: Date.now, log: recordingLog().log }))).to.deep.include({ locked: 0, result_code: 0 });
  });

  it('a field the firmware does not expose is skipped, counted in missing_fields and logged once, never a crash', async () => {
    const profile = resolveModemProfile({ profile: 'idirect' });
    sim = await startModem({ profile, index: '7', values: { snr_db: 10, tx_power_dbm: -10, rx_power_dbm: -40, temperature_c: 30, locked: 1 } });
    const probe = createModemProbe({ device: 'vsat', host: `${sim.host}:${sim.port}`, profile, index: '7', timeoutMs: 500 });
    const { log, lines } = recordingLog();
    sim.dropField('tx_power_dbm');
    for (let i = 0; i < 3; i++) {
      const f = fieldsOf(await probe.collect({ now: Date.now, log }));
      expect(f).to.not.have.property('tx_power_dbm');
      expect(f).to.deep.include({ snr_db: 10, result_code: 0, missing_fields: 1 });
    }
    const reports = lines.filter((l) => l.field === 'tx_power_dbm');
    expect(reports).to.have.length(1);
    expect(reports[0]?.level).to.equal(40); // warn: a required field
    expect(probe.stats.missingFields).to.deep.equal(['tx_power_dbm']);
  });

  it('a modem that does not answer yields result_code 2 and errors 1', async () => {
    const profile = resolveModemProfile({ profile: 'generic' });
    sim = await startModem({ profile, values: { locked: 1 } });
    const port = sim.port;
    await sim.stop();
    sim = undefined;
    const probe = createModemProbe({ device: 'vsat', host: `127.0.0.1:${port}`, profile, index: '1', timeoutMs: 150, retries: 0 });
    expect(fieldsOf(await probe.collect({ now: Date.now, log: recordingLog().log }))).to.deep.equal({ result_code: 2, errors: 1 });
    expect(probe.stats).to.deep.include({ polls: 1, failures: 1, timeouts: 1 });
  });

  it('under SNMP v1 a missing field (noSuchName fails the whole GET) is skipped and the others are still read', async () => {
    const profile = resolveModemProfile({ profile: 'idirect' });
    sim = await startModem({ profile, index: '7', values: { snr_db: 8, tx_power_dbm: -9, rx_power_dbm: -39, locked: 1 } });
    const probe = createModemProbe({ device: 'vsat', host: `${sim.host}:${sim.port}`, profile, index: '7', version: '1', timeoutMs: 500 });
    const f = fieldsOf(await probe.collect({ now: Date.now, log: recordingLog().log }));
    expect(f).to.deep.include({ snr_db: 8, tx_power_dbm: -9, rx_power_dbm: -39, locked: 1, missing_fields: 1, result_code: 0 });
    expect(f).to.not.have.property('temperature_c');
  });
});
