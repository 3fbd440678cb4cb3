import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { COMMENT_MAX_CHARS, HASH_THREADS_ENV, PROGRESS_AFTER_ENV, SUMMARY_MAX_BYTES } from '../../src/constants.js';
import { fitBytes, fitMarkdown } from '../../src/report/fit.js';
import { type Report, ReportSchema } from '../../src/report/schema.js';
import { git, runCli } from '../support/fixture-repo.js';
import { snapshotTree } from '../support/tree-snapshot.js';

// Issue 14 through the bundled CLI (run `npm run package` first): data folders of many files are copied and hashed
// in one pass on every core, progress shows on long work, and thousands of artifacts give a report within GitHub's
// limits. The records need no Python: their commands are shell.

const sha = (content: string | Buffer) => createHash('sha256').update(content).digest('hex');

/** The README's recipe for a folder's digest, with coreutils. */
const coreutilsDirectoryHash = (target: string) =>
  execFileSync('sh', ['-c', `cd "$1" && find . -type f | sed 's|^\\./||' | LC_ALL=C sort | xargs -r -d '\\n' sha256sum | sha256sum | cut -d' ' -f1`, 'sh', target], {
    encoding: 'utf8',
  }).trim();

const roots: string[] = [];
afterAll(async () => {
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

async function newRepo(prefix: string): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), `repro-gate-scale-${prefix}-`));
  roots.push(root);
  return root;
}

function commitAll(root: string, message: string): void {
  git(root, 'add', '-A');
  git(root, 'commit', '-qm', message);
}

/** An image-style dataset (ignored by git, as datasets are): nested class folders, empty files, spaces, non-ASCII names. */
async function writeImages(root: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const file = path.join(root, 'data', 'imgs', `class ${i % 5}`, i % 4 === 0 ? 'ünïcödé' : 'plain', `img_${i}.bin`);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, i % 17 === 0 ? '' : Buffer.alloc(2048 + i, i));
  }
}

const COUNT_IMAGES = 'mkdir -p out && find data/imgs -type f | wc -l | tr -d " " > out/count.txt';

async function reportOf(file: string): Promise<Report> {
  return ReportSchema.parse(JSON.parse(await readFile(file, 'utf8')));
}

describe('a data folder of many files', () => {
  let root: string;
  let out: string;
  beforeAll(async () => {
    root = await newRepo('imgs');
    out = await newRepo('out');
    await writeImages(root, 600);
    await writeFile(path.join(root, '.gitignore'), 'data/\nout/\n');
    git(root, 'init', '-q');
    commitAll(root, 'training');
  });

  it('is recorded with the coreutils digest on one thread as on every core, and verified with it', async () => {
    const expected = coreutilsDirectoryHash(path.join(root, 'data', 'imgs'));
    for (const threads of ['1', '']) {
      const recorded = await runCli(['record', '--current-env', '--name', 'imgs', '--data', 'data/imgs', '--artifact', 'out/count.txt', '--', 'sh', '-c', COUNT_IMAGES], {
        cwd: root,
        env: { [HASH_THREADS_ENV]: threads },
      });
      expect(recorded.status).toBe(0);
      expect(`${recorded.stdout}${recorded.stderr}`).toContain('Recorded imgs');
      const record = parse(await readFile(path.join(root, 'run.yaml'), 'utf8'));
      expect(record.data[0]).toMatchObject({ path: 'data/imgs', sha256: expected });
      expect(record.artifacts[0].sha256).toBe(sha('600\n'));
    }
    commitAll(root, 'record');
    const json = path.join(out, 'verify.json');
    const verified = await runCli(['verify', 'run.yaml', '--json', json], { cwd: root, env: { [HASH_THREADS_ENV]: '1' } });
    expect(verified.status).toBe(0);
    const record = (await reportOf(json)).records[0]!;
    expect(record.verdict).toBe('reproduced');
    expect(record.inputs).toEqual([expect.objectContaining({ kind: 'data', path: 'data/imgs', status: 'match', actual: expected })]);
    // The data is copied and hashed in the sandbox stage, before the inputs are judged.
    expect(record.stages.map((stage) => stage.stage).slice(0, 3)).toEqual(['load', 'sandbox', 'inputs']);
  });

  it('reaches the command as a copy: a command that writes into its data leaves the working tree byte-identical', async () => {
    const vandal = await newRepo('vandal');
    await writeImages(vandal, 50);
    const data = path.join(vandal, 'data', 'imgs');
    const digest = coreutilsDirectoryHash(data);
    const command = 'for f in data/imgs/*/*/*.bin; do echo poisoned >> "$f"; done; rm -rf "data/imgs/class 0"; mkdir -p out && echo done > out/a.txt';
    await writeFile(path.join(vandal, '.gitignore'), 'data/\nout/\n');
    await writeFile(path.join(vandal, 'run.yaml'), stringify({ version: 1, name: 'vandal', command, data: [{ path: 'data/imgs', sha256: digest }], artifacts: [{ path: 'out/a.txt', sha256: sha('done\n') }] }));
    git(vandal, 'init', '-q');
    commitAll(vandal, 'record');
    const before = await snapshotTree(vandal);
    const json = path.join(out, 'vandal.json');
    const verified = await runCli(['verify', 'run.yaml', '--json', json], { cwd: vandal });
    expect((await reportOf(json)).records[0]!.verdict).toBe('reproduced');
    expect(verified.status).toBe(0);
    expect(await snapshotTree(vandal)).toEqual(before);
    expect(coreutilsDirectoryHash(data)).toBe(digest);
  });

  it('prints progress lines for a slow input (a small threshold stands in for a long copy), and none for a fast one', async () => {
    const slow = await runCli(['verify', 'run.yaml'], { cwd: root, env: { [PROGRESS_AFTER_ENV]: '0' } });
    expect(slow.status).toBe(0);
    const lines = slow.stderr.split('\n').filter((line) => / files · /.test(line));
    expect(lines.length).toBeGreaterThan(0);
    // The copy of the data (600 files) and of the working tree: files done of those queued, bytes, throughput.
    expect(lines.at(-1)).toMatch(/^ {2}sandbox: (\d[\d,]*) of \1 files · [\d.]+ (B|KiB|MiB) · [\d.]+ (B|KiB|MiB|GiB)\/s$/);
    const fast = await runCli(['verify', 'run.yaml'], { cwd: root });
    expect(fast.status).toBe(0);
    expect(fast.stderr).not.toMatch(/ files · /);
  });
});

describe('many artifacts and many records', () => {
  it('verifies a record of 10,000 artifacts into a report within GitHub limits, the changed ones listed first', async () => {
    const root = await newRepo('many');
    const out = await newRepo('many-out');
    const count = 10_000;
    const content = (i: number) => `${String(i).padStart(8, '0')}`.repeat(512);
    await writeFile(path.join(root, 'write.cjs'), `const fs = require('node:fs'); fs.mkdirSync('out', { recursive: true });\nfor (let i = 0; i < ${count}; i++) fs.writeFileSync('out/a' + String(i).padStart(5, '0') + '.bin', String(i).padStart(8, '0').repeat(512));\n`);
    await writeFile(path.join(root, '.gitignore'), 'out/\n');
    // Every 1,000th artifact was recorded with another digest: ten changed among 10,000.
    const changed = (i: number) => i % 1000 === 7;
    const artifacts = Array.from({ length: count }, (_, i) => ({ path: `out/a${String(i).padStart(5, '0')}.bin`, sha256: changed(i) ? 'f'.repeat(64) : sha(content(i)) }));
    await writeFile(path.join(root, 'run.yaml'), stringify({ version: 1, name: 'many', command: `"${process.execPath}" write.cjs`, artifacts }));
    git(root, 'init', '-q');
    commitAll(root, 'record');
    const json = path.join(out, 'report.json');
    const verified = await runCli(['verify', 'run.yaml', '--json', json], { cwd: root });
    expect(verified.status).toBe(1);
    const report = await reportOf(json);
    const record = report.records[0]!;
    expect(record.verdict).toBe('drift');
    expect(record.artifacts.filter((artifact) => artifact.status === 'differs').map((artifact) => artifact.path)).toEqual(artifacts.filter((_, i) => changed(i)).map((artifact) => artifact.path));
    expect(record.artifacts.filter((artifact) => artifact.status === 'identical')).toHaveLength(count - 10);
    const comment = fitMarkdown(report, COMMENT_MAX_CHARS, { fullReportHint: 'see the job summary' });
    const summary = fitBytes(report, SUMMARY_MAX_BYTES, { fullReportHint: 'see the evidence' });
    expect(comment.length).toBeLessThanOrEqual(COMMENT_MAX_CHARS);
    expect(Buffer.byteLength(summary)).toBeLessThanOrEqual(SUMMARY_MAX_BYTES);
    for (const text of [comment, summary]) {
      const rows = text.split('\n').filter((line) => line.startsWith('| out/a'));
      // The ten that changed come first; the rest are counted.
      expect(rows.slice(0, 10).every((row) => row.includes('differs'))).toBe(true);
      expect(text).toMatch(/\| … and \d[\d,]* more \|/);
    }
    expect(verified.stdout).toContain('out/a00007.bin');
    expect(verified.stdout).not.toContain('out/a00008.bin');
  });

  it('verifies several records together, reports them in the order given, and checks --jobs', async () => {
    const root = await newRepo('records');
    const out = await newRepo('records-out');
    for (const name of ['first', 'second', 'third']) {
      await mkdir(path.join(root, name, 'data'), { recursive: true });
      await writeFile(path.join(root, name, 'data', 'rows.csv'), `${name}\n`);
      const command = `mkdir -p out && cat data/rows.csv > out/a.txt`;
      await writeFile(path.join(root, name, 'run.yaml'), stringify({ version: 1, name, command, data: [{ path: 'data/rows.csv', sha256: sha(`${name}\n`) }], artifacts: [{ path: 'out/a.txt', sha256: sha(`${name}\n`) }] }));
    }
    await writeFile(path.join(root, '.gitignore'), 'out/\n');
    git(root, 'init', '-q');
    commitAll(root, 'records');
    const records = ['third/run.yaml', 'first/run.yaml', 'second/run.yaml'];
    for (const jobs of [[], ['--jobs', '2']]) {
      const json = path.join(out, `jobs-${jobs.length}.json`);
      const verified = await runCli(['verify', ...records, '--json', json, ...jobs], { cwd: root });
      expect(verified.status).toBe(0);
      const report = await reportOf(json);
      expect(report.records.map((record) => [record.name, record.verdict])).toEqual([
        ['third', 'reproduced'],
        ['first', 'reproduced'],
        ['second', 'reproduced'],
      ]);
    }
    const refused = await runCli(['verify', ...records, '--jobs', '0'], { cwd: root });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('--jobs 0 must be a whole number from 1 to 64');
  });
});
