import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { UPDATED_RECORD_NAME } from '../../src/constants.js';
import { createRecordedRepo, recordingCacheRoot, createRecordingVenv, editRecord, type FixtureRepo, git, NUMPY_PIN, runCli } from '../support/fixture-repo.js';
import { snapshotTree } from '../support/tree-snapshot.js';
import { verifyUntouched } from '../support/verify-untouched.js';

// The author's loop, end to end with real pip, venvs and training: record runs the way verify reruns,
// `record --update` accepts an intended change, and no rerun passes from outside the rebuilt environment.

let cacheRoot: string;
beforeAll(async () => {
  // Verify shares the recordings' venv cache: these tests are about the loop, not about building venvs.
  cacheRoot = await recordingCacheRoot();
});

const newRepo = () => createRecordedRepo({ cacheRoot });
const update = (repo: FixtureRepo, ...args: string[]) => runCli(['record', '--update', 'run.yaml', ...args], { cwd: repo.root, env: repo.env });
const commitAll = (repo: FixtureRepo, message: string) => {
  git(repo.root, 'add', '-A');
  git(repo.root, 'commit', '-qm', message);
};

/** The interpreter `python3` on PATH names: outside any rebuilt venv. */
const systemPython = () => execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();

describe('record runs the way verify reruns', () => {
  it('fails at record time, naming the file and --data, when the command needs a git-ignored input it was not given', async () => {
    const repo = await newRepo();
    await repo.write('.gitignore', 'out/\nsecret-labels.csv\n');
    await repo.write('secret-labels.csv', 'a,b\n1,2\n');
    await repo.write('train.py', `${await repo.read('train.py')}\nopen("secret-labels.csv").read()\n`);
    commitAll(repo, 'needs an ignored file');
    const before = await snapshotTree(repo.root);
    const result = await runCli(['record', '--out', 'other.yaml', '--requirements', 'requirements.txt', '--seed', 'numpy=3', '--metrics', 'out/metrics.json', '--', 'python', 'train.py', 'config.json'], {
      cwd: repo.root,
      env: repo.env,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/could not open secret-labels\.csv/);
    expect(result.stderr).toMatch(/--data secret-labels\.csv/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(await snapshotTree(repo.root)).toEqual(before);
  });

  it('freezes the rebuilt venv, not the interpreter on PATH, and refuses to guess without --requirements or --current-env', async () => {
    const repo = await newRepo();
    const record = parse(await repo.read('run.yaml'));
    // The recording ran in a venv built from requirements.txt: exactly the pins, nothing of the machine's Python.
    expect(record.environment.packages).toEqual({ numpy: '2.2.6' });
    const bare = await runCli(['record', '--out', 'x.yaml', '--metrics', 'out/metrics.json', '--', 'python', 'train.py', 'config.json'], { cwd: repo.root, env: repo.env });
    expect(bare.status).toBe(2);
    expect(bare.stderr).toMatch(/--requirements FILE .* or --current-env/);
  });

  it('with --current-env, freezes the interpreter that actually ran, and a non-Python command records no packages', async () => {
    const venv = await createRecordingVenv('six==1.17.0\n');
    const repo = await newRepo();
    const result = await runCli(['record', '--current-env', '--out', 'cur.yaml', '--artifact', 'out/six.txt', '--', `${venv.python} -c "import six, os; os.makedirs('out', exist_ok=True); open('out/six.txt', 'w').write(six.__version__)"`], {
      cwd: repo.root,
      env: repo.env,
    });
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.status).toBe(0);
    const record = parse(await repo.read('cur.yaml'));
    expect(record.environment.packages).toEqual({ six: '1.17.0' });
    const shell = await runCli(['record', '--current-env', '--out', 'sh.yaml', '--artifact', 'out/hi.txt', '--', 'mkdir -p out && echo hi > out/hi.txt'], { cwd: repo.root, env: repo.env });
    expect(shell.status).toBe(0);
    expect(shell.stderr).toMatch(/no Python process ran/);
    expect(parse(await repo.read('sh.yaml')).environment?.packages).toBeUndefined();
  });
});

describe('the rerun probe: no pass from outside the rebuilt environment', () => {
  it('is an error when the command calls an interpreter by absolute path (a local venv)', async () => {
    const venv = await createRecordingVenv(NUMPY_PIN);
    const repo = await newRepo();
    await editRecord(repo, (record) => {
      record.command = `${venv.python} train.py config.json`;
    });
    const result = await verifyUntouched(repo);
    expect(result.status).toBe(2);
    expect(result.report?.verdict).toBe('error');
    expect(result.record?.error?.message).toContain(venv.python);
    expect(result.record?.error?.message).toMatch(/outside the rebuilt environment/);
    expect(result.record?.error?.hint).toMatch(/sys\.executable/);
  });

  it('is an error when train.py hands the work to another interpreter through subprocess', async () => {
    const repo = await newRepo();
    await repo.write('worker.py', 'import json, os\nos.makedirs("out", exist_ok=True)\njson.dump({"w": [1, 2]}, open("out/model.json", "w"))\njson.dump({"loss": 1, "r2": 0, "train": {"epochs": 200}}, open("out/metrics.json", "w"))\n');
    await repo.write('train.py', `import subprocess\nsubprocess.run([${JSON.stringify(systemPython())}, "worker.py"], check=True)\n`);
    commitAll(repo, 'delegate');
    const result = await verifyUntouched(repo);
    expect(result.status).toBe(2);
    expect(result.record?.error?.message).toMatch(/outside the rebuilt environment: .* ran worker\.py/);
    expect(result.record?.run?.processes?.some((process) => !process.inEnvironment)).toBe(true);
  });

  it('is invisible to the program, allows a system tool that does no training work, and marks which changed packages were imported', async () => {
    const repo = await newRepo();
    await repo.write('train.py', `import subprocess\nsubprocess.run([${JSON.stringify(systemPython())}, "-c", "print(40 + 2)"], check=True)\n${await repo.read('train.py')}`);
    await repo.write('requirements.txt', 'numpy==2.2.6\nsix==1.17.0\n');
    commitAll(repo, 'a helper tool and an unused package');
    const result = await verifyUntouched(repo);
    expect(result.record?.run?.logTail).toMatch(/^42\nloss=/);
    expect(result.record?.warnings?.join('\n')).toMatch(/outside the rebuilt environment ran/);
    expect(result.record?.environment?.packages?.added).toContainEqual({ name: 'six', recorded: null, actual: '1.17.0', imported: false });
    expect(result.record?.causes).toContainEqual({ kind: 'packages-changed', subject: 'six (none) → 1.17.0', unlikely: true });
    expect(result.report?.verdict).toBe('reproduced');
  });

  it('is an error when the rebuilt environment was never used', async () => {
    const repo = await newRepo();
    await editRecord(repo, (record) => {
      record.command = `mkdir -p out && echo '{}' > out/model.json && echo '{"loss": 1}' > out/metrics.json`;
    });
    const result = await verifyUntouched(repo);
    expect(result.status).toBe(2);
    expect(result.record?.error?.message).toMatch(/the rebuilt environment was never used/);
  });
});

describe('record --update accepts an intended change', () => {
  it('keeps tolerance, thresholds and comments, prints the new hashes, and the next verify reproduces', async () => {
    const repo = await newRepo();
    const text = await repo.read('run.yaml');
    await repo.write('run.yaml', `# Owned by the forecasting team.\n${text}tolerance:\n  metrics:\n    loss: { abs: 0.001 } # measured noise\nthresholds:\n  r2: { min: 0.9 }\n`);
    commitAll(repo, 'hand-written tolerance');
    const oldConfigHash = parse(text).config[0].sha256 as string;
    await repo.write('config.json', JSON.stringify({ data: 'data/points.csv', lr: 0.05, epochs: 150 }));
    const drift = await verifyUntouched(repo);
    expect(drift.status).toBe(1);

    const updated = await update(repo);
    expect(updated.status).toBe(0);
    const newConfigHash = execFileSync('sha256sum', ['config.json'], { cwd: repo.root, encoding: 'utf8' }).split(' ')[0]!;
    expect(updated.stdout).toContain(`-    sha256: ${oldConfigHash}`);
    expect(updated.stdout).toContain(`+    sha256: ${newConfigHash}`);
    expect(updated.stdout).toMatch(/\+ {4}train\.epochs: 150/);
    const after = await repo.read('run.yaml');
    expect(after).toMatch(/^# Owned by the forecasting team\.\n/);
    expect(after).toContain('loss: { abs: 0.001 } # measured noise');
    expect(parse(after).thresholds).toEqual({ r2: { min: 0.9 } });
    expect(parse(after).code.commit).toBe(git(repo.root, 'rev-parse', 'HEAD').trim());
    commitAll(repo, 'accept');
    const again = await verifyUntouched(repo);
    expect(again.report?.verdict).toBe('reproduced');
  });

  it('writes nothing and exits 1 when the rerun violates a threshold, unless --force', async () => {
    const repo = await newRepo();
    await editRecord(repo, (record) => {
      record.thresholds = { r2: { min: 0.999 } };
    });
    const before = await snapshotTree(repo.root);
    const refused = await update(repo);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/thresholds failed: r2/);
    expect(await snapshotTree(repo.root)).toEqual(before);
    const forced = await update(repo, '--force');
    expect(forced.status).toBe(0);
  });

  it('on drift, the report holds the update command and the run.yaml diff, and the evidence holds run.updated.yaml', async () => {
    const repo = await newRepo();
    await repo.write('config.json', JSON.stringify({ data: 'data/points.csv', lr: 0.05, epochs: 150 }));
    const evidence = await mkdtemp(path.join(tmpdir(), 'repro-gate-evidence-'));
    const markdownFile = path.join(evidence, 'comment.md');
    const result = await verifyUntouched(repo, ['--evidence-dir', evidence, '--markdown', markdownFile]);
    expect(result.status).toBe(1);
    expect(result.record?.update?.command).toBe('repro-gate record --update run.yaml');
    const markdown = await readFile(markdownFile, 'utf8');
    expect(markdown).toMatch(/If this change is intended[\s\S]*repro-gate record --update run\.yaml[\s\S]*\+ {4}train\.epochs: 150/);
    // The config is text: the reader sees what changed, not two hashes.
    const configDiff = result.record?.inputs.find((input) => input.kind === 'config')?.diff;
    expect(configDiff).toContain('-{ "data": "data/points.csv", "lr": 0.05, "epochs": 200 }');
    expect(configDiff).toContain('+{"data":"data/points.csv","lr":0.05,"epochs":150}');
    const proposed = parse(await readFile(path.join(evidence, 'linear', UPDATED_RECORD_NAME), 'utf8'));
    expect(proposed.metrics.values['train.epochs']).toBe(150);
  });
});

describe('outputs and causes', () => {
  it('reproduces a directory artifact that holds a tracked file, with the file rewritten in place, and keeps it as evidence', async () => {
    const repo = await newRepo();
    await repo.write('train.py', `${await repo.read('train.py')}\nimport shutil\n(out / "model").mkdir(exist_ok=True)\nshutil.copy(out / "model.json", out / "model" / "weights.json")\n(out / "model" / "README").write_text("written in place\\n")\n`);
    await repo.write('.gitignore', 'out/*\n!out/model/\nout/model/*\n!out/model/README\n!out/model/.gitignore\n');
    execFileSync('mkdir', ['-p', path.join(repo.root, 'out', 'model')]);
    await repo.write('out/model/.gitignore', '*\n!.gitignore\n!README\n');
    await repo.write('out/model/README', 'committed before the run\n');
    commitAll(repo, 'a folder model');
    const recorded = await runCli(['record', '--name', 'folder', '--requirements', 'requirements.txt', '--seed', 'numpy=3', '--artifact', 'out/model', '--data', 'data/points.csv', '--', 'python', 'train.py', 'config.json'], {
      cwd: repo.root,
      env: repo.env,
    });
    expect(recorded.stderr).not.toMatch(/did not produce/);
    expect(recorded.status).toBe(0);
    commitAll(repo, 'record the folder');
    const evidence = await mkdtemp(path.join(tmpdir(), 'repro-gate-evidence-'));
    const result = await verifyUntouched(repo, ['--keep-artifacts', '--evidence-dir', evidence]);
    expect(result.record?.artifacts[0]).toMatchObject({ path: 'out/model', status: 'identical' });
    expect(result.report?.verdict).toBe('reproduced');
    expect(await readFile(path.join(evidence, 'folder', 'outputs', 'out', 'model', 'weights.json'), 'utf8')).toMatch(/weights/);
  });

  it('drifts when the committed artifact is not the one the record describes', async () => {
    const repo = await newRepo();
    await repo.write('out/model.json', '{"weights": [0, 0]}');
    git(repo.root, 'add', '-f', 'out/model.json');
    git(repo.root, 'commit', '-qm', 'ship a model nobody reproduced');
    const result = await verifyUntouched(repo);
    expect(result.status).toBe(1);
    expect(result.record?.artifacts[0]).toMatchObject({ status: 'identical', committed: { status: 'differs' } });
    expect(result.stdout).toMatch(/the committed out\/model\.json is not the one the record describes/);
  });

  it('shows a `compare: report` artifact that changes on every run (a plot) as not gating, and reproduces', async () => {
    const repo = await newRepo();
    await repo.write('train.py', `${await repo.read('train.py')}\nimport time\n(out / "plot.txt").write_text(str(time.time_ns()))\n`);
    await editRecord(repo, (record) => {
      record.artifacts.push({ path: 'out/plot.txt', sha256: '0'.repeat(64), compare: 'report' });
    });
    commitAll(repo, 'a plot that is never the same');
    const result = await verifyUntouched(repo);
    expect(result.status).toBe(0);
    expect(result.report?.verdict).toBe('reproduced');
    expect(result.record?.artifacts[1]).toMatchObject({ path: 'out/plot.txt', status: 'differs', policy: 'report' });
    expect(result.stdout).toMatch(/out\/plot\.txt changed \(not gating\)/);
  });

  it('never lists the record or its outputs as changed code', async () => {
    const repo = await newRepo();
    await repo.write('out/model.json', await readFile(path.join(repo.root, 'out', 'model.json'), 'utf8'));
    git(repo.root, 'add', '-f', 'out/model.json', 'out/metrics.json');
    await writeFile(path.join(repo.root, 'notes.md'), 'unrelated\n');
    commitAll(repo, 'commit the outputs with the record');
    const result = await verifyUntouched(repo);
    expect(result.report?.verdict).toBe('reproduced');
    expect(result.record?.code?.changedFiles).toEqual(['notes.md']);
  });
});
