import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

type Tree = Record<string, unknown>;

/** One language's files (locales/<language>/*.json), each a set of top-level namespaces. */
function files(language: string): Map<string, Tree> {
  const dir = join(__dirname, language);
  return new Map(readdirSync(dir).filter((name) => name.endsWith('.json')).map((name) => [name, JSON.parse(readFileSync(join(dir, name), 'utf8')) as Tree]));
}

function merged(language: string): Tree {
  return Object.assign({}, ...files(language).values());
}

const en = merged('en');
const zhCN = merged('zh-CN');

function keys(tree: object, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([key, value]) => (typeof value === 'object' && value !== null ? keys(value, `${prefix}${key}.`) : [`${prefix}${key}`]));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : /\.tsx?$/.test(entry.name) && !entry.name.endsWith('.spec.ts') ? [join(dir, entry.name)] : [],
  );
}

describe('console message catalogs', () => {
  it('each language has the same files, and no two files share a top-level namespace', () => {
    expect([...files('zh-CN').keys()].sort()).toEqual([...files('en').keys()].sort());
    for (const language of ['en', 'zh-CN']) {
      const owners = new Map<string, string[]>();
      for (const [file, tree] of files(language)) for (const ns of Object.keys(tree)) owners.set(ns, [...(owners.get(ns) ?? []), file]);
      expect([...owners].filter(([, list]) => list.length > 1)).toEqual([]);
    }
  });

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
