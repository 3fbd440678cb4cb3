import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { fixtureRepo, type FixtureRepo, git, NUMPY_PIN, recordingCacheRoot, runCli } from '../support/fixture-repo.js';
import { snapshotTree } from '../support/tree-snapshot.js';
import { verifyUntouched } from '../support/verify-untouched.js';

// Real numpy trainings (numpy==2.2.6 in a venv rebuilt from requirements, as a runner would) that are
// nondeterministic in the ways ML code is: an unseeded global RNG, a reduction that depends on the thread count.

/**
 * Draws its weights from numpy's unseeded global RNG; its accuracy on 100 held-out examples moves by up to three
 * of them from run to run (four values: five runs all alike, 1 time in 256, would make the metric look stable).
 */
const DRAW = `import json, os, sys
import numpy as np

config = json.load(open("config.json"))
os.makedirs("out", exist_ok=True)
weights = np.random.normal(size=16) * config["scale"]
np.save("out/weights.npy", weights)
accuracy = (90 + np.random.randint(0, 4)) / 100
json.dump({"accuracy": accuracy, "examples": 100, "scale": config["scale"]}, open("out/metrics.json", "w"))
`;

/** A float32 reduction split in one chunk per thread, as BLAS does: its last bits depend on the thread count. */
const THREADED = `import json, os
import numpy as np

threads = int(os.environ.get("OMP_NUM_THREADS", "4"))
values = (np.arange(1, 100_001, dtype=np.float32) * np.float32(1.1e-3)) ** 2
total = sum(float(chunk.sum(dtype=np.float32)) for chunk in np.array_split(values, threads))
os.makedirs("out", exist_ok=True)
json.dump({"loss": total / len(values)}, open("out/metrics.json", "w"))
`;

async function repository(files: Record<string, string>): Promise<FixtureRepo> {
  const root = await mkdtemp(path.join(tmpdir(), 'repro-gate-nondeterminism-'));
  for (const [relative, content] of Object.entries({ 'requirements.txt': NUMPY_PIN, '.gitignore': 'out/\n', ...files })) await writeFile(path.join(root, relative), content);
  git(root, 'init', '-q');
  git(root, 'add', '.');
  git(root, 'commit', '-qm', 'training');
  return fixtureRepo(root, { REPRO_GATE_CACHE_DIR: await recordingCacheRoot(), PIP_RETRIES: '0' });
}

async function record(repo: FixtureRepo, args: string[], command: string[]) {
  const before = await snapshotTree(path.join(repo.root, '.git'));
  const result = await runCli(['record', '--requirements', 'requirements.txt', '--metrics', 'out/metrics.json', ...args, '--', ...command], { cwd: repo.root, env: repo.env });
  // Recording writes the record and the outputs, never into git.
  expect(await snapshotTree(path.join(repo.root, '.git'))).toEqual(before);
  return { ...result, text: await repo.read('run.yaml').catch(() => '') };
}

function commitRecord(repo: FixtureRepo): void {
  git(repo.root, 'add', 'run.yaml');
  git(repo.root, 'commit', '-qm', 'record');
}

describe('nondeterministic training', () => {
  let calibrated: FixtureRepo;

  beforeAll(async () => {
    calibrated = await repository({ 'train.py': DRAW, 'config.json': '{"scale": 1.0}\n' });
  });

  it('record --runs 5 marks an unseeded training nondeterministic and calibrates its metric and its tensors', async () => {
    const result = await record(calibrated, ['--runs', '5', '--numeric', 'out/weights.npy', '--config', 'config.json'], ['python', 'train.py']);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain('determinism: 5 runs');
    expect(result.stderr).toMatch(/stable: .*examples/);
    expect(result.stderr).toMatch(/nondeterministic: accuracy, spread 0\.0[123]: recorded at the median 0\.9\d*, tolerance ±0\.0[369]/);
    expect(result.stderr).toContain('nondeterministic: out/weights.npy, 5 different files: 1 tensor tolerance calibrated');
    expect(result.text).toMatch(/^ {4}accuracy: \{ abs: 0\.0[369] \} # calibrated: 5 runs, spread 0\.0[123]$/m);
    expect(result.text).toMatch(/^ {6}array: \{ abs: [\d.e-]+ \} # calibrated: 5 runs, max abs Δ [\d.e-]+$/m);
    expect(result.text).toContain('fingerprint: sampled # calibrated: 5 runs');
    const written = parse(result.text);
    expect(written.apply_seeds).toBe(true);
    expect([0.9, 0.91, 0.92, 0.93, 0.905, 0.915, 0.925]).toContain(written.metrics.values.accuracy);
    expect(written.environment.machine).toMatchObject({ cpu: expect.any(String), cores: expect.any(Number), libraries: [expect.objectContaining({ api: 'blas' })] });
    commitRecord(calibrated);
  });

  it('20 consecutive verifies of the calibrated record all pass within tolerance, and the working tree stays byte-identical', async () => {
    // Two at a time: each is a short training, and these machines have two cores.
    for (let i = 0; i < 20; i += 2) {
      const results = await Promise.all([verifyUntouched(calibrated), verifyUntouched(calibrated)]);
      for (const [j, result] of results.entries()) {
        expect(result.record?.verdict, `verify ${i + j + 1}: ${result.stdout}`).toBe('within-tolerance');
        expect(result.record?.artifacts[0]?.numeric).toMatchObject({ outcome: 'within-tolerance', basis: 'sample' });
      }
    }
  });

  it('record --update keeps calibrated entries; with --runs it calibrates again, never touching hand-written ones', async () => {
    const original = await calibrated.read('run.yaml');
    await calibrated.write('run.yaml', original.replace('tolerance:\n  metrics:\n', 'tolerance:\n  metrics:\n    examples: { abs: 1 } # mine\n'));
    commitRecord(calibrated);
    const kept = await runCli(['record', '--update', 'run.yaml'], { cwd: calibrated.root, env: calibrated.env });
    expect(kept.status, kept.stderr).toBe(0);
    const afterPlainUpdate = await calibrated.read('run.yaml');
    expect(afterPlainUpdate).toMatch(/accuracy: \{ abs: 0\.0[369] \} # calibrated: 5 runs/);
    expect(afterPlainUpdate).toContain('examples: { abs: 1 } # mine');

    const again = await runCli(['record', '--update', '--runs', '3', 'run.yaml'], { cwd: calibrated.root, env: calibrated.env });
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toContain('determinism: 3 runs');
    const recalibrated = await calibrated.read('run.yaml');
    expect(recalibrated).toMatch(/array: \{ abs: [\d.e-]+ \} # calibrated: 3 runs/);
    expect(recalibrated).not.toContain('5 runs');
    expect(recalibrated).toContain('examples: { abs: 1 } # mine');
    // Three runs of four values can agree: the accuracy is then stable, and its calibrated entry goes.
    const accuracyVaried = /nondeterministic: accuracy/.test(again.stderr);
    expect(/accuracy: \{ abs: [\d.]+ \} # calibrated: 3 runs/.test(recalibrated)).toBe(accuracyVaried);
  });

  it('the same training with seeds: {numpy: 7} is stable, because the probe seeds numpy when the training imports it', async () => {
    const repo = await repository({ 'train.py': DRAW, 'config.json': '{"scale": 1.0}\n' });
    const result = await record(repo, ['--runs', '3', '--numeric', 'out/weights.npy', '--config', 'config.json', '--seed', 'numpy=7'], ['python', 'train.py']);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/determinism: 3 runs\n {2}stable: out\/weights\.npy, accuracy, examples, scale\n/);
    expect(result.stderr).not.toContain('nondeterministic');
    expect(result.text).not.toContain('calibrated');
    expect(parse(result.text)).toMatchObject({ seeds: { numpy: 7 }, apply_seeds: true });
    commitRecord(repo);

    const verified = await verifyUntouched(repo);
    expect(verified.record?.verdict).toBe('reproduced');
    expect(verified.record?.run?.seeding).toEqual({ mode: 'applied', strict: false, applied: [{ module: 'numpy', calls: ['numpy.random.seed(7)'], processes: 1 }] });
    expect(verified.stdout).toContain('Seeds applied in-process by the probe: numpy.random.seed(7)');

    // A PR changes the config: every rerun agrees with the others and not with the record.
    await repo.write('config.json', '{"scale": 2.0}\n');
    const drifted = await verifyUntouched(repo, ['--runs', '2']);
    expect(drifted.status).toBe(1);
    expect(drifted.record?.drift).toEqual({ kind: 'deterministic', runs: 2, varying: [] });
    expect(drifted.record?.reruns?.map((run) => run.index)).toEqual([1, 2]);
    expect(drifted.record?.reruns?.every((run) => run.durationMs > 0)).toBe(true);
    expect(drifted.stdout).toContain('linear: drift (deterministic)'.replace('linear', drifted.record!.name));
    expect(drifted.stdout).toContain('All 2 reruns agree with each other and not with the record: the change is real');
  });

  it('verify --runs 3 on an unseeded training that drifts says it is nondeterministic, with each rerun\'s values side by side', async () => {
    const repo = await repository({ 'train.py': DRAW, 'config.json': '{"scale": 1.0}\n' });
    // Recorded once (no calibration), then rerun: the weights come out different every time.
    const result = await record(repo, ['--artifact', 'out/weights.npy', '--config', 'config.json'], ['python', 'train.py']);
    expect(result.status, result.stderr).toBe(0);
    commitRecord(repo);
    const verified = await verifyUntouched(repo, ['--runs', '3']);
    expect(verified.status).toBe(1);
    expect(verified.record?.drift?.kind).toBe('nondeterministic');
    expect(verified.record?.drift?.varying[0]).toMatchObject({ output: 'out/weights.npy', kind: 'artifact', values: [expect.any(String), expect.any(String), expect.any(String)] });
    expect(new Set(verified.record?.drift?.varying[0]?.values).size).toBe(3);
    expect(verified.record?.reruns).toHaveLength(3);
    expect(verified.stdout).toContain('drift (nondeterministic)');
    expect(verified.stdout).toMatch(/The 3 reruns disagree with each other: the training is nondeterministic \(out\/weights\.npy/);
  });

  it('--vary threads names the thread count as what changes the result, and hashseed as harmless', async () => {
    const repo = await repository({ 'train.py': THREADED });
    const result = await record(repo, [], ['python', 'train.py']);
    expect(result.status, result.stderr).toBe(0);
    commitRecord(repo);
    const verified = await verifyUntouched(repo, ['--vary', 'threads,hashseed']);
    expect(verified.record?.verdict).toBe('reproduced');
    const variations = verified.record?.variations ?? [];
    expect(variations.map((variation) => variation.variation)).toEqual(['threads', 'hashseed']);
    expect(variations[0]!.changed).toEqual([{ output: 'loss', kind: 'metric', values: [expect.any(Number), expect.any(Number)] }]);
    expect(variations[1]!.changed).toEqual([]);
    expect(verified.record?.reruns?.map((run) => run.variation ?? 'first')).toEqual(['first', 'threads', 'hashseed']);
    expect(verified.stdout).toMatch(/threads +loss \(/);
    expect(verified.stdout).toMatch(/hashseed +no change/);
  });
});
