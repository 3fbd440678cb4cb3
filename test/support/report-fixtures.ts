import { REPORT_SCHEMA_VERSION, TOOL_NAME, TOOL_VERSION } from '../../src/constants.js';
import type { RecordReport, Report } from '../../src/report/schema.js';

// Report data as `verify` writes it, for the pure report functions. Each builder starts from a passing record.

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);

export function recordReport(overrides: Partial<RecordReport> = {}): RecordReport {
  return {
    name: 'digits-sgd',
    recordPath: 'models/digits/run.yaml',
    verdict: 'reproduced',
    inputs: [{ kind: 'data', path: 'data/digits.csv', recorded: HASH_A, actual: HASH_A, status: 'match', line: 20 }],
    environment: {
      python: { required: '3.11', actual: '3.11.7' },
      platform: { recorded: 'linux-x86_64', actual: 'linux-x86_64' },
      venv: { key: 'repro-gate-venv-v1-linux-x86_64-py3.11.7-abc', source: 'local-cache', durationMs: 40 },
      packages: { added: [], removed: [], changed: [], unchanged: 12 },
    },
    run: { command: 'python train.py', workdir: '.', exitCode: 0, signal: null, timedOut: false, durationMs: 2300, logTail: 'epoch 1\nepoch 2\n', logPath: null },
    artifacts: [{ path: 'out/model.pkl', recorded: HASH_A, actual: HASH_A, status: 'identical', line: 30 }],
    metrics: [{ name: 'accuracy', recorded: 0.9356, rerun: 0.9356, delta: 0, tolerance: { abs: 0, rel: 0 }, status: 'equal', line: 34 }],
    thresholds: [],
    causes: [],
    stages: [{ stage: 'rerun', durationMs: 2300 }],
    ...overrides,
  };
}

export function withinToleranceRecord(): RecordReport {
  return recordReport({
    name: 'iris-sgd',
    recordPath: 'models/iris/run.yaml',
    verdict: 'within-tolerance',
    metrics: [{ name: 'accuracy', recorded: 0.9356, rerun: 0.9371, delta: 0.0015, tolerance: { abs: 0.005, rel: 0 }, status: 'within', line: 34 }],
  });
}

export function driftRecord(): RecordReport {
  return recordReport({
    name: 'wine-mlp',
    recordPath: 'models/wine/run.yaml',
    verdict: 'drift',
    artifacts: [{ path: 'out/model.pkl', recorded: HASH_A, actual: HASH_B, status: 'differs', line: 30 }],
    metrics: [{ name: 'accuracy', recorded: 0.9356, rerun: 0.91, delta: -0.0256, tolerance: { abs: 0.005, rel: 0 }, status: 'beyond', line: 34 }],
    inputs: [{ kind: 'requirements', path: 'requirements.txt', recorded: HASH_A, actual: HASH_B, status: 'mismatch', line: 9 }],
    causes: [
      { kind: 'requirements-changed', subject: 'requirements.txt', line: 9 },
      { kind: 'packages-changed', subject: 'numpy 2.2.6 → 2.3.5' },
    ],
  });
}

export function report(records: RecordReport[], verdict = records[0]?.verdict ?? 'reproduced'): Report {
  return { schemaVersion: REPORT_SCHEMA_VERSION, tool: { name: TOOL_NAME, version: TOOL_VERSION }, createdAt: '2026-11-24T00:00:00.000Z', verdict, records };
}
