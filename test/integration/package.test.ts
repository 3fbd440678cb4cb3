import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { PROJECT_ROOT } from '../support/fixture-repo.js';

// The README's `npx repro-gate`: the published tarball, installed where nothing else is, must run on its own.
// It packs the committed dist/ (the dist test proves that is what `npm run package` builds).

const npm = (args: string[], cwd: string) => execFileSync('npm', [...args, '--no-audit', '--no-fund', '--no-update-notifier'], { cwd, encoding: 'utf8' });

describe('the npm package', () => {
  it('packs only what users run, installs with no dependencies, and answers --version and record --help', async () => {
    const packDir = await mkdtemp(path.join(tmpdir(), 'repro-gate-pack-'));
    const prefix = await mkdtemp(path.join(tmpdir(), 'repro-gate-prefix-'));
    onTestFinished(() => Promise.all([packDir, prefix].map((dir) => rm(dir, { recursive: true, force: true }))).then(() => undefined));
    const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', packDir], PROJECT_ROOT)) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = packed!.files.map((file) => file.path);
    expect(files).toEqual(expect.arrayContaining(['dist/cli/index.js', 'dist/index.js', 'schema/run-record.v1.json', 'action.yml', 'README.md', 'package.json']));
    expect(files.filter((file) => /^(src|test|scripts|node_modules|examples)\//.test(file))).toEqual([]);

    npm(['install', '--global', '--prefix', prefix, path.join(packDir, packed!.filename)], prefix);
    const installed = path.join(prefix, 'lib', 'node_modules', 'repro-gate');
    expect((await readdir(installed)).sort()).toEqual(['README.md', 'action.yml', 'dist', 'package.json', 'schema']);

    const bin = path.join(prefix, 'bin', 'repro-gate');
    const { version } = JSON.parse(await readFile(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(execFileSync(bin, ['--version'], { encoding: 'utf8' })).toBe(`${version}\n`);
    const help = spawnSync(bin, ['record', '--help'], { encoding: 'utf8' });
    expect(help.stderr).toBe('');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: repro-gate record /);
    expect(help.stdout).toContain('--artifact');
  });
});
