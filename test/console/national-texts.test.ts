/**
 * The national pages' texts: every key a national page asks `t()` for exists in Chinese and in English
 * (the console's dictionary plus national-i18n.js), and national-i18n.js has the same keys in both.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';

const STATIC = join(import.meta.dirname, '..', '..', 'collector', 'console', 'static', 'js');

describe('collector/console national pages: texts in both languages', () => {
  it('every t() key of the national pages has a zh-CN and an en text', async () => {
    const { DICT } = (await import(join(STATIC, 'i18n.js'))) as { DICT: Record<string, Record<string, string>> };
    await import(join(STATIC, 'national-i18n.js'));
    const keys = new Set<string>();
    for (const f of ['national.js', 'national-map.js', 'national-common.js']) {
      for (const m of readFileSync(join(STATIC, f), 'utf8').matchAll(/\bt\('([^']+)'/g)) keys.add(m[1] as string);
    }
    expect(keys.size).to.be.greaterThan(30);
    const missing = [...keys].filter((k) => !DICT['zh-CN']?.[k] || !DICT.en?.[k]);
    expect(missing).to.deep.equal([]);
  });

  it('national-i18n.js has the same keys in Chinese and English', () => {
    const src = readFileSync(join(STATIC, 'national-i18n.js'), 'utf8');
    const block = (name: string) => new Set([...(new RegExp(`const ${name} = \\{([\\s\\S]*?)\\n\\};`).exec(src)?.[1] ?? '').matchAll(/(?:^|,)\s*'?([\w.]+)'?:\s*['"]/gm)].map((m) => m[1]));
    expect(block('zh').size).to.be.greaterThan(20);
    expect([...block('zh')].sort()).to.deep.equal([...block('en')].sort());
  });
});
