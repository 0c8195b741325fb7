#!/usr/bin/env node
/**
 * Some native packages list prebuilt binaries for every platform as optional dependencies, and
 * the registry this project's machines reach does not serve all of them. npm then leaves them out
 * of package-lock.json, and `npm ci` refuses the lockfile as out of sync. This records each
 * missing platform package as an optional, os/cpu-gated entry: npm ci skips it on other platforms
 * without fetching anything. Run it after `npm install` changes the lockfile:
 *   node scripts/lockfile-platform-stubs.mjs            (fix)
 *   node scripts/lockfile-platform-stubs.mjs --check    (exit 1 if something is missing)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const file = fileURLToPath(new URL('../package-lock.json', import.meta.url));
const lock = JSON.parse(readFileSync(file, 'utf8'));
const PLATFORM = /(darwin|linux|win32|freebsd|android)-(arm64|x64|arm|ia32|ppc64|s390x|riscv64)(?:-(?:gnu|musl|msvc|gnueabihf))?$/;

const missing = [];
for (const [path, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const at = `${path ? `${path}/` : ''}node_modules/${name}`;
    const hoisted = `node_modules/${name}`;
    if (lock.packages[at] || lock.packages[hoisted]) continue;
    const platform = PLATFORM.exec(name);
    if (!platform) continue;
    missing.push([hoisted, { version, cpu: [platform[2]], license: 'MIT', optional: true, os: [platform[1]] }]);
  }
}

if (process.argv.includes('--check')) {
  for (const [name] of missing) console.error(`package-lock.json lacks ${name}: run node scripts/lockfile-platform-stubs.mjs`);
  process.exit(missing.length ? 1 : 0);
}
for (const [name, entry] of missing) lock.packages[name] = entry;
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(missing.length ? `added ${missing.length} platform stub(s)` : 'lockfile complete');
