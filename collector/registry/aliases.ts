/**
 * Declared code changes: a division code that was abolished or renumbered, and the code that took
 * its place, with the date. A registry row with an old code is refused naming the successor; reads of
 * a region's history also take the points written under its old codes (docs/registry.md#code-changes).
 */

/** One declared change: `from` stopped being used on `date`; its schools are now under `to`. */
export interface CodeAlias {
  readonly from: string;
  readonly fromName: string;
  readonly to: string;
  readonly toName: string;
  /** `YYYY-MM-DD`: the date of the State Council approval (built-in rows: the month's first day when only the month is known). */
  readonly date: string;
}

/**
 * Changes since 2015 that moved county-level codes, for the registries still exported with old codes.
 * Operators add their own with `registryAliases` (a CSV with the same columns).
 */
export const BUILT_IN_ALIASES: readonly CodeAlias[] = [
  { from: '371200', fromName: '莱芜市', to: '370100', toName: '济南市', date: '2019-01-09' },
  { from: '371202', fromName: '莱城区', to: '370116', toName: '莱芜区', date: '2019-01-09' },
  { from: '371203', fromName: '钢城区', to: '370117', toName: '钢城区', date: '2019-01-09' },
  { from: '410381', fromName: '偃师市', to: '410307', toName: '偃师区', date: '2021-03-01' },
  { from: '410322', fromName: '孟津县', to: '410308', toName: '孟津区', date: '2021-03-01' },
  { from: '410306', fromName: '吉利区', to: '410308', toName: '孟津区', date: '2021-03-01' },
  { from: '512081', fromName: '简阳市', to: '510185', toName: '简阳市', date: '2016-05-01' },
  { from: '330185', fromName: '临安市', to: '330112', toName: '临安区', date: '2017-08-01' },
  { from: '350182', fromName: '长乐市', to: '350112', toName: '长乐区', date: '2017-08-01' },
];

/** The alias table in force: old code → change, and new code → every older code that leads to it. */
export class AliasTable {
  private readonly byFrom = new Map<string, CodeAlias>();
  private readonly preds = new Map<string, string[]>();

  constructor(aliases: readonly CodeAlias[]) {
    for (const a of aliases) this.byFrom.set(a.from, a);
    for (const a of aliases) {
      const to = this.current(a.from);
      const list = this.preds.get(to) ?? [];
      if (!list.includes(a.from)) list.push(a.from);
      this.preds.set(to, list);
    }
  }

  /** The change that retired `code`, if any. */
  change(code: string): CodeAlias | undefined {
    return this.byFrom.get(code);
  }

  /** The code in force for `code`: itself, or its successor (followed through chains, cycles cut). */
  current(code: string): string {
    let c = code;
    for (let i = 0; i < 10; i++) {
      const next = this.byFrom.get(c);
      if (!next) break;
      c = next.to;
    }
    return c;
  }

  /** Every older code whose schools are now under `code` (empty for most codes). */
  predecessors(code: string): readonly string[] {
    return this.preds.get(code) ?? [];
  }

  /** All declared changes. */
  all(): readonly CodeAlias[] {
    return [...this.byFrom.values()];
  }
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const CODE = /^\d{6}$/;

/**
 * Parses an operator's alias CSV (`from,from_name,to,to_name,date`, header required). Returns the
 * aliases and one message per bad row (`line N: …`); a bad row costs only itself.
 */
export function parseAliases(text: string, readCsv: (t: string, on: (f: string[], line: number) => void) => void): { aliases: CodeAlias[]; problems: string[] } {
  const aliases: CodeAlias[] = [];
  const problems: string[] = [];
  readCsv(text.replace(/^\uFEFF/, ''), (f, line) => {
    const [from = '', fromName = '', to = '', toName = '', date = ''] = f.map((x) => x.trim());
    if (line === 1 || f.every((x) => x.trim() === '')) return;
    if (!CODE.test(from) || !CODE.test(to) || from === to) problems.push(`line ${line}: from and to must be two different 6-digit codes, got ${JSON.stringify(from)} and ${JSON.stringify(to)}`);
    else if (!DATE.test(date) || Number.isNaN(Date.parse(date))) problems.push(`line ${line}: date must be YYYY-MM-DD, got ${JSON.stringify(date)}`);
    else aliases.push({ from, fromName, to, toName, date });
  });
  return { aliases, problems };
}
