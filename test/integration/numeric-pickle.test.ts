import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { exampleRepo, type FixtureRepo, git, runCli } from '../support/fixture-repo.js';
import { verifyUntouched } from '../support/verify-untouched.js';

// examples/iris pickles {"scaler": StandardScaler, "model": SGDClassifier}. A scikit-learn bump from 1.6.1 to 1.9.1
// re-pickles it into other bytes while every fitted array stays bitwise identical: "content identical", not drift.

const SKLEARN_161 = 'scikit-learn==1.6.1\nnumpy==2.2.6\n';
const SKLEARN_191 = 'scikit-learn==1.9.1\nnumpy==2.2.6\n';

function irisRepo(requirements: string): Promise<FixtureRepo> {
  return exampleRepo('iris', { only: ['train.py', 'configs', 'data'], extra: { 'requirements.txt': requirements, '.gitignore': 'out/\n' } });
}

describe('a pickled scikit-learn model, compared by its fitted state', () => {
  it('records the fitted arrays, and calls a 1.6.1 → 1.9.1 bump "serialization changed, content identical"', async () => {
    const repo = await irisRepo(SKLEARN_161);
    const recorded = await runCli(
      [
        'record', '--name', 'iris', '--numeric', 'out/model.pkl', '--metrics', 'out/metrics.json',
        '--config', 'configs/train.json', '--data', 'data/iris.csv=data/iris.manifest.json', '--requirements', 'requirements.txt',
        '--seed', 'numpy=7', '--var', 'PYTHONHASHSEED=0', '--var', 'OMP_NUM_THREADS=1',
        '--', 'python', 'train.py', 'configs/train.json',
      ],
      { cwd: repo.root, env: repo.env },
    );
    expect(recorded.status, recorded.stderr).toBe(0);
    const record = parse(await repo.read('run.yaml')) as { artifacts: Array<{ compare: string; content: { format: string; tensors: Array<{ name: string }>; parameters: Record<string, string> } }> };
    const content = record.artifacts[0]!.content;
    expect(record.artifacts[0]!.compare).toBe('numeric');
    expect(content.format).toBe('pickle');
    const names = content.tensors.map((tensor) => tensor.name);
    expect(names).toEqual(expect.arrayContaining(['model.coef_', 'model.intercept_', 'model.classes_', 'scaler.mean_', 'scaler.scale_']));
    expect(content.parameters).toMatchObject({ 'model.C': '1.0' });
    const pickled = await readFile(path.join(repo.root, 'out', 'model.pkl'));
    git(repo.root, 'add', 'run.yaml');
    git(repo.root, 'commit', '-qm', 'record');

    await repo.write('requirements.txt', SKLEARN_191);
    const result = await verifyUntouched(repo);
    expect(result.record?.error).toBeUndefined();
    const artifact = result.record!.artifacts[0]!;
    // The bump changed the bytes: this is not the identical case.
    expect(artifact.actual).not.toBe(artifact.recorded);
    expect(pickled.length).toBeGreaterThan(0);
    expect(artifact).toMatchObject({ status: 'within', numeric: { outcome: 'content-identical', format: 'pickle' } });
    expect(artifact.numeric!.identicalCount).toBeGreaterThanOrEqual(names.length - 1);
    expect(artifact.numeric!.parameters?.removed).toContain('model.C');
    expect(result.record?.verdict).toBe('within-tolerance');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/out\/model\.pkl: serialization changed, content identical \(\d+ tensors bit-identical.*\(scikit-learn 1\.6\.1 → 1\.9\.1/);
  });
});
