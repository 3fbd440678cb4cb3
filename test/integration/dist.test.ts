import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../support/fixture-repo.js';

// GitHub runs the committed dist/, not src/: it must be exactly what `npm run package` builds from src/.

async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)))
    .sort();
}

describe('committed dist/', () => {
  it('is byte-identical to a fresh `npm run package`', async () => {
    const fresh = await mkdtemp(path.join(tmpdir(), 'repro-gate-dist-'));
    execFileSync(process.execPath, [path.join(PROJECT_ROOT, 'scripts', 'package.mjs'), fresh], { cwd: PROJECT_ROOT, stdio: 'ignore' });
    const committed = path.join(PROJECT_ROOT, 'dist');
    const files = await filesUnder(fresh);
    expect(await filesUnder(committed)).toEqual(files);
    expect(files).toEqual(expect.arrayContaining(['index.js', path.join('cli', 'index.js')]));
    const stale = [];
    for (const file of files) {
      const [built, onDisk] = await Promise.all([readFile(path.join(fresh, file)), readFile(path.join(committed, file))]);
      if (!built.equals(onDisk)) stale.push(file);
    }
    expect(stale, `dist/ is stale (${stale.join(', ')}): run \`npm run package\` and commit dist/`).toEqual([]);
  });
});
