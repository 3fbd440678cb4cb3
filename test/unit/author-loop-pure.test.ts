import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { judgeEnvironmentUse } from '../../src/compare/environment-use.js';
import { recordedPythonVersion } from '../../src/record/measurement.js';
import { updateRecordText } from '../../src/record/update-document.js';
import type { ProbedProcess } from '../../src/rerun/probe/read-trace.js';
import { unifiedDiff } from '../../src/report/text-diff.js';

const H = (c: string) => c.repeat(64);

const RECORD = `# team: forecasting
version: 1
name: demo   # shown in the comment
command: python train.py
code:
  commit: ${'a'.repeat(40)}
environment:
  python: "3.11.7"
  requirements: requirements.txt
  requirements_sha256: ${H('a')}
  packages: { numpy: 2.2.6 }
  platform: linux-x86_64
config:
  - path: c.yaml
    sha256: ${H('b')}
artifacts:
  - path: out/m.bin
    sha256: ${H('c')} # the model
metrics:
  path: out/metrics.json
  values:
    acc: 0.9
    gone: 1
tolerance:
  metrics:
    acc: { abs: 0.01 } # noise
thresholds:
  acc: { min: 0.8 }
`;

describe('updateRecordText', () => {
  const updated = updateRecordText(RECORD, {
    config: [H('d')],
    data: [],
    requirementsSha256: H('e'),
    artifacts: [H('f')],
    metrics: { acc: 0.95, fresh: 3 },
    packages: { scipy: '1.0', numpy: '2.3.5' },
    python: '3.11.9',
    platform: 'linux-aarch64',
    commit: 'b'.repeat(40),
  });
  const record = parse(updated);

  it('rewrites every measured field', () => {
    expect(record.config[0].sha256).toBe(H('d'));
    expect(record.environment.requirements_sha256).toBe(H('e'));
    expect(record.artifacts[0].sha256).toBe(H('f'));
    expect(record.metrics.values).toEqual({ acc: 0.95, fresh: 3 });
    expect(record.environment.packages).toEqual({ numpy: '2.3.5', scipy: '1.0' });
    expect(record.environment.platform).toBe('linux-aarch64');
    expect(record.code.commit).toBe('b'.repeat(40));
  });

  it('keeps a pinned patch version, comments, tolerance, thresholds and key order', () => {
    expect(record.environment.python).toBe('3.11.9');
    expect(updated).toMatch(/^# team: forecasting\n/);
    expect(updated).toContain('name: demo   # shown in the comment');
    expect(updated).toContain('# the model');
    expect(updated).toContain('acc: { abs: 0.01 } # noise');
    expect(record.thresholds).toEqual({ acc: { min: 0.8 } });
    expect(Object.keys(record)).toEqual(Object.keys(parse(RECORD)));
  });

  it('writes major.minor where the record had major.minor', () => {
    expect(recordedPythonVersion('3.12.1', '3.11')).toBe('3.12');
    expect(recordedPythonVersion('3.12.1')).toBe('3.12');
    expect(recordedPythonVersion('3.12.1', '3.11.7')).toBe('3.12.1');
  });

  it('rewrites 10,000 metric values at once, and summarises a diff too large to show', () => {
    const names = Array.from({ length: 10_000 }, (_, i) => `layer_${i}.norm`);
    const text = `${RECORD.replace('    acc: 0.9\n    gone: 1\n', names.map((name) => `    ${name}: 1\n`).join(''))}`.replace(/tolerance:[\s\S]*$/, '');
    const started = performance.now();
    const rewritten = updateRecordText(text, { config: [], data: [], artifacts: [], metrics: Object.fromEntries(names.map((name) => [name, 2])) });
    const diff = unifiedDiff('run.yaml', text, rewritten);
    // Linear work, about a second here; the quadratic version took about two minutes.
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(diff).toBe('run.yaml: more than 2000 lines changed, too many to show');
    expect(parse(rewritten, { uniqueKeys: false }).metrics.values['layer_9999.norm']).toBe(2);
  });

  it('diffs only what changed', () => {
    const diff = unifiedDiff('run.yaml', RECORD, updated);
    expect(diff).toMatch(/^--- a\/run\.yaml\n\+\+\+ b\/run\.yaml\n@@/);
    expect(diff).toContain(`+    sha256: ${H('d')}`);
    expect(diff).not.toContain('+name');
    expect(unifiedDiff('run.yaml', RECORD, RECORD)).toBe('');
  });
});

const process = (overrides: Partial<ProbedProcess>): ProbedProcess => ({
  pid: 1,
  executable: '/venv/bin/python',
  prefix: '/venv',
  version: '3.11.7',
  script: '/sandbox/train.py',
  scriptInSandbox: true,
  distributions: ['numpy'],
  sandboxModules: [],
  ...overrides,
});

describe('judgeEnvironmentUse', () => {
  const facts = { venvDir: '/venv', sandboxRoot: '/sandbox', recordedPackages: ['NumPy', 'scikit-learn'] };

  it('passes a run inside the venv and lists what it imported', () => {
    const use = judgeEnvironmentUse({ ...facts, processes: [process({ distributions: ['scikit_learn', 'numpy'] })] });
    expect(use.problem).toBeUndefined();
    expect(use.imported).toEqual(['numpy', 'scikit-learn']);
  });

  it('is a problem when a process outside the venv ran a project file, or imported a pinned package', () => {
    const ranFile = judgeEnvironmentUse({ ...facts, processes: [process({}), process({ pid: 2, executable: '/usr/bin/python3', prefix: '/usr', script: '/sandbox/worker.py', distributions: [] })] });
    expect(ranFile.problem?.message).toMatch(/\/usr\/bin\/python3 .* ran worker\.py/);
    const imported = judgeEnvironmentUse({ ...facts, processes: [process({}), process({ pid: 2, prefix: '/other', executable: '/other/bin/python', script: null, scriptInSandbox: false, distributions: ['scikit_learn'] })] });
    expect(imported.problem?.message).toMatch(/imported scikit-learn/);
    expect(imported.outsidePids).toEqual([2]);
  });

  it('warns about a system tool that does no training work', () => {
    const use = judgeEnvironmentUse({ ...facts, processes: [process({}), process({ pid: 3, prefix: '/usr', executable: '/usr/bin/python3', script: '/usr/bin/aws', scriptInSandbox: false, distributions: ['botocore'] })] });
    expect(use.problem).toBeUndefined();
    expect(use.warnings).toEqual([expect.stringContaining('/usr/bin/python3')]);
  });

  it('is a problem when no process used the venv, and never one without a venv', () => {
    expect(judgeEnvironmentUse({ ...facts, processes: [] }).problem?.message).toMatch(/never used/);
    expect(judgeEnvironmentUse({ ...facts, venvDir: null, processes: [process({ prefix: '/usr' })] }).problem).toBeUndefined();
  });
});
