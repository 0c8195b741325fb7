import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import en from './en.json';
import zhCN from './zh-CN.json';

function keys(tree: object, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([key, value]) => (typeof value === 'object' && value !== null ? keys(value, `${prefix}${key}.`) : [`${prefix}${key}`]));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : /\.tsx?$/.test(entry.name) && !entry.name.endsWith('.spec.ts') ? [join(dir, entry.name)] : [],
  );
}

describe('console message catalogs', () => {
  it('English and Simplified Chinese have the same keys', () => {
    expect(keys(zhCN).sort()).toEqual(keys(en).sort());
  });

  it('no message is empty, and the placeholders match', () => {
    const zh = new Map(Object.entries(Object.fromEntries(keys(zhCN).map((k) => [k, k.split('.').reduce<any>((o, p) => o[p], zhCN)]))));
    for (const key of keys(en)) {
      const english: string = key.split('.').reduce<any>((o, p) => o[p], en);
      const chinese: string = zh.get(key);
      expect({ key, empty: english.trim() === '' || chinese.trim() === '' }).toEqual({ key, empty: false });
      const placeholders = (s: string) => [...s.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort();
      expect({ key, placeholders: placeholders(chinese) }).toEqual({ key, placeholders: placeholders(english) });
    }
  });

  it("every key the code names literally is in the catalogs (t('...'))", () => {
    const known = new Set(keys(en));
    const used = sourceFiles(join(__dirname, '..')).flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/\bt\('([a-zA-Z0-9]+\.[a-zA-Z0-9.]+)'/g)].map((m) => m[1]));
    expect(used.length).toBeGreaterThan(50);
    expect(used.filter((key) => !known.has(key))).toEqual([]);
  });
});
