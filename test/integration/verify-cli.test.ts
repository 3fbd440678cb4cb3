import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createRecordedRepo, editRecord, git, recordingCacheRoot } from '../support/fixture-repo.js';
import { verifyUntouched } from '../support/verify-untouched.js';

// Real pip, a real venv, a real numpy training, through the bundled CLI.

let cacheRoot: string;

beforeAll(async () => {
  // Verify shares the recordings' venv cache: one venv build for the whole file.
  cacheRoot = await recordingCacheRoot();
});

const newRepo = () => createRecordedRepo({ cacheRoot });

describe('repro-gate verify (integration)', () => {
  it('reproduces a freshly recorded run, then reuses the cached venv', async () => {
    const repo = await newRepo();
    const first = await verifyUntouched(repo);
    expect(first.stderr).not.toMatch(/at .*\.js:\d+/);
    expect(first.status).toBe(0);
    expect(first.report?.verdict).toBe('reproduced');
    expect(first.record?.artifacts).toEqual([expect.objectContaining({ path: 'out/model.json', status: 'identical' })]);
    expect(first.record?.metrics.map((m) => [m.name, m.status])).toEqual([
      ['loss', 'equal'],
      ['r2', 'equal'],
      ['train.epochs', 'equal'],
    ]);
    expect(first.record?.inputs.map((i) => [i.kind, i.status])).toEqual([
      ['data', 'match'],
      ['config', 'match'],
      ['requirements', 'match'],
    ]);
    expect(first.record?.inputs[0]?.manifest).toMatchObject({ datasetName: 'points', recordCount: 200, actualRecordCount: 200, contentHashMatches: true });
    expect(first.stdout).toMatch(/reproduced/);

    const second = await verifyUntouched(repo);
    expect(second.report?.verdict).toBe('reproduced');
    expect(second.record?.environment?.venv?.source).toBe('local-cache');
    expect(second.record?.environment?.venv?.key).toBe(first.record?.environment?.venv?.key);
  });

  it('writes a PR-ready markdown report next to the JSON', async () => {
    const repo = await newRepo();
    const markdownFile = path.join(await mkdtemp(path.join(tmpdir(), 'repro-gate-md-')), 'report.md');
    const result = await verifyUntouched(repo, ['--markdown', markdownFile]);
    expect(result.status).toBe(0);
    const markdown = await readFile(markdownFile, 'utf8');
    expect(markdown).toMatch(/linear/);
    expect(markdown).toMatch(/out\/model\.json/);
    expect(markdown).toMatch(/\| *loss *\|/);
  });

  it('passes within tolerance and drifts beyond it', async () => {
    const repo = await newRepo();
    const recorded = parse(await repo.read('run.yaml')).metrics.values.loss as number;
    await editRecord(repo, (record) => {
      record.metrics.values.loss = recorded + 0.0004;
      record.tolerance = { metrics: { loss: { abs: 0.0005 } } };
    });
    const within = await verifyUntouched(repo);
    expect(within.status).toBe(0);
    expect(within.report?.verdict).toBe('within-tolerance');
    expect(within.record?.metrics.find((m) => m.name === 'loss')?.status).toBe('within');

    await editRecord(repo, (record) => {
      record.metrics.values.loss = recorded + 0.0006;
    });
    const beyond = await verifyUntouched(repo);
    expect(beyond.status).toBe(1);
    expect(beyond.report?.verdict).toBe('drift');
    expect(beyond.record?.metrics.find((m) => m.name === 'loss')).toMatchObject({ status: 'beyond', tolerance: { abs: 0.0005, rel: 0 } });
  });

  it('drifts when a threshold is violated', async () => {
    const repo = await newRepo();
    await editRecord(repo, (record) => {
      record.thresholds = { r2: { min: 0.999 }, loss: { max: 1 } };
    });
    const result = await verifyUntouched(repo);
    expect(result.status).toBe(1);
    expect(result.record?.thresholds.map((t) => [t.metric, t.status])).toEqual([
      ['r2', 'fail'],
      ['loss', 'pass'],
    ]);
  });

  it('drifts on one changed data byte without starting the training', async () => {
    const repo = await newRepo();
    const csv = await repo.read('data/points.csv');
    await repo.write('data/points.csv', csv.replace(/1/, '2'));
    const result = await verifyUntouched(repo);
    expect(result.status).toBe(1);
    expect(result.report?.verdict).toBe('drift');
    const data = result.record?.inputs.find((i) => i.kind === 'data');
    expect(data).toMatchObject({ path: 'data/points.csv', status: 'mismatch' });
    expect(data?.actual).not.toBe(data?.recorded);
    expect(result.record?.run).toBeUndefined();
    expect(result.record?.stages.map((s) => s.stage)).not.toContain('rerun');
  });

  it('drifts on a requirements change and shows the package diff', async () => {
    const repo = await newRepo();
    await repo.write('requirements.txt', 'numpy==2.3.5\n');
    const result = await verifyUntouched(repo);
    expect(result.status).toBe(1);
    expect(result.record?.artifacts[0]?.status).toBe('differs');
    expect(result.record?.environment?.packages?.changed).toContainEqual({ name: 'numpy', recorded: '2.2.6', actual: '2.3.5', imported: true });
    expect(result.record?.causes.map((c) => c.kind)).toEqual(expect.arrayContaining(['requirements-changed', 'packages-changed']));
  });

  it('exits 2 when the command fails, with the log tail in the report', async () => {
    const repo = await newRepo();
    await repo.write('train.py', 'import sys\nprint("exploding on purpose")\nsys.exit(3)\n');
    const result = await verifyUntouched(repo);
    expect(result.status).toBe(2);
    expect(result.report?.verdict).toBe('error');
    expect(result.record?.error?.message).toMatch(/exit status 3/);
    expect(result.record?.run?.logTail).toMatch(/exploding on purpose/);
  });

  it('kills the whole process tree on timeout, exits 2, and is quick', async () => {
    const repo = await newRepo();
    const marker = `repro-gate-timeout-${Date.now()}`;
    await editRecord(repo, (record) => {
      // A child and a grandchild, both carrying the marker in their command line.
      const sleeper = `python -c "import time; time.sleep(300)" ${marker}`;
      record.command = `${sleeper} & sh -c '${sleeper} & wait' & echo started; wait`;
      record.timeout = '2s';
    });
    const result = await verifyUntouched(repo);
    expect(result.status).toBe(2);
    expect(result.record?.run?.timedOut).toBe(true);
    expect(result.record?.error?.message).toMatch(/timed out after 2s/);
    expect(result.durationMs).toBeLessThan(30_000);
    // pgrep exits 1 when no process matches; it never matches itself.
    const survivors = (() => {
      try {
        return execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' }).trim();
      } catch {
        return '';
      }
    })();
    expect(survivors).toBe('');
    expect(result.record?.run?.logTail).toMatch(/started/);
  });

  it.each([
    ['an unknown field', (r: Record<string, any>) => (r.tolerence = {}), /tolerence/],
    ['an escaping artifact path', (r: Record<string, any>) => (r.artifacts[0].path = '../../etc/passwd'), /artifacts\[0\]\.path/],
    ['an absolute metrics path', (r: Record<string, any>) => (r.metrics.path = '/tmp/metrics.json'), /metrics\.path/],
  ])('exits 2 on %s and names the culprit', async (_label, edit, culprit) => {
    const repo = await newRepo();
    await editRecord(repo, edit);
    const result = await verifyUntouched(repo);
    expect(result.status).toBe(2);
    expect(result.stdout + result.stderr).toMatch(culprit);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 2 on a record that is not YAML, naming the line', async () => {
    const repo = await newRepo();
    await repo.write('run.yaml', 'version: 1\nname: [broken\n');
    const result = await verifyUntouched(repo);
    expect(result.status).toBe(2);
    expect(result.stdout + result.stderr).toMatch(/run\.yaml:\d+/);
  });

  it('exits 2 with a usage message for bad arguments', async () => {
    const repo = await newRepo();
    const result = await repo.verify(['--no-such-flag']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/no-such-flag/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('reports an artifact the command did not produce as missing, never hashing a stale copy', async () => {
    const repo = await newRepo();
    await repo.write('out/model.json', 'stale model committed by mistake');
    git(repo.root, 'add', '-f', 'out/model.json');
    await editRecord(repo, (record) => {
      record.command = `python -c "print('produced nothing')"`;
    });
    git(repo.root, 'commit', '-qam', 'a run that produces nothing');
    const result = await verifyUntouched(repo);
    expect(result.status).toBe(1);
    expect(result.record?.artifacts[0]).toMatchObject({ status: 'missing', actual: null });
    expect(result.record?.metrics.every((metric) => metric.status === 'missing')).toBe(true);
  });

  it('reruns uncommitted changes to tracked files', async () => {
    const repo = await newRepo();
    await repo.write('config.json', JSON.stringify({ data: 'data/points.csv', lr: 0.05, epochs: 150 }));
    const result = await verifyUntouched(repo);
    expect(result.status).toBe(1);
    expect(result.record?.metrics.find((metric) => metric.name === 'train.epochs')).toMatchObject({ recorded: 200, rerun: 150, status: 'beyond' });
    expect(result.record?.causes).toContainEqual(expect.objectContaining({ kind: 'config-changed', subject: 'config.json' }));
  });

  it('leaves .git/index alone when a tracked file was rewritten with identical bytes (git diff would refresh it)', async () => {
    const repo = await newRepo();
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await repo.write('config.json', await repo.read('config.json'));
    const result = await verifyUntouched(repo);
    expect(result.status).toBe(0);
    expect(result.record?.code?.changedFiles).toEqual([]);
  });
});
