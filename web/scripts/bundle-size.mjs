#!/usr/bin/env node
/**
 * Measures the JavaScript the sign-in page downloads (the entry chunk and everything it imports
 * statically, from Vite's manifest), gzipped, and prints it with the budget. The lazy pages (and
 * the chart library they pull in) are listed too but are not part of sign-in.
 *   node web/scripts/bundle-size.mjs          print
 *   node web/scripts/bundle-size.mjs --json   print the measurement as JSON (the budget test reads it)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const SIGN_IN_BUDGET_BYTES = 250 * 1024;

const dist = fileURLToPath(new URL('../../dist/web/', import.meta.url));

export function measure(dir = dist) {
  const manifest = JSON.parse(readFileSync(join(dir, '.vite', 'manifest.json'), 'utf8'));
  const entry = Object.values(manifest).find((chunk) => chunk.isEntry);
  const signIn = new Set();
  const walk = (key) => {
    const chunk = manifest[key] ?? Object.values(manifest).find((c) => c.file === key);
    if (!chunk || signIn.has(chunk.file)) return;
    signIn.add(chunk.file);
    for (const imported of chunk.imports ?? []) walk(imported);
  };
  walk(Object.keys(manifest).find((key) => manifest[key] === entry));
  const size = (file) => gzipSync(readFileSync(join(dir, file))).length;
  const signInChunks = [...signIn].filter((f) => f.endsWith('.js')).map((file) => ({ file, gzip: size(file) }));
  const lazyChunks = Object.values(manifest)
    .filter((chunk) => chunk.file.endsWith('.js') && !signIn.has(chunk.file))
    .map((chunk) => ({ file: chunk.file, gzip: size(chunk.file) }));
  return { signInGzip: signInChunks.reduce((sum, c) => sum + c.gzip, 0), budget: SIGN_IN_BUDGET_BYTES, signInChunks, lazyChunks };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = measure();
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(result));
  } else {
    const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
    console.log(`[console] sign-in JavaScript: ${kb(result.signInGzip)} gzip (budget ${kb(result.budget)})`);
    for (const c of result.signInChunks) console.log(`  ${c.file.padEnd(48)} ${kb(c.gzip)}`);
    console.log('[console] lazy chunks (other pages):');
    for (const c of result.lazyChunks.sort((a, b) => b.gzip - a.gzip)) console.log(`  ${c.file.padEnd(48)} ${kb(c.gzip)}`);
    if (result.signInGzip > result.budget) {
      console.error('[console] sign-in JavaScript is over budget');
      process.exit(1);
    }
  }
}
