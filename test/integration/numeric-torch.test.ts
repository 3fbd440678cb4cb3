import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { RecordReport } from '../../src/report/schema.js';
import { editRecord, exampleRepo, type FixtureRepo, git, runCli } from '../support/fixture-repo.js';
import { verifyUntouched } from '../support/verify-untouched.js';

// examples/torch-mlp as a user's repository: a seeded CPU PyTorch training (torch==2.13.0) whose model.safetensors is
// compared tensor by tensor. A learning-rate change moves every tensor (lr 0.05 → 0.0501: max |Δ| 1e-3 to 4e-2).

const TENSORS = ['classifier.bias', 'classifier.weight', 'hidden.bias', 'hidden.weight'];

async function setLearningRate(repo: FixtureRepo, rate: number): Promise<void> {
  const config = JSON.parse(await repo.read('configs/train.json')) as Record<string, unknown>;
  await repo.write('configs/train.json', `${JSON.stringify({ ...config, learning_rate: rate }, null, 2)}\n`);
}

/** Tolerances a team would set to accept this learning-rate change: every tensor within 0.1, the loss within 0.001. */
async function widenTolerances(repo: FixtureRepo): Promise<void> {
  await editRecord(repo, (record) => {
    record.artifacts[0].tensors = { '*': { abs: 0.1, rel: 0.2 } };
    record.tolerance = { metrics: { loss: { abs: 0.001 }, 'train.loss': { abs: 0.001 } } };
  });
}

function numericOf(record: RecordReport | undefined) {
  const artifact = record?.artifacts.find((entry) => entry.path === 'out/model.safetensors');
  return { artifact, numeric: artifact?.numeric };
}

describe('examples/torch-mlp: a PyTorch model compared tensor by tensor', () => {
  let baseline: string;
  let recordedHere: string;
  // The example with its record as recorded on this machine. The committed bits come from the machine that recorded
  // them: MKL and ATen pick their kernels by CPU, and on an AVX-512 EPYC every tensor differs from the committed ones
  // in its last bits (a drift, rightly). Re-recorded here, the cases below hold on any CPU.
  const fresh = async () => {
    const repo = await exampleRepo('torch-mlp');
    await repo.write('run.yaml', recordedHere);
    git(repo.root, 'commit', '-qam', 'record on this machine');
    return repo;
  };

  beforeAll(async () => {
    // `record --update` on this machine, then a verify that reproduces: its outputs are the baseline the cases compare with.
    baseline = await mkdtemp(path.join(tmpdir(), 'repro-gate-torch-baseline-'));
    const repo = await exampleRepo('torch-mlp');
    const rerecorded = await runCli(['record', '--update', 'run.yaml'], { cwd: repo.root, env: repo.env });
    expect(rerecorded.status, rerecorded.stderr).toBe(0);
    recordedHere = await repo.read('run.yaml');
    git(repo.root, 'commit', '-qam', 'record on this machine');
    const result = await verifyUntouched(repo, ['--keep-artifacts', '--evidence-dir', baseline]);
    expect(result.record?.error).toBeUndefined();
    expect(result.record?.verdict).toBe('reproduced');
    expect(result.status).toBe(0);
  });

  it('drifts on a learning-rate change, naming every tensor that moved and by how much (with a baseline)', async () => {
    const repo = await fresh();
    await setLearningRate(repo, 0.0501);
    const result = await verifyUntouched(repo, ['--baseline', baseline]);
    expect(result.status).toBe(1);
    const { artifact, numeric } = numericOf(result.record);
    expect(artifact?.status).toBe('differs');
    expect(numeric).toMatchObject({ outcome: 'beyond-tolerance', basis: 'baseline', identicalCount: 0, tensorCount: 4 });
    expect(numeric!.tensors.map((tensor) => tensor.name).sort()).toEqual(TENSORS);
    for (const tensor of numeric!.tensors) {
      expect(tensor).toMatchObject({ status: 'beyond', total: tensor.shape.reduce((a, b) => a * b, 1), tolerance: { abs: 1e-5, rel: 1.3e-6 } });
      expect(tensor.mismatched).toBeGreaterThan(0);
      expect(tensor.maxAbs).toBeGreaterThan(1e-4);
      expect(tensor.firstMismatch).toHaveLength(tensor.shape.length);
    }
    // Largest deviation first: hidden.weight moves most (≈ 4e-2), classifier.bias least.
    expect(numeric!.tensors[0]!.name).toBe('hidden.weight');
    expect(result.stdout).toMatch(/out\/model\.safetensors beyond tolerance in 4 tensors: hidden\.weight \d+\/64 beyond, max abs Δ /);
    expect(result.record?.causes.map((cause) => cause.kind)).toContain('config-changed');
  });

  it('drifts without a baseline too: the tensors differ and nothing can show them close', async () => {
    const repo = await fresh();
    await setLearningRate(repo, 0.0501);
    await widenTolerances(repo);
    git(repo.root, 'commit', '-qam', 'lr 0.0501, wider tolerances');
    const result = await verifyUntouched(repo);
    expect(result.status).toBe(1);
    const { numeric } = numericOf(result.record);
    expect(numeric).toMatchObject({ outcome: 'no-baseline', identicalCount: 0 });
    expect(numeric!.tensors.every((tensor) => tensor.status === 'differs' && tensor.recorded && tensor.rerun)).toBe(true);
    expect(result.stdout).toMatch(/differs in 4 tensors; no baseline to compare elementwise/);
  });

  it('passes within tolerance once the record accepts the change, with a baseline', async () => {
    const repo = await fresh();
    await setLearningRate(repo, 0.0501);
    await widenTolerances(repo);
    const result = await verifyUntouched(repo, ['--baseline', baseline]);
    expect(result.record?.verdict).toBe('within-tolerance');
    expect(result.status).toBe(0);
    const { artifact, numeric } = numericOf(result.record);
    expect(artifact).toMatchObject({ status: 'within' });
    // What is reported (and attested) for a within-tolerance artifact is the rerun's own bytes.
    expect(artifact?.actual).not.toBe(artifact?.recorded);
    expect(numeric).toMatchObject({ outcome: 'within-tolerance', basis: 'baseline' });
    expect(numeric!.tensors.every((tensor) => tensor.status === 'within' && tensor.mismatched === 0)).toBe(true);
  });

  it('judges on the recorded sample, and says so, when the record keeps one and there is no baseline', async () => {
    const repo = await fresh();
    await editRecord(repo, (record) => (record.artifacts[0].fingerprint = 'sampled'));
    const update = await runCli(['record', '--update', 'run.yaml'], { cwd: repo.root, env: repo.env });
    expect(update.status).toBe(0);
    const recorded = parse(await repo.read('run.yaml')) as { artifacts: Array<{ content: { tensors: Array<{ samples?: string }> } }> };
    // Tensors smaller than the sample keep every element.
    expect(recorded.artifacts[0]!.content.tensors.every((tensor) => typeof tensor.samples === 'string' && tensor.samples.length > 0)).toBe(true);
    await setLearningRate(repo, 0.0501);
    await widenTolerances(repo);
    const result = await verifyUntouched(repo);
    expect(result.record?.verdict).toBe('within-tolerance');
    expect(numericOf(result.record).numeric).toMatchObject({ outcome: 'within-tolerance', basis: 'sample' });
    expect(result.stdout).toMatch(/judged on a sample, not every element/);
  });

  it('seeds: {torch: 3} makes a training with no seeding code reproduce: the probe seeds torch when it is imported', async () => {
    const repo = await exampleRepo('torch-mlp', { only: ['requirements.txt'], extra: { 'seedless.py': SEEDLESS, '.gitignore': 'out/\n' } });
    const recorded = await runCli(
      ['record', '--requirements', 'requirements.txt', '--numeric', 'out/model.safetensors', '--metrics', 'out/metrics.json', '--seed', 'torch=3', '--', 'python', 'seedless.py'],
      { cwd: repo.root, env: repo.env },
    );
    expect(recorded.status, recorded.stderr).toBe(0);
    expect(parse(await repo.read('run.yaml'))).toMatchObject({ seeds: { torch: 3 }, apply_seeds: true });
    git(repo.root, 'add', '.');
    git(repo.root, 'commit', '-qm', 'record');
    // A second run, in a fresh sandbox: the same model, bit for bit.
    const seeded = await verifyUntouched(repo);
    expect(seeded.record?.verdict).toBe('reproduced');
    expect(seeded.record?.run?.seeding?.applied).toEqual([{ module: 'torch', calls: ['torch.manual_seed(3)'], processes: 1 }]);
    // The control: with the seeds only exported (as before apply_seeds), the same script gives another model, and a warning says why.
    await editRecord(repo, (record) => {
      delete record.apply_seeds;
    });
    const unseeded = await verifyUntouched(repo);
    expect(unseeded.record?.verdict).toBe('drift');
    expect(unseeded.record?.warnings?.join('\n')).toMatch(/imported torch, but the record's seeds are only exported as REPRO_SEED_\* variables/);
  });
});

/** A CPU torch training with no seeding code at all: its weights come from torch's global RNG. */
const SEEDLESS = `import json, os
import torch
from safetensors.torch import save_file
from torch import nn

model = nn.Linear(4, 3)
inputs = torch.randn(16, 4)
loss = nn.functional.mse_loss(model(inputs), torch.zeros(16, 3))
os.makedirs("out", exist_ok=True)
save_file({name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}, "out/model.safetensors")
json.dump({"loss": loss.item()}, open("out/metrics.json", "w"))
`;
