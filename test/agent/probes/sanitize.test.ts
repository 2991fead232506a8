import { expect } from 'chai';
import fc from 'fast-check';
import { cleanText, tagText, truncateText } from '../../../agent/probes/sanitize.js';
import { deviceSchema, measurementSchema } from '../../../protocol/index.js';

describe('agent/probes/sanitize', () => {
  it('tagText() drops trailing backslashes, turns control characters and line breaks into one space, and trims', () => {
    expect(tagText('lan\\')).to.equal('lan');
    expect(tagText('lan\\\\ ')).to.equal('lan');
    expect(tagText('a\\b')).to.equal('a\\b');
    expect(tagText('wl\u0007an\t0\r\n')).to.equal('wl an 0');
    expect(tagText('\u0085x\u009f')).to.equal('x');
    expect(tagText('  \\ ')).to.equal(undefined);
    expect(tagText(undefined)).to.equal(undefined);
    expect(tagText('教学楼\u3000三层  AP')).to.equal('教学楼\u3000三层  AP');
  });

  it('tagText() cuts to 256 characters, never half a surrogate pair, and replaces lone surrogates with U+FFFD', () => {
    expect(tagText('x'.repeat(300))).to.have.length(256);
    const emoji = `${'x'.repeat(255)}😀`;
    expect(truncateText(emoji, 256)).to.equal('x'.repeat(255));
    expect(tagText(`a\uD800b`)).to.equal('a\uFFFDb');
    expect(tagText(`a\uDC00`)).to.equal('a\uFFFD');
    expect(tagText('😀')).to.equal('😀');
  });

  it('cleanText() keeps a field string within its limit', () => {
    expect(cleanText(`${'d'.repeat(2000)}\n`, 1024)).to.have.length(1024);
  });

  it('whatever a device sends, tagText() gives a value the protocol accepts as an ifname and a device name (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 600 }), (s) => {
        const t = tagText(s);
        if (t === undefined) return;
        expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(t), 'no lone surrogate').to.equal(false);
        expect(t.endsWith('\\')).to.equal(false);
        const iface = { name: 'iface', tags: { device: 'gw', ifname: t, role: 'lan' }, fields: { oper_up: 1 } };
        expect(measurementSchema.safeParse(iface).success, JSON.stringify(t)).to.equal(true);
        expect(deviceSchema.safeParse({ mac: '00:1a:2b:3c:4d:5e', class: 'pc', firstSeen: 1e12, lastSeen: 1e12, name: t, vendor: t }).success).to.equal(true);
      }),
      { numRuns: 500 },
    );
  });
});
