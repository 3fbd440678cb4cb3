import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compareRecordVersions } from '../../src/compare/loosening.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { mergeReports } from '../../src/report/merge.js';
import { type Loosened, type Report, ReportSchema } from '../../src/report/schema.js';
import { renderTerminal } from '../../src/report/terminal.js';
import { recordReport, report } from '../support/report-fixtures.js';

// The record compared with its version at the base: what lets more results pass is a loosening, new hashes and
// values are a re-record, anything stricter is neither.

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);
const HASH_C = 'c'.repeat(64);

/** A record as the YAML parser returns it; every call gets a fresh copy to edit. */
function baseRecord(): Record<string, any> {
  return parse(`
version: 1
name: digits
command: python train.py
code: { commit: 0123abcd }
environment:
  python: "3.11"
  requirements: requirements.txt
  requirements_sha256: ${HASH_A}
  packages: { numpy: 1.26.4, scikit-learn: 1.6.1 }
  platform: linux-x86_64
config:
  - { path: configs/train.yaml, sha256: ${HASH_A} }
data:
  - { path: data/train.csv, sha256: ${HASH_A} }
artifacts:
  - { path: out/model.pkl, sha256: ${HASH_A} }
  - { path: out/report.json, sha256: ${HASH_B}, compare: numeric }
metrics:
  path: out/metrics.json
  values: { accuracy: 0.93, f1: 0.91, loss: .nan }
tolerance:
  default: { abs: 0.001 }
  metrics: { f1: { abs: 0.01, rel: 0.05 } }
thresholds:
  accuracy: { min: 0.9 }
  loss: { max: 0.5 }
  f1: { min: 0.8, max: 1 }
`);
}

const changes = (edit: (record: Record<string, any>) => void) => {
  const current = baseRecord();
  edit(current);
  return compareRecordVersions(baseRecord(), current, 'models/digits/run.yaml');
};
const loosened = (edit: (record: Record<string, any>) => void) => changes(edit).loosened;

describe('compareRecordVersions: nothing to report', () => {
  it('finds nothing in an unchanged record', () => {
    expect(compareRecordVersions(baseRecord(), baseRecord(), 'run.yaml')).toEqual({ loosened: [], rerecorded: [] });
  });

  it('finds nothing in a record new since the base, whatever it holds', () => {
    expect(compareRecordVersions(undefined, baseRecord(), 'run.yaml')).toEqual({ loosened: [], rerecorded: [] });
    expect(compareRecordVersions(undefined, undefined, 'run.yaml')).toEqual({ loosened: [], rerecorded: [] });
  });

  it('finds nothing in a base that is not a record (invalid YAML parses to null, or garbage)', () => {
    expect(compareRecordVersions(null, baseRecord(), 'run.yaml')).toEqual({ loosened: [], rerecorded: [] });
    expect(compareRecordVersions({ metrics: 'nope', artifacts: 7, thresholds: [1] }, baseRecord(), 'run.yaml')).toEqual({ loosened: [], rerecorded: [] });
  });

  it('does not count tightening as loosening', () => {
    const tightened = changes((record) => {
      record.tolerance.default = { abs: 0.0005 };
      record.tolerance.metrics.f1 = { abs: 0.001, rel: 0 };
      record.thresholds.accuracy = { min: 0.92 };
      record.thresholds.loss = { min: 0, max: 0.4 };
      record.thresholds.f1 = { min: 0.85, max: 0.99 };
      record.thresholds.precision = { min: 0.5 };
      record.artifacts[1].compare = 'exact';
      record.artifacts.push({ path: 'out/extra.bin', sha256: HASH_C, compare: 'report' });
      record.metrics.values.precision = 0.7;
    });
    expect(tightened).toEqual({ loosened: [], rerecorded: [] });
  });

  it('treats a per-metric tolerance equal to the default as no change, and spelling `compare: exact` as the default', () => {
    expect(
      loosened((record) => {
        record.tolerance.metrics.accuracy = { abs: 0.001 };
        record.artifacts[0].compare = 'exact';
        record.artifacts[0].path = './out/model.pkl';
      }),
    ).toEqual([]);
  });
});

describe('compareRecordVersions: each kind of loosening', () => {
  it('reports a widened default tolerance for every metric it governs, as effective tolerances', () => {
    expect(loosened((record) => (record.tolerance.default = { abs: 0.01 }))).toEqual([
      { kind: 'tolerance-widened', subject: 'accuracy', before: '±0.001', after: '±0.01' },
      // f1 has its own abs (0.01 either way), but inherits nothing else from the default: unchanged.
      { kind: 'tolerance-widened', subject: 'loss', before: '±0.001', after: '±0.01' },
    ]);
  });

  it('reports a tolerance section removed as nothing wider (exact) — and one added where the default was exact', () => {
    expect(loosened((record) => delete record.tolerance)).toEqual([]);
    const base = { ...baseRecord(), tolerance: undefined };
    const current = { ...baseRecord(), tolerance: { metrics: { loss: { rel: 0.1 } } } };
    expect(compareRecordVersions(base, current, 'run.yaml').loosened).toEqual([{ kind: 'tolerance-widened', subject: 'loss', before: 'exact', after: '±10%' }]);
  });

  it('reports a per-metric tolerance added where the default was tighter', () => {
    expect(loosened((record) => (record.tolerance.metrics.accuracy = { abs: 0.05 }))).toEqual([
      { kind: 'tolerance-widened', subject: 'accuracy', before: '±0.001', after: '±0.05' },
    ]);
  });

  it('reports a relative tolerance raised even when the absolute one shrank', () => {
    expect(loosened((record) => (record.tolerance.metrics.f1 = { abs: 0, rel: 0.1 }))).toEqual([
      { kind: 'tolerance-widened', subject: 'f1', before: '±0.01 + 5%', after: '±10%' },
    ]);
  });

  it('reports thresholds relaxed: min lowered, max raised, one side dropped', () => {
    expect(
      loosened((record) => {
        record.thresholds.accuracy = { min: 0.85 };
        record.thresholds.loss = { max: 0.9 };
        record.thresholds.f1 = { min: 0.8 };
      }),
    ).toEqual([
      { kind: 'threshold-relaxed', subject: 'accuracy', before: '≥ 0.9', after: '≥ 0.85' },
      { kind: 'threshold-relaxed', subject: 'loss', before: '≤ 0.5', after: '≤ 0.9' },
      { kind: 'threshold-relaxed', subject: 'f1', before: '≥ 0.8 and ≤ 1', after: '≥ 0.8' },
    ]);
  });

  it('reports a threshold removed, one by one and with the whole section', () => {
    expect(loosened((record) => delete record.thresholds.loss)).toEqual([{ kind: 'threshold-removed', subject: 'loss', before: '≤ 0.5', after: null }]);
    expect(loosened((record) => delete record.thresholds).map((finding) => [finding.kind, finding.subject])).toEqual([
      ['threshold-removed', 'accuracy'],
      ['threshold-removed', 'loss'],
      ['threshold-removed', 'f1'],
    ]);
  });

  it('reports a metric removed with its recorded value (NaN included), and not also a tolerance for it', () => {
    expect(
      loosened((record) => {
        delete record.metrics.values.loss;
        delete record.thresholds.loss;
        record.tolerance.default = { abs: 0.001 };
      }),
    ).toEqual([
      { kind: 'metric-removed', subject: 'loss', before: 'NaN', after: null },
      { kind: 'threshold-removed', subject: 'loss', before: '≤ 0.5', after: null },
    ]);
    expect(loosened((record) => delete record.metrics).filter((finding) => finding.kind === 'metric-removed').map((finding) => finding.subject)).toEqual(['accuracy', 'f1', 'loss']);
  });

  it('reports an artifact removed', () => {
    expect(loosened((record) => record.artifacts.splice(0, 1))).toEqual([{ kind: 'artifact-removed', subject: 'out/model.pkl', before: 'exact', after: null }]);
  });

  it('reports an artifact compared less strictly: exact > numeric > report, a missing field meaning exact', () => {
    expect(
      loosened((record) => {
        record.artifacts[0].compare = 'numeric';
        record.artifacts[1].compare = 'report';
      }),
    ).toEqual([
      { kind: 'artifact-weakened', subject: 'out/model.pkl', before: 'exact', after: 'numeric' },
      { kind: 'artifact-weakened', subject: 'out/report.json', before: 'numeric', after: 'report' },
    ]);
    // A policy this version does not know is weaker than any it knows: it can only pass more.
    expect(loosened((record) => (record.artifacts[0].compare = 'approximately'))).toEqual([
      { kind: 'artifact-weakened', subject: 'out/model.pkl', before: 'exact', after: 'approximately' },
    ]);
  });

  it('reports a numeric artifact whose tensors pass more easily: a wider tolerance by glob or dtype, NaN equal, a sampled fingerprint', () => {
    expect(loosened((record) => (record.artifacts[1].tensors = { 'classifier.*': { abs: 1e-3 } }))).toEqual([
      { kind: 'tolerance-widened', subject: 'out/report.json classifier.* (float16)', before: '±0.00001 + 0.1%', after: '±0.001 + 0.1%' },
    ]);
    // Tighter than every float dtype's default, but integers were exact: an int64 tensor may now move.
    expect(loosened((record) => (record.artifacts[1].tolerance = { abs: 1e-8, rel: 1e-8 }))).toEqual([
      { kind: 'tolerance-widened', subject: 'out/report.json (int64)', before: 'exact', after: '±1e-8 + 0.000001%' },
    ]);
    expect(loosened((record) => (record.artifacts[1].tolerance = { abs: 0, rel: 0 }))).toEqual([]);
    // Tighter than the float32 default, wider than float64's: a float64 tensor can now pass more.
    expect(loosened((record) => (record.artifacts[1].tolerance = { abs: 1e-6, rel: 1e-6 }))[0]).toMatchObject({ subject: 'out/report.json (float64)' });
    expect(loosened((record) => (record.artifacts[1].tolerance = { rel: 0.5 }))[0]).toMatchObject({ kind: 'tolerance-widened', subject: 'out/report.json (float16)' });
    expect(
      loosened((record) => {
        record.artifacts[1].equal_nan = true;
        record.artifacts[1].fingerprint = 'sampled';
      }),
    ).toEqual([
      { kind: 'artifact-weakened', subject: 'out/report.json', before: 'NaN ≠ NaN', after: 'equal_nan: true' },
      { kind: 'artifact-weakened', subject: 'out/report.json', before: 'fingerprint: stats', after: 'fingerprint: sampled' },
    ]);
  });

  it('reports tensor fingerprints rewritten while the artifact sha256 stayed: they are measured from its bytes', () => {
    const withContent = (sha: string) => (record: any) => (record.artifacts[1].content = { format: 'npy', tensors: [{ name: 'array', sha256: sha }] });
    const base = baseRecord();
    withContent(HASH_A)(base);
    const rewritten = structuredClone(base);
    withContent(HASH_C)(rewritten);
    expect(compareRecordVersions(base, rewritten, 'run.yaml').loosened).toEqual([
      { kind: 'artifact-weakened', subject: 'out/report.json', before: 'tensor fingerprints of the recorded artifact', after: 'tensor fingerprints rewritten, same artifact sha256' },
    ]);
    // A re-record changes both: that is a re-record, not a loosening.
    rewritten.artifacts[1].sha256 = HASH_C;
    expect(compareRecordVersions(base, rewritten, 'run.yaml').loosened).toEqual([]);
  });

  it('reports a deleted record, and nothing else about it', () => {
    expect(compareRecordVersions(baseRecord(), undefined, 'models/digits/run.yaml')).toEqual({
      loosened: [{ kind: 'record-deleted', subject: 'models/digits/run.yaml', before: 'digits', after: null }],
      rerecorded: [],
    });
    // An emptied file still exists: everything in it was removed, one finding each.
    expect(compareRecordVersions(baseRecord(), null, 'run.yaml').loosened.map((finding) => finding.kind)).toEqual([
      'metric-removed', 'metric-removed', 'metric-removed', 'threshold-removed', 'threshold-removed', 'threshold-removed', 'artifact-removed', 'artifact-removed',
    ]);
  });
});

describe('compareRecordVersions: re-recorded hashes and values', () => {
  it('counts new hashes, values, pins and versions, and finds no loosening in them', () => {
    const rerecorded = changes((record) => {
      record.artifacts[0].sha256 = HASH_C;
      record.artifacts[1].sha256 = HASH_C;
      record.metrics.values = { accuracy: 0.94, f1: 0.92, loss: 0.3 };
      record.config[0].sha256 = HASH_B;
      record.data[0].sha256 = HASH_B;
      record.environment.requirements_sha256 = HASH_B;
      record.environment.packages = { numpy: '2.2.6', 'scikit-learn': '1.6.1', scipy: '1.15.0' };
      record.environment.python = '3.12';
      record.environment.platform = 'macosx-14.0-arm64';
      record.code.commit = '4567cdef';
    });
    expect(rerecorded).toEqual({
      loosened: [],
      rerecorded: [
        { kind: 'artifact-hash', count: 2 },
        { kind: 'metric-value', count: 3 },
        { kind: 'config-hash', count: 1 },
        { kind: 'data-hash', count: 1 },
        { kind: 'requirements-hash', count: 1 },
        { kind: 'package', count: 2 },
        { kind: 'python', count: 1 },
        { kind: 'platform', count: 1 },
        { kind: 'code-commit', count: 1 },
      ],
    });
  });

  it('keeps NaN equal to NaN, and reports a re-record beside a loosening', () => {
    expect(changes((record) => (record.metrics.values.loss = Number.NaN))).toEqual({ loosened: [], rerecorded: [] });
    expect(
      changes((record) => {
        record.metrics.values.accuracy = 0.95;
        record.thresholds.accuracy = { min: 0.5 };
      }),
    ).toEqual({
      loosened: [{ kind: 'threshold-relaxed', subject: 'accuracy', before: '≥ 0.9', after: '≥ 0.5' }],
      rerecorded: [{ kind: 'metric-value', count: 1 }],
    });
  });
});

const finding = (overrides: Partial<Loosened> = {}): Loosened => ({
  recordPath: 'models/digits/run.yaml',
  kind: 'tolerance-widened',
  subject: 'accuracy',
  before: 'exact',
  after: '±0.05',
  ...overrides,
});

function looseReport(loosened: Loosened[], extra: Partial<Report> = {}): Report {
  return {
    ...report([recordReport()]),
    base: { ref: 'main', commit: 'f'.repeat(40) },
    loosened,
    rerecorded: [{ recordPath: 'models/digits/run.yaml', changes: [{ kind: 'artifact-hash', count: 2 }, { kind: 'metric-value', count: 3 }, { kind: 'config-hash', count: 1 }] }],
    ...extra,
  };
}

describe('the loosened section in the reports', () => {
  it('comes right under the markdown headline, one line per finding, then the re-recorded line', () => {
    const markdown = renderMarkdown(looseReport([finding(), finding({ kind: 'record-deleted', recordPath: 'models/old/run.yaml', subject: 'models/old/run.yaml', before: 'old', after: null })]));
    const lines = markdown.split('\n');
    expect(lines[0]).toBe('## ✅ repro-gate: reproduced');
    const heading = lines.indexOf('### ⚠️ The record was loosened');
    expect(heading).toBeGreaterThan(0);
    expect(heading).toBeLessThan(lines.findIndex((line) => line.startsWith('### ✅ digits-sgd')));
    expect(markdown).toContain('Compared with base main (ffffffffffff)');
    expect(markdown).toContain('- models/digits/run.yaml: tolerance of accuracy widened: exact → ±0.05\n');
    expect(markdown).toContain('- models/old/run.yaml: record deleted (old): nothing of it is checked\n');
    expect(markdown).toContain('Re-recorded (new hashes and values, not a loosening): models/digits/run.yaml: 2 artifact hashes, 3 metric values, config hash');
  });

  it('shows only the re-recorded line when nothing was loosened, and nothing without a base', () => {
    const rerecordedOnly = renderMarkdown(looseReport([]));
    expect(rerecordedOnly).not.toContain('loosened');
    expect(rerecordedOnly).toContain('Re-recorded');
    expect(renderMarkdown(report([recordReport()]))).not.toMatch(/loosened|Re-recorded/);
    expect(renderTerminal(report([recordReport()]))).not.toMatch(/loosened|re-recorded/);
  });

  it('escapes what the pull request controls', () => {
    const markdown = renderMarkdown(looseReport([finding({ recordPath: '@octocat/run.yaml', subject: '<img src=x>' })], { base: { ref: '[x](https://evil.example)', commit: 'f'.repeat(40) } }));
    expect(markdown).not.toContain('@octocat');
    expect(markdown).not.toContain('<img');
    expect(markdown).not.toContain('](https://evil');
    expect(renderTerminal(looseReport([finding({ subject: 'acc\u001b[2J' })]))).not.toContain('\u001b[2J');
  });

  it('caps the lines with maxRows, counting the rest', () => {
    const many = Array.from({ length: 30 }, (_, i) => finding({ subject: `metric_${i}` }));
    const markdown = renderMarkdown(looseReport(many), { maxRows: 5 });
    expect(markdown.match(/^- models\/digits\/run\.yaml: tolerance/gm)).toHaveLength(5);
    expect(markdown).toContain('- … and 25 more');
  });

  it('prints the same lines in the terminal, before the record blocks', () => {
    const terminal = renderTerminal(looseReport([finding({ kind: 'threshold-removed', subject: 'f1', before: '≥ 0.8', after: null })]));
    const lines = terminal.split('\n');
    expect(lines[0]).toBe('⚠ The record was loosened (against base main (ffffffffffff)):');
    expect(lines[1]).toBe('    models/digits/run.yaml: threshold on f1 removed (was ≥ 0.8)');
    expect(lines[2]).toBe('  re-recorded (not a loosening): models/digits/run.yaml: 2 artifact hashes, 3 metric values, config hash');
    expect(terminal.indexOf('loosened')).toBeLessThan(terminal.indexOf('digits-sgd: reproduced'));
  });

  it('says so when a report checked no record at all (the only record was deleted)', () => {
    const empty = { ...looseReport([finding({ kind: 'record-deleted', subject: 'run.yaml', recordPath: 'run.yaml', before: null, after: null })]), records: [], verdict: 'error' as const };
    const markdown = renderMarkdown(empty);
    expect(markdown).toContain('No record was checked.');
    expect(markdown).toContain('- run.yaml: record deleted: nothing of it is checked');
  });
});

describe('the report schema and merge carry the findings', () => {
  it('validates findings strictly and caps their text', () => {
    expect(ReportSchema.safeParse(looseReport([finding()])).success).toBe(true);
    expect(ReportSchema.safeParse(looseReport([{ ...finding(), extra: 1 } as Loosened])).success).toBe(false);
    expect(ReportSchema.safeParse(looseReport([finding({ kind: 'relaxed-somehow' as Loosened['kind'] })])).success).toBe(false);
    expect(ReportSchema.safeParse(looseReport([finding({ subject: 'x'.repeat(2_001) })])).success).toBe(false);
    expect(ReportSchema.safeParse(looseReport([], { base: { ref: 'main', commit: 'not-a-hash' } })).success).toBe(false);
  });

  it('merges the findings of several jobs: a union, each once, with the base', () => {
    const a = looseReport([finding()]);
    const b = looseReport([finding(), finding({ recordPath: 'models/alpha/run.yaml', subject: 'loss' })]);
    const plain = report([recordReport({ name: 'other', recordPath: 'models/other/run.yaml' })]);
    const merged = mergeReports([a, b, plain], '2026-11-24T10:00:00.000Z');
    expect(merged.base).toEqual({ ref: 'main', commit: 'f'.repeat(40) });
    expect(merged.loosened).toEqual([finding({ recordPath: 'models/alpha/run.yaml', subject: 'loss' }), finding()]);
    expect(merged.rerecorded).toHaveLength(1);
    expect(ReportSchema.parse(merged)).toEqual(merged);
    // Reports without a base merge as before, with no loosening fields at all.
    expect(Object.keys(mergeReports([plain], '2026-11-24T10:00:00.000Z'))).not.toContain('loosened');
  });
});
