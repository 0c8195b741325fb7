import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { migrate } from '@app/database';
import { ALL_MIGRATIONS } from '../../migrations';
import { connectAs } from '../support/db';

const MIGRATIONS_DIR = join(__dirname, '..', '..', 'migrations');
const FILE_NAME = /^(\d{13})-[A-Za-z0-9]+\.ts$/;

/** The migration files on disk (lib/ and index.ts are helpers, not migrations). */
function migrationFiles(): string[] {
  return readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && entry.name !== 'index.ts')
    .map((entry) => entry.name)
    .sort();
}

describe('migrations', () => {
  let admin: Client;

  beforeAll(async () => {
    admin = await connectAs('admin');
  });

  afterAll(async () => {
    await admin?.end();
  });

  it('are all named <13-digit timestamp>-<Name>.ts', () => {
    const files = migrationFiles();
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(file).toMatch(FILE_NAME);
  });

  it('are all listed in ALL_MIGRATIONS, in timestamp order, each under its file timestamp', () => {
    const listed = new Set<unknown>(ALL_MIGRATIONS);
    const expected: unknown[] = [];
    for (const file of migrationFiles()) {
      const timestamp = FILE_NAME.exec(file)![1];
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const exported = Object.values(require(join(MIGRATIONS_DIR, file)) as Record<string, unknown>).filter(
        (value): value is new () => { name?: string } => typeof value === 'function' && typeof value.prototype?.up === 'function',
      );
      expect({ file, migrations: exported.length }).toEqual({ file, migrations: 1 });
      const [migration] = exported;
      // TypeORM orders and records migrations by the timestamp at the end of the class name.
      expect({ file, name: new migration().name ?? migration.name }).toEqual({ file, name: expect.stringMatching(new RegExp(`${timestamp}$`)) });
      expect({ file, listed: listed.has(migration) }).toEqual({ file, listed: true });
      expected.push(migration);
    }
    expect(ALL_MIGRATIONS).toEqual(expected);
  });

  it('apply nothing when run again, and the database records every one of them', async () => {
    expect(await migrate({ adminUrl: process.env.DATABASE_ADMIN_URL! })).toEqual([]);
    const { rows } = await admin.query<{ name: string }>(`SELECT name FROM migrations ORDER BY timestamp`);
    expect(rows.map((r) => r.name)).toEqual(ALL_MIGRATIONS.map((m) => new m().name));
  });
});
