import { expect } from 'chai';
import { ackSchema, batchSchema, measurementSchema, reportSchema, toIssues } from '../../protocol/index.js';
import { makeReport, pingMeasurement } from '../helpers/reports.js';

function issuesOf(schema: { safeParse(x: unknown): { success: boolean; error?: unknown } }, value: unknown) {
  const r = schema.safeParse(value);
  expect(r.success, 'expected the value to be refused').to.equal(false);
  return toIssues(r.error as never);
}

describe('protocol/report', () => {
  it('batchSchema accepts a batch of valid reports from one agent', () => {
    const r = batchSchema.safeParse({ reports: [makeReport(), makeReport({ seq: 2 })] });
    expect(r.success).to.equal(true);
  });

  it('batchSchema names the field and the problem when loss_pct is out of range', () => {
    const bad = makeReport({ measurements: [pingMeasurement({ loss_pct: 140 })] });
    const issues = issuesOf(batchSchema, { reports: [bad] });
    expect(issues).to.deep.include({ path: 'reports.0.measurements.0.fields.loss_pct', message: 'must be between 0 and 100' });
  });

  it('batchSchema refuses an empty batch and a batch mixing two agents', () => {
    expect(issuesOf(batchSchema, { reports: [] })[0]?.path).to.equal('reports');
    const issues = issuesOf(batchSchema, { reports: [makeReport(), makeReport({ agent: 'other', seq: 2 })] });
    expect(issues.map((i) => i.path)).to.include('reports.1.agent');
  });

  it('reportSchema refuses an unknown protocol version with a message naming the supported one', () => {
    const issues = issuesOf(reportSchema, { ...makeReport(), v: 2 });
    expect(issues[0]?.path).to.equal('v');
    expect(issues[0]?.message).to.match(/v1/);
  });

  it('reportSchema refuses a school id that is not 10 digits and a seq of 0, and takes a 1970 collection time (the collector time window judges it)', () => {
    const issues = issuesOf(reportSchema, makeReport({ school: '12345', seq: 0, collectedAt: 1763884800 }));
    expect(issues.map((i) => i.path)).to.have.members(['school', 'seq']);
  });

  it('measurementSchema refuses unknown measurements, unknown fields and unknown tags', () => {
    expect(measurementSchema.safeParse({ name: 'cpu', tags: {}, fields: {} }).success).to.equal(false);
    const m = pingMeasurement() as { fields: Record<string, unknown>; tags: Record<string, unknown> };
    expect(measurementSchema.safeParse({ ...m, fields: { ...m.fields, extra: 1 } }).success).to.equal(false);
    expect(measurementSchema.safeParse({ ...m, tags: { ...m.tags, school: '1640104001' } }).success).to.equal(false);
  });

  it('measurementSchema accepts modem fields by name and refuses non-numeric values', () => {
    const modem = { name: 'modem', tags: { device: 'vsat', profile: 'generic' }, fields: { snr_db: 9.5, locked: 1 } };
    expect(measurementSchema.safeParse(modem).success).to.equal(true);
    expect(measurementSchema.safeParse({ ...modem, fields: { snr_db: 'high' } }).success).to.equal(false);
    expect(measurementSchema.safeParse({ ...modem, fields: { 'SNR dB': 1 } }).success).to.equal(false);
  });

  it('ackSchema accepts the collector answer', () => {
    expect(ackSchema.safeParse({ v: 1, accepted: [1, 2], serverTime: Date.now() }).success).to.equal(true);
  });
});
