import { cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type Report, ReportSchema } from '../../src/report/schema.js';
import { git, recordingCacheRoot, runCli } from '../support/fixture-repo.js';
import { snapshotTree } from '../support/tree-snapshot.js';

// A real training that imports a helper from a sibling package and reads a YAML config: the probe learns both, and
// `verify --affected` reruns the record only when something it read changed. Its venv is rebuilt from requirements
// that pin nothing (the training needs only the standard library), so it builds in seconds.

const TRAIN = `import json, os, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from shared import helpers

config = dict(line.split(": ", 1) for line in open("configs/train.yaml").read().splitlines() if line)
try:
    overrides = open("local.yaml").read()
except FileNotFoundError:
    overrides = ""
os.makedirs("out", exist_ok=True)
json.dump({"score": helpers.score(int(config["n"])), "overrides": len(overrides)}, open("out/metrics.json", "w"))
`;

const FILES: Record<string, string> = {
  'models/a/train.py': TRAIN,
  'models/a/configs/train.yaml': 'n: 7\n',
  'shared/__init__.py': '',
  'shared/helpers.py': 'def score(n):\n    return n * 2\n',
  'README.md': '# models\n',
  'models/a/requirements.txt': '# the standard library is all this training needs\n',
  '.gitignore': 'out/\nlocal.yaml\n',
};

interface Repo {
  root: string;
  write(relative: string, content: string): Promise<void>;
  commit(message: string): void;
  verify(args?: string[]): Promise<{ status: number | null; stdout: string; stderr: string; report: Report }>;
}

async function writeInto(root: string, relative: string, content: string): Promise<void> {
  await mkdir(path.dirname(path.join(root, relative)), { recursive: true });
  await writeFile(path.join(root, relative), content);
}

/** Writes the training, commits it and records it (in models/a), as its author would; the template every case copies. */
async function recordTemplate(): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'repro-gate-affected-'));
  for (const [relative, content] of Object.entries(FILES)) await writeInto(root, relative, content);
  git(root, 'init', '-q');
  git(root, 'add', '.');
  git(root, 'commit', '-qm', 'training');
  const recorded = await runCli(['record', '--requirements', 'requirements.txt', '--metrics', 'out/metrics.json', '--', 'python', 'train.py'], { cwd: path.join(root, 'models', 'a'), env: await cacheEnv() });
  if (recorded.status !== 0) throw new Error(`record failed: ${recorded.stderr}`);
  git(root, 'add', '.');
  git(root, 'commit', '-qm', 'record');
  return root;
}

let template: Promise<string> | undefined;
const cacheEnv = async () => ({ REPRO_GATE_CACHE_DIR: await recordingCacheRoot() });

/** A copy of the recorded repository (its .git included), for one case to change as a pull request would. */
async function recordedRepository(): Promise<Repo> {
  template ??= recordTemplate();
  const root = await mkdtemp(path.join(tmpdir(), 'repro-gate-affected-'));
  await cp(await template, root, { recursive: true });
  return {
    root,
    write: (relative, content) => writeInto(root, relative, content),
    commit: (message) => {
      git(root, 'add', '-A');
      git(root, 'commit', '-qm', message);
    },
    verify: async (args = []) => {
      const json = path.join(await mkdtemp(path.join(tmpdir(), 'repro-gate-out-')), 'report.json');
      const before = await snapshotTree(root);
      const result = await runCli(['verify', 'models/a/run.yaml', '--json', json, ...args], { cwd: root, env: await cacheEnv() });
      expect(await snapshotTree(root)).toEqual(before);
      return { ...result, report: ReportSchema.parse(JSON.parse(await readFile(json, 'utf8'))) };
    },
  };
}

describe('verify --affected: the training\'s real input set decides which records a pull request reruns', () => {
  it('record learns the helper module and the YAML config the training read, and nothing it wrote or declared', async () => {
    const repo = await recordedRepository();
    const record = parse(await readFile(path.join(repo.root, 'models/a/run.yaml'), 'utf8'));
    expect(record.code.files.map((file: { path: string }) => file.path)).toEqual(['models/a/configs/train.yaml', 'models/a/train.py', 'shared/__init__.py', 'shared/helpers.py']);
    expect(record.code.files.every((file: { sha256: string }) => /^[0-9a-f]{64}$/.test(file.sha256))).toBe(true);
  });

  it('an unrelated change is unaffected: not rerun, passing, in well under a second of deciding', async () => {
    const repo = await recordedRepository();
    await repo.write('README.md', '# models, documented\n');
    repo.commit('docs');
    const result = await repo.verify(['--affected', '--base', 'HEAD~1']);
    expect(result.status).toBe(0);
    const [record] = result.report.records;
    expect(record).toMatchObject({ verdict: 'unaffected', affected: { affected: false, inputs: 5, reason: 'not rerun: none of its 5 inputs changed since it was recorded' } });
    // Nothing ran: no rerun report, no rerun timings.
    expect(record?.run).toBeUndefined();
    expect(record?.reruns).toBeUndefined();
    expect(result.report.verdict).toBe('unaffected');
    expect(result.stdout).toContain('not rerun: none of its 5 inputs changed since it was recorded');
    // Without --affected the same record is rerun, as before.
    const all = await repo.verify();
    expect(all.report.records[0]?.verdict).toBe('reproduced');
  });

  it('a change to the shared helper reruns the record, and the likely causes name the helper file with its diff', async () => {
    const repo = await recordedRepository();
    await repo.write('shared/helpers.py', 'def score(n):\n    return n * 3\n');
    repo.commit('helper');
    const result = await repo.verify(['--affected', '--base', 'HEAD~1']);
    expect(result.status).toBe(1);
    const [record] = result.report.records;
    expect(record?.verdict).toBe('drift');
    expect(record?.affected).toMatchObject({ affected: true, reason: 'rerun: an input changed since it was recorded (shared/helpers.py)' });
    expect(record?.causes).toContainEqual(expect.objectContaining({ kind: 'code-changed', subject: 'shared/helpers.py (read by the training)' }));
    // Only what the training read counts: README.md is not a cause even where it changed too.
    expect(record?.causes.map((cause) => cause.subject).join(' ')).not.toContain('README');
    expect(record?.inputs.find((input) => input.kind === 'code')?.diff).toContain('+    return n * 3');
  });

  it('a git-ignored file the training reads, not declared, is a record-time error naming it (even when the training copes without it)', async () => {
    const repo = await recordedRepository();
    await repo.write('models/a/local.yaml', 'debug: true\n');
    const before = await snapshotTree(repo.root);
    const result = await runCli(['record', '--requirements', 'requirements.txt', '--metrics', 'out/metrics.json', '--out', 'again.yaml', '--', 'python', 'train.py'], {
      cwd: path.join(repo.root, 'models', 'a'),
      env: await cacheEnv(),
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('the command could not open models/a/local.yaml: it is in your working tree, but git ignores it and it was not passed with --data');
    expect(await snapshotTree(repo.root)).toEqual(before);
  });

  it('a record without code.files (recorded before inputs were learned) is always rerun', async () => {
    const repo = await recordedRepository();
    const file = path.join(repo.root, 'models/a/run.yaml');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace(/\n {2}files:\n( {4}- .*\n)+/, '\n'));
    expect(parse(await readFile(file, 'utf8')).code.files).toBeUndefined();
    repo.commit('an old record');
    const result = await repo.verify(['--affected', '--base', 'HEAD']);
    expect(result.report.records[0]).toMatchObject({ verdict: 'reproduced', affected: { affected: true } });
    expect(result.report.records[0]?.affected?.reason).toMatch(/no learned input set/);
  });

  it('a module added later is reached through its importer: the next pull request that changes only it is affected', async () => {
    const repo = await recordedRepository();
    // Pull request A adds a module and imports it from the helper; it merges without re-recording.
    await repo.write('shared/extra.py', 'FACTOR = 2\n');
    await repo.write('shared/helpers.py', 'from shared.extra import FACTOR\n\ndef score(n):\n    return n * FACTOR\n');
    repo.commit('pull request A');
    // Pull request B changes only the new module.
    await repo.write('shared/extra.py', 'FACTOR = 5\n');
    repo.commit('pull request B');
    const result = await repo.verify(['--affected', '--base', 'HEAD~1']);
    expect(result.report.records[0]?.affected).toMatchObject({ affected: true, reason: 'rerun: an input changed since it was recorded (shared/helpers.py)' });
    expect(result.report.records[0]?.verdict).toBe('drift');
  });

  it('with --base, a record the pull request edited is affected, whatever its hashes say', async () => {
    const repo = await recordedRepository();
    const file = path.join(repo.root, 'models/a/run.yaml');
    await writeFile(file, (await readFile(file, 'utf8')).replace('name: a', 'name: a-renamed'));
    repo.commit('rename');
    const result = await repo.verify(['--affected', '--base', 'HEAD~1']);
    expect(result.report.records[0]?.affected).toMatchObject({ affected: true, reason: 'rerun: the record itself changed since the base' });
  });

  it('a new file that shadows a module the training imports is affected, though no learned file changed', async () => {
    const repo = await recordedRepository();
    await repo.write('models/a/json.py', 'raise SystemExit("not the json you were looking for")\n');
    repo.commit('shadow json');
    const result = await repo.verify(['--affected', '--base', 'HEAD~1']);
    expect(result.report.records[0]?.affected?.reason).toMatch(/^rerun: files were added, renamed or re-linked since code\.commit \(models\/a\/json\.py\)/);
    expect(result.report.records[0]?.verdict).toBe('error');
  });

  it('files added where the training never looked (another model\'s folder) leave it unaffected; one in a folder it listed does not', async () => {
    const repo = await recordedRepository();
    const record = parse(await readFile(path.join(repo.root, 'models/a/run.yaml'), 'utf8'));
    // The import system searched the script's folder and the repository root (sys.path), and the shared package.
    expect(record.code.listed).toEqual(expect.arrayContaining(['.', 'models/a', 'shared']));
    expect(record.code.listed).not.toContain('models');
    await repo.write('models/b/train.py', 'print("another model")\n');
    await repo.write('models/b/run.yaml', 'version: 1\n');
    repo.commit('a second model');
    const unrelated = await repo.verify(['--affected', '--base', 'HEAD~1']);
    expect(unrelated.report.records[0]?.verdict).toBe('unaffected');
    // A new folder at the root, which the import system listed, is a package `import docs` would find.
    await repo.write('docs/guide.md', '# guide\n');
    repo.commit('docs');
    const newFolder = await repo.verify(['--affected', '--base', 'HEAD~1']);
    expect(newFolder.report.records[0]?.affected?.reason).toMatch(/\(docs\/guide\.md\)/);
    // A module in the shared package the training imports from could shadow or add to what it imports.
    await repo.write('shared/extra.py', 'VALUE = 1\n');
    repo.commit('a new shared module');
    const beside = await repo.verify(['--affected', '--base', 'HEAD~1']);
    expect(beside.report.records[0]?.affected?.reason).toMatch(/^rerun: files were added, renamed or re-linked since code\.commit \(docs\/guide\.md, shared\/extra\.py\)/);
  });

  it('without a base to compare the record with, every record is rerun: its hashes could have been edited', async () => {
    const repo = await recordedRepository();
    const result = await repo.verify(['--affected']);
    expect(result.report.records[0]).toMatchObject({ verdict: 'reproduced', affected: { affected: true } });
    expect(result.report.records[0]?.affected?.reason).toMatch(/no base to compare the record itself with/);
  });

  it('a command that is not one plain Python invocation learns no input set, says why, and is always rerun', async () => {
    const repo = await recordedRepository();
    const cwd = path.join(repo.root, 'models', 'a');
    const result = await runCli(['record', '--requirements', 'requirements.txt', '--metrics', 'out/metrics.json', '--', 'sh', '-c', 'python train.py && echo done'], { cwd, env: await cacheEnv() });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain('no input set (code.files) was learned, so verify --affected always reruns this record: the command is not one plain Python invocation');
    expect(parse(await readFile(path.join(cwd, 'run.yaml'), 'utf8')).code.files).toBeUndefined();
    repo.commit('re-recorded through a shell');
    const verified = await repo.verify(['--affected', '--base', 'HEAD']);
    expect(verified.report.records[0]?.affected?.affected).toBe(true);
  });
});
