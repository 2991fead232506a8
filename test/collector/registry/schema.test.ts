import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { COLUMNS, COLUMN_NAMES, Invalid } from '../../../collector/registry/index.js';

/** Rows of the columns table in docs/registry.md, as cells. */
function docRows(): string[][] {
  const md = readFileSync('docs/registry.md', 'utf8');
  const table = md.split('## Columns')[1]?.split('\n## ')[0] ?? '';
  return table
    .split('\n')
    .filter((l) => l.startsWith('| `'))
    .map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
}

describe('collector/registry schema', () => {
  it('starts with school_id', () => {
    expect(COLUMN_NAMES[0]).to.equal('school_id');
  });

  it('docs/registry.md lists every column, in order, with the same required flag, type and example', () => {
    const rows = docRows();
    expect(rows.map((r) => r[0])).to.deep.equal(COLUMN_NAMES.map((n) => `\`${n}\``));
    for (const [i, name] of COLUMN_NAMES.entries()) {
      const spec = COLUMNS[name];
      const [, required, type, , example] = rows[i] ?? [];
      expect(required, name).to.equal(spec.required ? 'yes' : 'no');
      expect(type, name).to.equal(spec.type);
      expect(example, name).to.equal(`\`${spec.example}\``);
    }
  });

  it('accepts the example value of every column', () => {
    for (const name of COLUMN_NAMES) {
      expect(COLUMNS[name].parse(COLUMNS[name].example), name).not.to.be.instanceOf(Invalid);
    }
  });
});
