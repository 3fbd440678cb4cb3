import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { calibrateMetrics, roundUpReadable, smallestStep } from '../../src/compare/calibration/calibrate-metrics.js';
import { calibrateRuns, determinismSummary, type RunResults } from '../../src/compare/calibration/calibrate-runs.js';
import { calibrateTensors } from '../../src/compare/calibration/calibrate-tensors.js';
import { classifyDrift, type RunView, variationEffects } from '../../src/compare/reruns/compare-runs.js';
import { runFingerprint } from '../../src/environment/machine/run-fingerprint.js';
import { likelyCauses } from '../../src/explain/causes.js';
import { writeCalibration } from '../../src/record/calibrated-entries.js';
import { RunRecordSchema } from '../../src/record/schema.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { type NumericCheck, ReportSchema } from '../../src/report/schema.js';
import { renderTerminal } from '../../src/report/terminal.js';
import type { ProbedProcess, ProbeTrace } from '../../src/rerun/probe/read-trace.js';
import { seedPlan } from '../../src/rerun/seeding/seed-plan.js';
import { describeSeeding } from '../../src/rerun/seeding/seeding-report.js';
import { parseVaryList, variation } from '../../src/rerun/variations/variations.js';
import { driftRecord, recordReport, report } from '../support/report-fixtures.js';

const H = (c: string) => c.repeat(64);

function process(overrides: Partial<ProbedProcess> = {}): ProbedProcess {
  return { pid: 1, executable: '/venv/bin/python', prefix: '/venv', version: '3.11.9', script: null, scriptInSandbox: false, distributions: [], sandboxModules: [], ...overrides };
}

function trace(overrides: Partial<ProbeTrace> = {}): ProbeTrace {
  return { processes: [], seeding: [], readFiles: [], readTruncated: false, unprobedChildren: [], missingFiles: [], listedFolders: [], listedTruncated: false, ...overrides };
}

describe('seed plan', () => {
  it('applies integer seeds to their frameworks; random wins over python; others are only exported', () => {
    const plan = seedPlan({ seeds: { python: 1, random: 2, numpy: '7', torch: 3, tensorflow: 4, sampler: 9 }, apply: true, strict: false, variables: {} });
    expect(plan.probe).toEqual({ REPRO_GATE_SEED_PLAN: 'random=2,numpy=7,torch=3,tensorflow=4', REPRO_GATE_DETERMINISM: '' });
    expect(plan.environment).toEqual({});
    expect(plan.notes).toEqual([]);
  });

  it('says which seeds cannot be applied (not an integer, out of range)', () => {
    const plan = seedPlan({ seeds: { numpy: 'abc', torch: -1, python: 2 ** 33 }, apply: true, strict: false, variables: {} });
    expect(plan.probe.REPRO_GATE_SEED_PLAN).toBe('');
    expect(plan.notes).toHaveLength(3);
    expect(plan.notes[0]).toMatch(/seed numpy \(abc\) is not an integer from 0 to 4294967295: only exported/);
  });

  it('without apply_seeds the probe gets an empty plan: records without the key keep export-only behaviour', () => {
    // Set all the same, so that nothing else can set them for the probe.
    expect(seedPlan({ seeds: { numpy: 7 }, apply: false, strict: false, variables: {} })).toEqual({ probe: { REPRO_GATE_SEED_PLAN: '', REPRO_GATE_DETERMINISM: '' }, environment: {}, notes: [] });
  });

  it('a record cannot set the probe\'s variables itself', () => {
    const record = { version: 1, name: 'x', command: 'true', metrics: { path: 'm.json', values: { a: 1 } }, environment: { variables: { REPRO_GATE_DETERMINISM: 'strict' } } };
    const parsed = RunRecordSchema.safeParse(record);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toMatch(/REPRO_GATE_\* names are repro-gate's own/);
  });

  it('strict determinism: deterministic algorithms, the cuBLAS workspace, one thread, a hash seed; the record\'s variables win', () => {
    const plan = seedPlan({ seeds: { python: 5 }, apply: false, strict: true, variables: { OMP_NUM_THREADS: '4' } });
    expect(plan.probe).toEqual({ REPRO_GATE_SEED_PLAN: '', REPRO_GATE_DETERMINISM: 'strict' });
    expect(plan.environment).toEqual({ CUBLAS_WORKSPACE_CONFIG: ':4096:8', PYTHONHASHSEED: '5', MKL_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' });
  });
});

describe('seeding report', () => {
  const imported = (...names: string[]) => trace({ processes: [process({ distributions: names })] });

  it('warns when a seeded framework was imported but the record only exports its seed', () => {
    const policy = { seeds: { torch: 3 }, apply: false, strict: false, variables: {} };
    const { report: seeding, warnings } = describeSeeding(policy, seedPlan(policy), imported('torch', 'numpy'));
    expect(seeding).toBeUndefined();
    expect(warnings).toEqual([expect.stringMatching(/imported torch, but the record's seeds are only exported as REPRO_SEED_\* variables.*apply_seeds: true/)]);
  });

  it('lists what the probe applied, per framework, and names an imported framework without a seed', () => {
    const policy = { seeds: { numpy: 7 }, apply: true, strict: true, variables: {} };
    const probeTrace = imported('numpy', 'torch');
    probeTrace.seeding = [
      { pid: 1, module: 'numpy', calls: ['numpy.random.seed(7)'] },
      { pid: 2, module: 'numpy', calls: ['numpy.random.seed(7)'] },
      { pid: 1, module: 'torch', calls: ['torch.use_deterministic_algorithms(True)'] },
      { pid: 1, module: 'tensorflow', calls: [], error: 'AttributeError: no enable_op_determinism' },
      // The trace is the command's to write: a module the plan does not know is not reported.
      { pid: 1, module: 'made-up', calls: ['x'] },
    ];
    const { report: seeding, warnings } = describeSeeding(policy, seedPlan(policy), probeTrace);
    expect(seeding).toEqual({
      mode: 'applied',
      strict: true,
      applied: [
        { module: 'numpy', calls: ['numpy.random.seed(7)'], processes: 2 },
        { module: 'torch', calls: ['torch.use_deterministic_algorithms(True)'], processes: 1 },
      ],
      failed: [{ module: 'tensorflow', error: 'AttributeError: no enable_op_determinism' }],
    });
    expect(warnings).toContain('the training imported torch, for which the record has no seed (add one under `seeds:`)');
    expect(warnings).toContain('seeding tensorflow failed in the rerun: AttributeError: no enable_op_determinism');
  });
});

describe('calibration', () => {
  it('records a varying metric at the median with k × spread, a stable one as it is', () => {
    const runs = [{ loss: 0.5, n: 3 }, { loss: 0.5012, n: 3 }, { loss: 0.5004, n: 3 }, { loss: 0.5001, n: 3 }, { loss: 0.5008, n: 3 }];
    const calibration = calibrateMetrics(runs, 3);
    expect(calibration.values).toEqual({ loss: 0.5004, n: 3 });
    expect(calibration.calibrated).toHaveLength(1);
    expect(calibration.calibrated[0]).toMatchObject({ name: 'loss', median: 0.5004 });
    expect(calibration.calibrated[0]!.spread).toBeCloseTo(0.0012, 12);
    expect(calibration.calibrated[0]!.abs).toBe(0.0036);
    expect(calibrateMetrics(runs, 2).calibrated[0]!.abs).toBe(0.0024);
  });

  it('never calibrates below the metric\'s smallest step, and rounds tolerances up, never down', () => {
    expect(smallestStep([0.95, 0.9533])).toBe(1e-4);
    expect(smallestStep([0.1234567891, 0.1234567892])).toBeLessThan(1e-15);
    expect(roundUpReadable(0.00361)).toBe(0.0037);
    expect(roundUpReadable(0.0036)).toBe(0.0036);
    expect(roundUpReadable(3 * (0.93 - 0.9))).toBe(0.09);
    expect(roundUpReadable(3.1e-7 * 3)).toBeGreaterThanOrEqual(9.3e-7);
    // Three runs at the step of a rounded metric: spread 1e-4, tolerance 3e-4.
    expect(calibrateMetrics([{ acc: 0.9533 }, { acc: 0.9534 }, { acc: 0.9533 }], 3).calibrated[0]!.abs).toBe(0.0003);
  });

  it('a metric missing (or NaN) in some runs cannot be calibrated, and says so', () => {
    const calibration = calibrateRuns(
      [
        { metrics: { a: 1, b: Number.NaN }, artifacts: new Map(), numeric: new Map() },
        { metrics: { a: 1, b: 2 }, artifacts: new Map(), numeric: new Map() },
        { metrics: { b: 2 }, artifacts: new Map(), numeric: new Map() },
      ],
      new Map(),
      3,
    );
    expect(calibration.metrics.unstable.sort()).toEqual(['a', 'b']);
    expect(calibration.warnings[0]).toMatch(/missing or NaN in some runs but not others: a, b/);
  });

  const check = (tensors: NumericCheck['tensors'], overrides: Partial<NumericCheck> = {}): NumericCheck => ({
    format: 'safetensors',
    outcome: 'within-tolerance',
    basis: 'baseline',
    tensorCount: 3,
    identicalCount: 3 - tensors.length,
    tensors,
    ...overrides,
  });
  const moved = (name: string, maxAbs: number) => ({ name, dtype: 'float32', shape: [4], status: 'within' as const, maxAbs });

  it('gives each varying tensor k × the largest difference any run showed', () => {
    const calibration = calibrateTensors([check([moved('fc.weight', 1e-6), moved('fc.bias', 2e-7)]), check([moved('fc.weight', 3e-6)])], 3);
    expect(calibration).toEqual({ tensors: [{ name: 'fc.bias', maxAbs: 2e-7, abs: 6e-7 }, { name: 'fc.weight', maxAbs: 3e-6, abs: 9e-6 }] });
  });

  it('refuses tensors whose structure varies, and covers tensors beyond the listed ones with an artifact-wide tolerance', () => {
    expect(calibrateTensors([check([{ name: 'x', dtype: 'float32', shape: [4], status: 'changed', change: 'shape [4] → [5]' }], { outcome: 'structure-changed' })], 3).problem).toMatch(/shape \[4\] → \[5\]/);
    const truncated = calibrateTensors([check([moved('a', 1e-3)], { tensorCount: 900, identicalCount: 0 })], 3);
    expect(truncated.artifactAbs).toBe(0.003);
  });

  it('leaves a varying exact artifact exact and warns, naming it; stable ones are stable', () => {
    const runs: RunResults[] = [1, 2, 3].map((i) => ({ metrics: null, artifacts: new Map([['out/a.bin', H('a')], ['out/plot.png', H(String(i))], ['out/m.npy', H(String(i))]]), numeric: new Map() }));
    runs[1]!.numeric = new Map([['out/m.npy', check([moved('array', 0.5)], { format: 'npy' })]]);
    runs[2]!.numeric = new Map([['out/m.npy', check([moved('array', 0.25)], { format: 'npy' })]]);
    const calibration = calibrateRuns(runs, new Map([['out/a.bin', 'exact'], ['out/plot.png', 'exact'], ['out/m.npy', 'numeric']] as const), 3);
    expect(calibration.artifacts.map((artifact) => [artifact.path, artifact.status])).toEqual([
      ['out/a.bin', 'stable'],
      ['out/plot.png', 'varies'],
      ['out/m.npy', 'calibrated'],
    ]);
    expect(calibration.warnings).toEqual([expect.stringMatching(/^out\/plot\.png differed between the 3 runs \(3 different sha256\): it is left `compare: exact`/)]);
    expect(determinismSummary(calibration)).toEqual([
      'determinism: 3 runs',
      '  stable: out/a.bin',
      '  nondeterministic: out/plot.png, 3 different files: not calibrated',
      '  nondeterministic: out/m.npy, 3 different files: 1 tensor tolerance calibrated',
    ]);
  });
});

describe('calibrated entries in run.yaml', () => {
  const RECORD = `version: 1
name: demo
command: python train.py
artifacts:
  - path: out/m.safetensors
    sha256: ${H('c')}
    compare: numeric
    tensors:
      "fc.bias": { abs: 0.5 } # mine
      "fc.weight": { abs: 0.1 } # calibrated: 3 runs, max abs Δ 0.03
metrics:
  path: m.json
  values: { loss: 0.5, acc: 0.9, old: 1 }
tolerance:
  metrics:
    acc: { abs: 0.0001 } # hand-written
    old: { abs: 0.2 } # calibrated: 5 runs, spread 0.07
`;

  it('rewrites calibrated entries with their origin, keeps hand-written ones (warning when tighter) and asks for samples', () => {
    const doc = parseDocument(RECORD);
    const warnings = writeCalibration(
      doc,
      {
        runs: 5,
        metrics: [
          { name: 'loss', spread: 0.0012, abs: 0.0036 },
          { name: 'acc', spread: 0.01, abs: 0.03 },
        ],
        artifacts: [{ tensors: [{ name: 'fc.bias', maxAbs: 1e-6, abs: 3e-6 }, { name: 'fc.weight', maxAbs: 2e-6, abs: 6e-6 }] }],
      },
      { loss: 0.5, acc: 0.9 },
    );
    const text = doc.toString({ lineWidth: 0 });
    expect(text).toContain('loss: { abs: 0.0036 } # calibrated: 5 runs, spread 0.0012');
    expect(text).toContain('acc: { abs: 0.0001 } # hand-written');
    expect(text).not.toContain('old:  { abs: 0.2 }');
    expect(text).toContain('"fc.bias": { abs: 0.5 } # mine');
    expect(text).toContain('fc.weight: { abs: 0.000006 } # calibrated: 5 runs, max abs Δ 0.000002');
    expect(text).toContain('fingerprint: sampled # calibrated: 5 runs');
    expect(warnings).toEqual([expect.stringMatching(/metric acc: the hand-written tolerance \(±0\.0001\) is tighter than calibrated \(±0\.03\)/)]);
    const record = RunRecordSchema.parse(doc.toJS());
    expect(record.tolerance?.metrics).toEqual({ acc: { abs: 0.0001 }, loss: { abs: 0.0036 } });
    expect(record.artifacts?.[0]?.fingerprint).toBe('sampled');
  });

  it('a record calibrated again with every output now stable loses its calibrated entries, and only those', () => {
    const doc = parseDocument(RECORD);
    writeCalibration(doc, { runs: 5, metrics: [], artifacts: [undefined] }, {});
    const record = RunRecordSchema.parse(doc.toJS());
    expect(record.tolerance).toEqual({ metrics: { acc: { abs: 0.0001 } } });
    expect(record.artifacts?.[0]?.tensors).toEqual({ 'fc.bias': { abs: 0.5 } });
  });
});

describe('reruns side by side', () => {
  const run = (index: number, metrics: Record<string, number> | null, model: string, extra: Partial<RunView> = {}): RunView => ({ index, metrics, artifacts: new Map([['out/model.bin', model]]), ...extra });

  it('deterministic drift: every rerun gave the same outputs', () => {
    expect(classifyDrift([run(1, { acc: 0.8 }, H('a')), run(2, { acc: 0.8 }, H('a'))])).toEqual({ kind: 'deterministic', runs: 2, varying: [] });
    // NaN equals NaN here: a metric that is always NaN does not vary.
    expect(classifyDrift([run(1, { loss: Number.NaN }, H('a')), run(2, { loss: Number.NaN }, H('a'))]).kind).toBe('deterministic');
  });

  it('nondeterministic: the reruns disagree, each output with every run\'s value; a failed rerun counts as disagreement', () => {
    expect(classifyDrift([run(1, { acc: 0.8, n: 1 }, H('a')), run(2, { acc: 0.81, n: 1 }, H('b')), run(3, { acc: 0.8, n: 1 }, H('a'))])).toEqual({
      kind: 'nondeterministic',
      runs: 3,
      varying: [
        { output: 'out/model.bin', kind: 'artifact', values: ['aaaaaaaaaaaa', 'bbbbbbbbbbbb', 'aaaaaaaaaaaa'] },
        { output: 'acc', kind: 'metric', values: [0.8, 0.81, 0.8] },
      ],
    });
    expect(classifyDrift([run(1, { acc: 0.8 }, H('a')), run(2, null, H('a'), { failure: 'exit status 1' })]).kind).toBe('nondeterministic');
  });

  it('--vary: what each variation changed against the unvaried run', () => {
    const first = run(1, { acc: 0.8 }, H('a'));
    expect(variationEffects(first, [run(2, { acc: 0.8 }, H('a'), { variation: 'hashseed' }), run(3, { acc: 0.7 }, H('a'), { variation: 'threads' })])).toEqual([
      { variation: 'hashseed', changed: [] },
      { variation: 'threads', changed: [{ output: 'acc', kind: 'metric', values: [0.8, 0.7] }] },
    ]);
  });

  it('shows the kind in the headline, the varying outputs side by side and how to fix nondeterminism', () => {
    const record = {
      ...driftRecord(),
      drift: { kind: 'nondeterministic' as const, runs: 3, varying: [{ output: 'acc', kind: 'metric' as const, values: [0.8, 0.81, 0.79] }] },
      reruns: [1, 2, 3].map((index) => ({ index, durationMs: 1000 * index })),
      variations: [{ variation: 'threads', changed: [{ output: 'acc', kind: 'metric' as const, values: [0.8, 0.7] }] }],
    };
    const full = ReportSchema.parse(report([record]));
    const markdown = renderMarkdown(full);
    expect(markdown).toContain(': drift (nondeterministic)');
    expect(markdown).toContain('| Output | Run 1 | Run 2 | Run 3 |');
    expect(markdown).toContain('| acc | 0.8 | 0.81 | 0.79 |');
    expect(markdown).toMatch(/The 3 reruns disagree with each other: the training is nondeterministic \(acc varies between them\)\. Seed the frameworks/);
    expect(markdown).toContain('| threads | acc (0.8 → 0.7) |');
    const terminal = renderTerminal(full);
    expect(terminal).toContain('drift (nondeterministic)');
    expect(terminal).toMatch(/acc +0\.8 +0\.81 +0\.79/);
    const deterministic = renderMarkdown(report([{ ...driftRecord(), drift: { kind: 'deterministic', runs: 2, varying: [] } }]));
    expect(deterministic).toContain('All 2 reruns agree with each other and not with the record: the change is real');
  });
});

describe('variations', () => {
  it('parses a list, `all`, and refuses an unknown name with the accepted ones', () => {
    expect(parseVaryList('threads, hashseed')).toEqual(['threads', 'hashseed']);
    expect(parseVaryList('all')).toEqual(['threads', 'hashseed', 'tz-locale', 'workdir', 'env-order']);
    expect(() => parseVaryList('threads,gpu')).toThrow(/--vary "gpu" is not a variation/);
  });

  it('each variation changes one thing', () => {
    const env = { PATH: '/bin', OMP_NUM_THREADS: '1', TZ: 'UTC' };
    expect(variation('threads', 8).environment!(env)).toMatchObject({ OMP_NUM_THREADS: '8', OPENBLAS_NUM_THREADS: '8', MKL_NUM_THREADS: '8' });
    expect(variation('threads', 8).environment!({ PATH: '/bin' })).toMatchObject({ OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' });
    expect(variation('hashseed').environment!({ PYTHONHASHSEED: '1' }).PYTHONHASHSEED).toBe('2');
    expect(variation('tz-locale').environment!(env).TZ).toBe('Pacific/Kiritimati');
    expect(variation('workdir').extraDepth).toBe(3);
    expect(Object.keys(variation('env-order').environment!(env))).toEqual(['TZ', 'OMP_NUM_THREADS', 'PATH']);
  });
});

describe('machine fingerprint of a run', () => {
  const host = { cpu: 'Intel Xeon', isa: ['avx2', 'avx512f'], cores: 2, gpus: [{ name: 'NVIDIA A100', driver: '550.54.15' }] };

  it('takes the native pools of the process that loaded the most, and torch\'s CUDA and cuDNN into the GPUs', () => {
    const launcher = process({ pid: 1, native: { libraries: [] } });
    const worker = process({
      pid: 2,
      native: { libraries: [{ api: 'blas', library: 'mkl', version: '2024.1', threads: 8, architecture: null }, { api: 'openmp', library: 'openmp', version: null, threads: 8, architecture: null }], cuda: '12.4', cudnn: '90100' },
    });
    expect(runFingerprint(host, [launcher, worker])).toEqual({
      ...host,
      libraries: [
        { api: 'blas', library: 'mkl', version: '2024.1', threads: 8 },
        { api: 'openmp', library: 'openmp', threads: 8 },
      ],
      gpus: [{ name: 'NVIDIA A100', driver: '550.54.15', cuda: '12.4', cudnn: '90100' }],
    });
  });

  it('names a machine change among the likely causes', () => {
    const recorded = { cpu: 'Intel Xeon', isa: ['avx2', 'avx512f'], cores: 8, libraries: [{ api: 'blas' as const, library: 'mkl' }] };
    const actual = { cpu: 'AMD EPYC', isa: ['avx2'], cores: 2, libraries: [{ api: 'blas' as const, library: 'openblas' }] };
    const environment = { python: { actual: '3.11.9' }, platform: { actual: 'linux-x86_64' }, venv: null, packages: null, machine: { recorded, actual } };
    const causes = likelyCauses({ inputs: [], environment });
    expect(causes).toEqual([{ kind: 'machine-changed', subject: 'recorded on AVX-512 with MKL, rerun on AVX2 with OpenBLAS' }]);
    expect(renderMarkdown(report([recordReport({ verdict: 'drift', environment, causes })]))).toContain('machine: recorded on AVX-512 with MKL, rerun on AVX2 with OpenBLAS');
  });
});
