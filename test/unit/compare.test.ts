import { describe, expect, it } from 'vitest';
import { compareArtifacts } from '../../src/compare/artifacts.js';
import { flattenMetrics, parseMetricsJson } from '../../src/compare/metrics-file.js';
import { compareMetrics } from '../../src/compare/metrics.js';
import { checkThresholds } from '../../src/compare/thresholds.js';
import { classifyMetric, toleranceFor } from '../../src/compare/tolerance.js';
import { decideVerdict } from '../../src/compare/verdict.js';
import { worstVerdict } from '../../src/report/verdict-order.js';

describe('classifyMetric: |rerun − recorded| ≤ abs + rel·|recorded|', () => {
  it.each([
    // recorded, rerun, abs, rel, expected
    [0.9356, 0.9356, 0, 0, 'equal'],
    [0.9356, 0.9357, 0, 0, 'beyond'],
    [0.9356, 0.9356 + 1e-16, 0, 0, 'beyond'],
    [0.9356, 0.9406, 0.005, 0, 'within'], // exactly at the bound despite float rounding (0.0050000000000000044)
    [0.9356, 0.9306, 0.005, 0, 'within'],
    [0.9356, 0.94061, 0.005, 0, 'beyond'],
    [0.9356, 0.9405, 0.005, 0, 'within'],
    [100, 101, 0, 0.01, 'within'], // rel at the bound
    [100, 101.0001, 0, 0.01, 'beyond'],
    [-100, -101, 0, 0.01, 'within'], // rel uses |recorded|
    [-100, -98.9, 0, 0.01, 'beyond'],
    [10, 10.6, 0.5, 0.01, 'within'], // abs + rel together: bound 0.6
    [10, 10.61, 0.5, 0.01, 'beyond'],
    [0, 1e-12, 0, 0.5, 'beyond'], // rel of zero is zero
    [0, 1e-12, 1e-12, 0, 'within'],
    [1e300, 1.0000000001e300, 0, 1e-9, 'within'],
    [1e300, 1.01e300, 0, 1e-9, 'beyond'],
    [Infinity, Infinity, 0, 0, 'equal'],
    [Infinity, -Infinity, 1, 1, 'beyond'],
    [1, Infinity, 1e308, 0, 'beyond'],
    [Number.NaN, Number.NaN, 1, 1, 'beyond'],
    [1, Number.NaN, 1, 1, 'beyond'],
    [Number.NaN, 1, 1, 1, 'beyond'],
    [0, -0, 0, 0, 'equal'],
  ])('recorded %d, rerun %d, abs %d, rel %d → %s', (recorded, rerun, abs, rel, expected) => {
    expect(classifyMetric(recorded, rerun, { abs, rel })).toBe(expected);
  });
});

describe('toleranceFor', () => {
  it('merges a metric tolerance over the default, field by field', () => {
    const spec = { default: { abs: 0.1, rel: 0.2 }, metrics: { loss: { abs: 0.5 } } };
    expect(toleranceFor('loss', spec)).toEqual({ abs: 0.5, rel: 0.2 });
    expect(toleranceFor('other', spec)).toEqual({ abs: 0.1, rel: 0.2 });
    expect(toleranceFor('x', undefined)).toEqual({ abs: 0, rel: 0 });
  });
});

describe('metrics file', () => {
  it('parses Python json.dump output with NaN and Infinity, but not inside strings', () => {
    const parsed = parseMetricsJson('{"a": NaN, "b": Infinity, "c": -Infinity, "d": "NaN and Infinity", "e": 1e-3}') as Record<string, unknown>;
    expect(parsed.a).toBeNaN();
    expect(parsed.b).toBe(Infinity);
    expect(parsed.c).toBe(-Infinity);
    expect(parsed.d).toBe('NaN and Infinity');
    expect(parsed.e).toBe(0.001);
  });

  it('rejects invalid JSON', () => {
    expect(() => parseMetricsJson('{"a": nan}')).toThrow();
  });

  it('flattens nested keys with "." and lists non-numeric leaves', () => {
    expect(flattenMetrics({ accuracy: 0.9, train: { n_iter: 30, deep: { x: 1 } }, tag: 'v1', ok: true, hist: [1, 2] })).toEqual({
      values: { accuracy: 0.9, 'train.n_iter': 30, 'train.deep.x': 1 },
      ignored: ['tag', 'ok', 'hist'],
    });
  });

  it.each([[[1, 2]], [3], [null], ['s']])('rejects a top level that is not an object: %j', (value) => {
    expect(() => flattenMetrics(value)).toThrow(/JSON object/);
  });
});

describe('compareMetrics', () => {
  it('classifies every recorded metric, flags missing ones, and lists new ones last', () => {
    const checks = compareMetrics({
      recorded: { accuracy: 0.9356, loss: 0.2, f1: 0.5, gone: 1 },
      rerun: { accuracy: 0.9356, loss: 0.203, f1: 0.6, zeta: 2, alpha: Number.NaN },
      tolerance: { metrics: { loss: { abs: 0.005 } } },
      lineOf: (name) => (name === 'loss' ? 12 : undefined),
    });
    expect(checks.map((c) => [c.name, c.status])).toEqual([
      ['accuracy', 'equal'],
      ['loss', 'within'],
      ['f1', 'beyond'],
      ['gone', 'missing'],
      ['alpha', 'new'],
      ['zeta', 'new'],
    ]);
    expect(checks[1]).toMatchObject({ recorded: 0.2, rerun: 0.203, tolerance: { abs: 0.005, rel: 0 }, line: 12 });
    expect(checks[1]!.delta).toBeCloseTo(0.003, 12);
    expect(checks[3]).toMatchObject({ rerun: null, delta: null });
    expect(checks[4]).toMatchObject({ recorded: null, rerun: 'NaN' });
  });

  it('marks every metric missing when the rerun wrote no metrics file', () => {
    expect(compareMetrics({ recorded: { a: 1, b: 2 }, rerun: null }).map((c) => c.status)).toEqual(['missing', 'missing']);
  });
});

describe('compareArtifacts', () => {
  it('tells identical, differing and missing artifacts apart', () => {
    const h = (c: string) => c.repeat(64);
    const checks = compareArtifacts(
      [
        { path: 'a', sha256: h('a'), line: 3 },
        { path: 'b', sha256: h('b') },
        { path: 'c', sha256: h('c') },
        { path: 'd', sha256: h('d') },
      ],
      new Map([
        ['a', h('a')],
        ['b', h('f')],
        ['c', null],
      ]),
    );
    expect(checks.map((c) => c.status)).toEqual(['identical', 'differs', 'missing', 'missing']);
    expect(checks[0]!.line).toBe(3);
    expect(checks[1]!.actual).toBe(h('f'));
  });
});

describe('checkThresholds', () => {
  it('applies inclusive min and max to the rerun values', () => {
    const checks = checkThresholds(
      { a: { min: 0.9 }, b: { max: 1 }, c: { min: 0, max: 1 }, d: { min: 0 }, e: { min: 0.9 } },
      { a: 0.9, b: 1.0000001, c: 0.5, d: Number.NaN },
      () => 7,
    );
    expect(checks.map((c) => [c.metric, c.status])).toEqual([
      ['a', 'pass'],
      ['b', 'fail'],
      ['c', 'pass'],
      ['d', 'fail'],
      ['e', 'missing'],
    ]);
    expect(checks[3]!.value).toBe('NaN');
    expect(checks[0]!.line).toBe(7);
  });
});

describe('decideVerdict', () => {
  const hash = 'a'.repeat(64);
  const clean = { inputs: [], artifacts: [], metrics: [], thresholds: [] };
  const metric = (status: 'equal' | 'within' | 'beyond' | 'missing' | 'new') => ({ name: 'm', recorded: 1, rerun: 1, delta: 0, tolerance: { abs: 0, rel: 0 }, status });

  it('is reproduced when everything is identical and exactly equal', () => {
    expect(decideVerdict({ ...clean, metrics: [metric('equal'), metric('new')] })).toBe('reproduced');
  });
  it('is within-tolerance when some metric moved within tolerance', () => {
    expect(decideVerdict({ ...clean, metrics: [metric('equal'), metric('within')] })).toBe('within-tolerance');
  });
  it.each([
    ['a metric beyond tolerance', { metrics: [metric('within'), metric('beyond')] }],
    ['a missing metric', { metrics: [metric('missing')] }],
    ['a differing artifact', { artifacts: [{ path: 'a', recorded: hash, actual: 'b'.repeat(64), status: 'differs' as const }] }],
    ['a missing artifact', { artifacts: [{ path: 'a', recorded: hash, actual: null, status: 'missing' as const }] }],
    ['a failed threshold', { thresholds: [{ metric: 'a', min: 1, value: 0, status: 'fail' as const }] }],
    ['a threshold on a missing metric', { thresholds: [{ metric: 'a', min: 1, value: null, status: 'missing' as const }] }],
    ['changed data', { inputs: [{ kind: 'data' as const, path: 'd', recorded: hash, actual: 'c'.repeat(64), status: 'mismatch' as const }] }],
    ['data that disagrees with its manifest', { inputs: [{ kind: 'data' as const, path: 'd', recorded: hash, actual: hash, status: 'manifest-mismatch' as const }] }],
  ])('is drift with %s', (_label, findings) => {
    expect(decideVerdict({ ...clean, ...findings })).toBe('drift');
  });
  it('does not drift on a changed config or requirements file alone (it is a likely cause, not an outcome)', () => {
    const inputs = (['config', 'requirements'] as const).map((kind) => ({ kind, path: kind, recorded: hash, actual: 'c'.repeat(64), status: 'mismatch' as const }));
    expect(decideVerdict({ ...clean, inputs })).toBe('reproduced');
  });
  it('is error whenever the check could not be completed, whatever else was found', () => {
    expect(decideVerdict({ ...clean, metrics: [metric('beyond')], error: { message: 'timed out' } })).toBe('error');
  });
});

describe('worstVerdict', () => {
  it.each([
    [['reproduced', 'within-tolerance'], 'within-tolerance'],
    [['reproduced', 'drift', 'within-tolerance'], 'drift'],
    [['drift', 'error', 'reproduced'], 'error'],
    [['reproduced'], 'reproduced'],
    [[], 'error'],
  ] as const)('%j → %s', (verdicts, expected) => {
    expect(worstVerdict([...verdicts])).toBe(expected);
  });
});
