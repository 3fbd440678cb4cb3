import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installProbe, type InstalledProbe } from '../../src/rerun/probe/install-probe.js';
import { readTrace } from '../../src/rerun/probe/read-trace.js';
import { seedPlan } from '../../src/rerun/seeding/seed-plan.js';

// The probe's seeding, in a real interpreter. torch and tensorflow are stand-ins that log every call made on them:
// these machines have no GPU (and no TensorFlow), so the strict-determinism calls for CUDA are checked this way.

const FAKE_TORCH = `
import os
CALLS = os.environ["FAKE_CALLS"]
def log(text):
    with open(CALLS, "a") as f:
        f.write(text + "\\n")
def manual_seed(value):
    log("manual_seed(%d)" % value)
def use_deterministic_algorithms(flag):
    log("use_deterministic_algorithms(%s)" % flag)
class _Cudnn:
    def __setattr__(self, name, value):
        log("cudnn.%s=%s" % (name, value))
class backends:
    cudnn = _Cudnn()
log("imported; loader is " + type(__loader__).__name__)
`;

const FAKE_TENSORFLOW = `
import os
def log(text):
    with open(os.environ["FAKE_CALLS"], "a") as f:
        f.write(text + "\\n")
class random:
    @staticmethod
    def set_seed(value):
        log("tf.random.set_seed(%d)" % value)
class config:
    class experimental:
        @staticmethod
        def enable_op_determinism():
            raise AttributeError("enable_op_determinism needs TensorFlow 2.9")
`;

describe('the probe applies the record\'s seeds in-process', () => {
  let root: string;
  const probes: InstalledProbe[] = [];
  const newProbe = async () => {
    const probe = await installProbe();
    probes.push(probe);
    return probe;
  };

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'repro-gate-seeding-'));
    await mkdir(path.join(root, 'site', 'torch'), { recursive: true });
    await mkdir(path.join(root, 'site', 'tensorflow'), { recursive: true });
    await writeFile(path.join(root, 'site', 'torch', '__init__.py'), FAKE_TORCH);
    await writeFile(path.join(root, 'site', 'torch', 'nn.py'), 'LAYER = "linear"\n');
    await writeFile(path.join(root, 'site', 'tensorflow', '__init__.py'), FAKE_TENSORFLOW);
  });

  afterAll(async () => {
    await Promise.all(probes.map((probe) => probe.dispose()));
  });

  async function run(program: string, seeds: Record<string, number>, strict: boolean) {
    const probe = await newProbe();
    const calls = path.join(await mkdtemp(path.join(tmpdir(), 'repro-gate-calls-')), 'calls.txt');
    const plan = seedPlan({ seeds, apply: true, strict, variables: {} });
    const stdout = execFileSync('python3', ['-c', program], {
      cwd: root,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, ...probe.environment(root, path.join(root, 'site')), ...plan.probe, FAKE_CALLS: calls },
    });
    const logged = await readFile(calls, 'utf8').catch(() => '');
    return { stdout, calls: logged.trim().split('\n').filter(Boolean), trace: await readTrace(probe.traceFile) };
  }

  it('seeds random at its import, exactly as if the program had called random.seed', async () => {
    const draw = 'import random; print(random.random())';
    const [first, second] = [await run(draw, { random: 11 }, false), await run(draw, { random: 11 }, false)];
    const expected = execFileSync('python3', ['-c', 'import random; random.seed(11); print(random.random())'], { encoding: 'utf8' });
    expect(first.stdout).toBe(expected);
    expect(second.stdout).toBe(expected);
    expect(first.trace.seeding).toEqual([{ pid: expect.any(Number), module: 'random', calls: ['random.seed(11)'] }]);
  });

  it('seeds torch after its own initialisation, hands the module its loader back, and leaves submodules alone', async () => {
    const { stdout, calls, trace } = await run('import torch.nn, torch; print(type(torch.__loader__).__name__, type(torch.__spec__.loader).__name__, torch.nn.LAYER)', { torch: 3 }, false);
    expect(stdout.trim()).toBe('SourceFileLoader SourceFileLoader linear');
    expect(calls).toEqual(['imported; loader is SourceFileLoader', 'manual_seed(3)']);
    expect(trace.seeding.map((event) => event.module)).toEqual(['torch']);
  });

  it('a lookup without an import (transformers checks for torch this way) does not use up the seeding', async () => {
    const { calls } = await run('import importlib.util; importlib.util.find_spec("torch"); import torch', { torch: 3 }, false);
    expect(calls).toEqual(['imported; loader is SourceFileLoader', 'manual_seed(3)']);
  });

  it('a malformed plan (it never comes from a record) is reported, and the exit line with the imports is still written', async () => {
    const probe = await newProbe();
    execFileSync('python3', ['-c', 'import json'], { cwd: root, env: { PATH: process.env.PATH, ...probe.environment(root, undefined), REPRO_GATE_SEED_PLAN: 'torch=x' } });
    const written = await readTrace(probe.traceFile);
    expect(written.seeding).toEqual([{ pid: expect.any(Number), module: 'probe', calls: [], error: expect.stringMatching(/^ValueError: invalid literal for int/) }]);
    expect(written.processes[0]?.distributions).not.toBeNull();
  });

  it('strict determinism turns on deterministic algorithms and cuDNN determinism, even without a torch seed', async () => {
    const { calls } = await run('import torch', {}, true);
    expect(calls).toEqual(['imported; loader is SourceFileLoader', 'use_deterministic_algorithms(True)', 'cudnn.deterministic=True', 'cudnn.benchmark=False']);
  });

  it('reports a framework call that fails instead of breaking the program', async () => {
    const { stdout, calls, trace } = await run('import tensorflow; print("trained")', { tensorflow: 5 }, true);
    expect(stdout.trim()).toBe('trained');
    expect(calls).toEqual(['tf.random.set_seed(5)']);
    expect(trace.seeding).toEqual([{ pid: expect.any(Number), module: 'tensorflow', calls: ['tf.random.set_seed(5)'], error: 'AttributeError: enable_op_determinism needs TensorFlow 2.9' }]);
  });

  it('never imports a framework the program does not use', async () => {
    const { stdout, calls, trace } = await run('import sys; print(sorted(m for m in ("torch", "tensorflow", "numpy") if m in sys.modules))', { torch: 3, tensorflow: 5, numpy: 7 }, true);
    expect(stdout.trim()).toBe('[]');
    expect(calls).toEqual([]);
    expect(trace.seeding).toEqual([]);
  });
});
