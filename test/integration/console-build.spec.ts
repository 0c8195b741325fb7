import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '../..');

describe('console build', () => {
  it("the console's API types match the api's OpenAPI document (run npm run api:types after changing a route or DTO)", () => {
    // The built script (openapi-typescript's dependencies are ES modules, which jest's CommonJS
    // runtime cannot load; node can). It builds the document from dist/ without a database.
    const script = join(ROOT, 'dist/scripts/api-types.js');
    if (!existsSync(script)) throw new Error(`${script} is missing: run npm run build first`);
    const dir = mkdtempSync(join(tmpdir(), 'aigw-api-types-'));
    try {
      execFileSync(process.execPath, [script, join(dir, 'schema.d.ts')], { encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'silent' } });
      const fresh = readFileSync(join(dir, 'schema.d.ts'), 'utf8');
      const committed = readFileSync(join(ROOT, 'web/src/lib/api/schema.d.ts'), 'utf8');
      expect(committed === fresh).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("keeps the sign-in page's JavaScript under 250 KB gzip, with the chart library only in lazy chunks", () => {
    if (!existsSync(join(ROOT, 'dist/web/.vite/manifest.json'))) throw new Error('dist/web is missing: run npm run build first');
    const measured = JSON.parse(execFileSync(process.execPath, [join(ROOT, 'web/scripts/bundle-size.mjs'), '--json'], { encoding: 'utf8' }));
    expect(measured.budget).toBe(250 * 1024);
    expect(measured.signInGzip).toBeGreaterThan(50 * 1024);
    expect(measured.signInGzip).toBeLessThan(measured.budget);
    const signInSource = measured.signInChunks.map((c: { file: string }) => readFileSync(join(ROOT, 'dist/web', c.file), 'utf8')).join('\n');
    // ECharts registers its renderers under these names; none of it may load with sign-in.
    expect(signInSource).not.toMatch(/echarts|zrender/i);
  });
});
