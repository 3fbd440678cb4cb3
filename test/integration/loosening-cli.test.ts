import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type Report, ReportSchema } from '../../src/report/schema.js';
import { git, runCli } from '../support/fixture-repo.js';
import { snapshotTree } from '../support/tree-snapshot.js';

// `verify --base REF` through the bundled CLI, in real git repositories: a record loosened since the base is
// reported whatever the verdict. The records need no Python: the command writes the artifact and metrics itself.

const COMMAND = `mkdir -p out && echo hi > out/a.txt && echo '{"acc": 0.9}' > out/m.json`;
const HI_SHA256 = createHash('sha256').update('hi\n').digest('hex');

function runRecord(name: string): Record<string, any> {
  return {
    version: 1,
    name,
    command: COMMAND,
    artifacts: [{ path: 'out/a.txt', sha256: HI_SHA256 }],
    metrics: { path: 'out/m.json', values: { acc: 0.9 } },
    tolerance: { default: { abs: 0.001 } },
    thresholds: { acc: { min: 0.8 } },
  };
}

interface Repo {
  root: string;
  base: string;
  writeRecord(relative: string, record: Record<string, any>): Promise<void>;
  commit(message: string): string;
}

/** A git repository whose first commit (the base) holds the given records. */
async function repoWithRecords(records: Record<string, Record<string, any>>): Promise<Repo> {
  const root = await mkdtemp(path.join(tmpdir(), 'repro-gate-loosening-'));
  const writeRecord = async (relative: string, record: Record<string, any>) => {
    await mkdir(path.dirname(path.join(root, relative)), { recursive: true });
    await writeFile(path.join(root, relative), stringify(record));
  };
  await writeFile(path.join(root, '.gitignore'), 'out/\n');
  for (const [relative, record] of Object.entries(records)) await writeRecord(relative, record);
  git(root, 'init', '-q');
  const commit = (message: string) => {
    git(root, 'add', '-A');
    git(root, 'commit', '-qm', message);
    return git(root, 'rev-parse', 'HEAD').trim();
  };
  return { root, base: commit('base'), writeRecord, commit };
}

/** Runs verify, proves the tree (.git included) is byte-identical afterwards, and reads the JSON report. */
async function verify(repo: Repo, args: string[]) {
  const jsonFile = path.join(await mkdtemp(path.join(tmpdir(), 'repro-gate-out-')), 'report.json');
  const before = await snapshotTree(repo.root);
  const result = await runCli(['verify', '--json', jsonFile, ...args], { cwd: repo.root });
  expect(await snapshotTree(repo.root)).toEqual(before);
  const report: Report | undefined = await readFile(jsonFile, 'utf8').then(
    (text) => ReportSchema.parse(JSON.parse(text)),
    () => undefined,
  );
  return { ...result, report, jsonFile };
}

describe('repro-gate verify --base (integration)', () => {
  it('reports a widened tolerance while the record reproduces; --fail-on-loosened makes it exit 1', async () => {
    const repo = await repoWithRecords({ 'run.yaml': runRecord('tiny') });
    await repo.writeRecord('run.yaml', { ...runRecord('tiny'), tolerance: { default: { abs: 0.05 } } });
    repo.commit('widen the tolerance');

    const reported = await verify(repo, ['--base', repo.base, 'run.yaml']);
    expect(reported.stderr).not.toMatch(/at .*\.js:\d+/);
    expect(reported.status).toBe(0);
    expect(reported.report?.verdict).toBe('reproduced');
    expect(reported.report?.base).toEqual({ ref: repo.base, commit: repo.base });
    expect(reported.report?.loosened).toEqual([{ recordPath: 'run.yaml', kind: 'tolerance-widened', subject: 'acc', before: '±0.001', after: '±0.05' }]);
    expect(reported.stdout).toContain('⚠ The record was loosened');
    expect(reported.stdout).toContain('run.yaml: tolerance of acc widened: ±0.001 → ±0.05');
    expect(reported.stdout.indexOf('loosened')).toBeLessThan(reported.stdout.indexOf('tiny: reproduced'));

    // `merge` (the action's comment mode) validates the report and carries the findings through.
    const mergedFile = path.join(path.dirname(reported.jsonFile), 'merged.json');
    const merged = await runCli(['merge', reported.jsonFile, '--json', mergedFile], { cwd: repo.root });
    expect(merged.status).toBe(0);
    expect(merged.stdout).toContain('run.yaml: tolerance of acc widened: ±0.001 → ±0.05');
    const mergedReport = ReportSchema.parse(JSON.parse(await readFile(mergedFile, 'utf8')));
    expect([mergedReport.base, mergedReport.loosened]).toEqual([reported.report?.base, reported.report?.loosened]);

    const failing = await verify(repo, ['--base', repo.base, 'run.yaml', '--fail-on-loosened']);
    expect(failing.status).toBe(1);
    expect(failing.report?.verdict).toBe('reproduced');
    expect(failing.report?.loosened).toHaveLength(1);

    // A branch name works as well as a commit, and the markdown has the section under its headline.
    git(repo.root, 'branch', 'before-widening', repo.base);
    const markdownFile = path.join(await mkdtemp(path.join(tmpdir(), 'repro-gate-out-')), 'report.md');
    const byBranch = await verify(repo, ['--base', 'before-widening', 'run.yaml', '--markdown', markdownFile]);
    expect(byBranch.report?.base).toEqual({ ref: 'before-widening', commit: repo.base });
    const markdown = await readFile(markdownFile, 'utf8');
    expect(markdown).toMatch(/^## ✅ repro-gate: reproduced\n\n1 record: 1 reproduced\n\n### ⚠️ The record was loosened\n/);
    expect(markdown).toContain('- run.yaml: tolerance of acc widened: ±0.001 → ±0.05\n');
  });

  it('finds nothing to fail on in a re-record or a tightening, and lists what was re-recorded', async () => {
    const repo = await repoWithRecords({ 'run.yaml': { ...runRecord('tiny'), artifacts: [{ path: 'out/a.txt', sha256: 'e'.repeat(64) }], metrics: { path: 'out/m.json', values: { acc: 0.85 } } } });
    // Uncommitted changes count: the record is compared as it is in the working tree.
    await repo.writeRecord('run.yaml', { ...runRecord('tiny'), tolerance: { default: { abs: 0 } }, thresholds: { acc: { min: 0.85 } } });
    const result = await verify(repo, ['--base', repo.base, 'run.yaml', '--fail-on-loosened']);
    expect(result.status).toBe(0);
    expect(result.report?.loosened).toEqual([]);
    expect(result.report?.rerecorded).toEqual([{ recordPath: 'run.yaml', changes: [{ kind: 'artifact-hash', count: 1 }, { kind: 'metric-value', count: 1 }] }]);
    expect(result.stdout).toContain('re-recorded (not a loosening): run.yaml: artifact hash, metric value');
    expect(result.stdout).not.toContain('The record was loosened');
  });

  it('reports a deleted record as a finding, verifies the rest, and keeps the finding when nothing is left to verify', async () => {
    const repo = await repoWithRecords({ 'models/a/run.yaml': runRecord('alpha'), 'models/b/run.yaml': runRecord('beta') });
    await rm(path.join(repo.root, 'models', 'b'), { recursive: true });
    repo.commit('drop beta');

    const rest = await verify(repo, ['--base', repo.base, 'models/a/run.yaml', 'models/b/run.yaml']);
    expect(rest.status).toBe(0);
    expect(rest.report?.records.map((record) => [record.name, record.verdict])).toEqual([['alpha', 'reproduced']]);
    expect(rest.report?.loosened).toEqual([{ recordPath: 'models/b/run.yaml', kind: 'record-deleted', subject: 'models/b/run.yaml', before: 'beta', after: null }]);
    expect((await verify(repo, ['--base', repo.base, 'models/a/run.yaml', 'models/b/run.yaml', '--fail-on-loosened'])).status).toBe(1);

    // Only the deleted one: nothing was verified (an error, as always), and the report still says why.
    const none = await verify(repo, ['--base', repo.base, 'models/b/run.yaml']);
    expect(none.status).toBe(2);
    expect(none.report?.records).toEqual([]);
    expect(none.report?.loosened?.map((finding) => finding.kind)).toEqual(['record-deleted']);
    expect(none.stdout).toContain('models/b/run.yaml: record deleted (beta)');

    // Without --base, a missing record is the usual error of that record.
    const plain = await verify(repo, ['models/b/run.yaml']);
    expect(plain.status).toBe(2);
    expect(plain.report?.records[0]?.error?.message).toMatch(/not found/);
    expect(plain.report?.loosened).toBeUndefined();
  });

  it('has nothing to say about a record that is new since the base', async () => {
    const repo = await repoWithRecords({ 'README.md': {} });
    await repo.writeRecord('run.yaml', runRecord('tiny'));
    const result = await verify(repo, ['--base', repo.base, 'run.yaml', '--fail-on-loosened']);
    expect(result.status).toBe(0);
    expect(result.report?.loosened).toEqual([]);
    expect(result.report?.rerecorded).toEqual([]);
  });

  it('stops with one clear message when the base is not in the clone, before running anything', async () => {
    const repo = await repoWithRecords({ 'run.yaml': runRecord('tiny') });
    const missing = 'c0ffee0000000000000000000000000000000001';
    const result = await verify(repo, ['--base', missing, 'run.yaml']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`repro-gate: error: the base ${missing} to compare the run records with is not a commit in this clone`);
    expect(result.stderr).toMatch(/git fetch/);
    expect(result.stderr).not.toMatch(/at .*\.js:\d+/);
    expect(result.report).toBeUndefined();

    // An option-like ref is a ref that does not exist, never an option to git.
    const optionLike = await verify(repo, ['--base=--output=/dev/null', 'run.yaml']);
    expect(optionLike.status).toBe(2);
    expect(optionLike.stderr).toContain('the base --output=/dev/null to compare the run records with is not a commit in this clone');

    const usage = await verify(repo, ['--fail-on-loosened', 'run.yaml']);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('--fail-on-loosened needs --base REF');
  });

  it('reads the base record from git, not from the working tree, even when the record folder is gone', async () => {
    const repo = await repoWithRecords({ 'deep/er/run.yaml': runRecord('deep') });
    await rm(path.join(repo.root, 'deep'), { recursive: true });
    const result = await verify(repo, ['--base', repo.base, 'deep/er/run.yaml']);
    expect(result.report?.loosened).toEqual([{ recordPath: 'deep/er/run.yaml', kind: 'record-deleted', subject: 'deep/er/run.yaml', before: 'deep', after: null }]);
  });
});
