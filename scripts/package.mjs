#!/usr/bin/env node
// Builds the two committed bundles: the action (dist/index.js) and the CLI (dist/cli/index.js).
// Usage: node scripts/package.mjs [outDir]   (the dist test builds into a temporary folder and compares)
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.resolve(process.argv[2] ?? path.join(root, 'dist'));
const ncc = path.join(root, 'node_modules', '@vercel', 'ncc', 'dist', 'ncc', 'cli.js');
const bundles = [
  ['src/action/index.ts', out],
  ['src/cli/index.ts', path.join(out, 'cli')],
];
for (const [entry, dir] of bundles) {
  execFileSync(process.execPath, [ncc, 'build', entry, '-o', dir, '--license', 'licenses.txt', '--target', 'es2022', '--transpile-only', '--quiet'], {
    cwd: root,
    stdio: 'inherit',
  });
}
