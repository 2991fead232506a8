import { expect } from 'chai';
import { conflictingField, parsePartialWrite, withoutField } from '../../../collector/sink/partial.js';
import { toLineProtocol } from '../../../collector/sink/line-protocol.js';

describe('collector/sink/partial', () => {
  it('parsePartialWrite() reads dropped=N and the reason of InfluxDB 1.6\'s partial writes, and nothing else', () => {
    expect(parsePartialWrite(400, 'partial write: field type conflict: input field "f" on measurement "m" is type float, already exists as type integer dropped=3')).to.include({ droppedPoints: 3, droppedFields: 0, reason: 'type_conflict' });
    expect(parsePartialWrite(400, 'partial write: max-values-per-tag limit exceeded (3/3): measurement="m" tag="a" value="4" dropped=2')).to.include({ droppedPoints: 2, reason: 'tag_values_limit' });
    expect(parsePartialWrite(400, 'partial write: max-series-per-database limit exceeded: (10) dropped=7')).to.include({ droppedPoints: 7, reason: 'series_limit' });
    expect(parsePartialWrite(400, "partial write: unable to parse 'bad line': invalid field format dropped=0")).to.equal(undefined);
    expect(parsePartialWrite(400, 'field type conflict')).to.equal(undefined);
    expect(parsePartialWrite(500, 'partial write: x dropped=1')).to.equal(undefined);
  });

  it('conflictingField() names the field and measurement of a type conflict', () => {
    expect(conflictingField('partial write: field type conflict: input field "in_bps" on measurement "iface" is type float, already exists as type integer dropped=4')).to.deep.equal({ field: 'in_bps', measurement: 'iface' });
    expect(conflictingField('partial write: max-values-per-tag limit exceeded dropped=1')).to.equal(undefined);
  });

  it('withoutField() removes the field from the points of that measurement only, keeping escaped tags and quoted strings intact', () => {
    const line = (measurement: string, fields: Record<string, number | string>) => toLineProtocol({ measurement, tags: { device: 'core sw,1=a', ifname: 'ge 0/1' }, fields, timestampMs: 1_700_000_000_000 });
    const lines = [
      line('iface', { in_bps: 1, out_bps: 2 }),
      line('iface', { in_bps: 3 }),
      line('sys', { in_bps: 1, descr: 'a, b="c" d\\' }),
      line('iface', { out_bps: 5, descr: 'in_bps=9, x' }),
    ];
    const r = withoutField(lines, { measurement: 'iface', field: 'in_bps' });
    expect(r).to.deep.equal({ lines: [line('iface', { out_bps: 2 })], stripped: 1, emptied: 1 });
    expect(withoutField(lines, { measurement: 'sys', field: 'in_bps' }).lines).to.deep.equal([line('sys', { descr: 'a, b="c" d\\' })]);
  });
});
