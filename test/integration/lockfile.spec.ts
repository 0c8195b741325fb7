import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

describe('package-lock.json', () => {
  it('records every platform package npm ci will look for (so a fresh clone installs)', () => {
    const root = join(__dirname, '..', '..');
    // Throws (exit 1, naming the packages) when an entry is missing.
    expect(() => execFileSync(process.execPath, [join(root, 'scripts/lockfile-platform-stubs.mjs'), '--check'], { stdio: 'pipe' })).not.toThrow();
  });
});
