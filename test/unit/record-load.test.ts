import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { loadRecord } from '../../src/record/load.js';

const HASH = 'a'.repeat(64);
const VALID = `version: 1
name: digits-sgd
command: python train.py configs/train.yaml
timeout: 20m
environment:
  python: "3.11"
  requirements: requirements.txt
  requirements_sha256: ${HASH}
  packages: { numpy: 1.26.4 }
  variables: { PYTHONHASHSEED: "0" }
seeds: { python: 7, numpy: 7 }
config:
  - path: configs/train.yaml
    sha256: ${HASH}
data:
  - path: data/digits.csv
    sha256: ${HASH}
    manifest: data/data_manifest.json
artifacts:
  - path: out/model.pkl
    sha256: ${HASH}
metrics:
  path: out/metrics.json
  values: { accuracy: 0.9356, train.n_iter: 30 }
tolerance:
  default: { abs: 0, rel: 0 }
  metrics: { accuracy: { abs: 0.005 } }
thresholds:
  accuracy: { min: 0.9 }
`;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'repro-gate-load-'));
});

async function load(text: string, name = 'run.yaml') {
  await writeFile(path.join(dir, name), text);
  return loadRecord(path.join(dir, name));
}

async function failure(text: string, name = 'run.yaml'): Promise<UserError> {
  const error = await load(text, name).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(UserError);
  return error as UserError;
}

describe('loadRecord', () => {
  it('loads the documented example and resolves every path inside the repository', async () => {
    const loaded = await load(VALID);
    expect(loaded.record.name).toBe('digits-sgd');
    expect(loaded.record.metrics?.values['train.n_iter']).toBe(30);
    expect(loaded.paths.artifacts[0]?.repoRelative).toBe('out/model.pkl');
    expect(loaded.paths.data[0]?.manifest?.repoRelative).toBe('data/data_manifest.json');
    expect(loaded.recordPath).toBe('run.yaml');
    expect(loaded.lineOf(['metrics', 'values', 'accuracy'])).toBe(24);
    expect(loaded.lineOf(['artifacts', 0, 'sha256'])).toBe(21);
  });

  it('loads a JSON record with the same rules', async () => {
    const loaded = await load(
      JSON.stringify({ version: 1, name: 'j', command: 'true', artifacts: [{ path: 'm.bin', sha256: HASH }] }, null, 2),
      'run.json',
    );
    expect(loaded.record.artifacts).toHaveLength(1);
  });

  it.each([
    ['unknown top-level key', VALID.replace('timeout: 20m', 'timout: 20m'), 'timout', 4, /unknown field "timout"/],
    ['unknown nested key', VALID.replace('abs: 0.005', 'absolute: 0.005'), 'tolerance.metrics.accuracy.absolute', 27, /unknown field "absolute"/],
    ['bad sha256', VALID.replace(`    sha256: ${HASH}\nmetrics`, '    sha256: abc\nmetrics'), 'artifacts[0].sha256', 21, /sha256/],
    ['bad name', VALID.replace('name: digits-sgd', 'name: Digits SGD'), 'name', 2, /\[a-z0-9._-\]\+/],
    ['wrong version', VALID.replace('version: 1', 'version: 2'), 'version', 1, /1/],
    ['bad timeout', VALID.replace('timeout: 20m', 'timeout: 20 minutes'), 'timeout', 4, /s, m or h/],
    ['unquoted python version', VALID.replace('python: "3.11"', 'python: 3.11'), 'environment.python', 6, /in quotes.*3\.10 as the number 3\.1/],
    ['requirements without python', VALID.replace('  python: "3.11"\n', ''), 'environment.python', 5, /required when requirements/],
    ['tolerance for an unknown metric', VALID.replace('{ accuracy: { abs: 0.005 } }', '{ acuracy: { abs: 0.005 } }'), 'tolerance.metrics.acuracy', 27, /names no metric/],
    ['threshold without a rule', VALID.replace('{ min: 0.9 }', '{}'), 'thresholds.accuracy', 29, /min, max or both/],
    ['threshold min above max', VALID.replace('{ min: 0.9 }', '{ min: 0.9, max: 0.1 }'), 'thresholds.accuracy', 29, /must not exceed/],
    ['negative tolerance', VALID.replace('abs: 0.005', 'abs: -1'), 'tolerance.metrics.accuracy.abs', 27, />=0|≥ 0|non-negative|too small/i],
    ['missing command', VALID.replace('command: python train.py configs/train.yaml\n', ''), 'command', undefined, /required/],
  ])('names the field and line for %s', async (_label, text, field, line, message) => {
    const error = await failure(text);
    expect(error.location.field).toBe(field);
    expect(error.location.file).toContain('run.yaml');
    if (line !== undefined) expect(error.location.line).toBe(line);
    expect(error.message).toMatch(message);
  });

  it('requires something to reproduce', async () => {
    const error = await failure('version: 1\nname: x\ncommand: "true"\n');
    expect(error.message).toMatch(/at least one artifact or metric/);
  });

  it('reports every problem at once when there are several', async () => {
    const error = await failure(VALID.replace('timeout: 20m', 'timout: 20m').replace('name: digits-sgd', 'name: BAD'));
    expect(error.message).toMatch(/2 problems/);
    expect(error.message).toMatch(/run\.yaml:2 name/);
    expect(error.message).toMatch(/run\.yaml:4 timout/);
  });

  it('points at the line of a YAML syntax error', async () => {
    const error = await failure('version: 1\nname: x\ncommand: [unclosed\n');
    expect(error.message).toMatch(/not valid YAML or JSON/);
    expect(error.location.line).toBeGreaterThanOrEqual(3);
  });

  it('rejects duplicate keys instead of silently keeping one', async () => {
    const error = await failure(`${VALID}name: other\n`);
    expect(error.message).toMatch(/unique|duplicate/i);
  });

  it('says so when the record file does not exist', async () => {
    const error = (await loadRecord(path.join(dir, 'nope.yaml')).catch((caught: unknown) => caught)) as UserError;
    expect(error.message).toMatch(/not found/);
  });

  it.each([
    ['a .. escape', 'artifacts:\n  - path: ../outside.bin\n', 'artifacts[0].path', /outside the repository/],
    ['an absolute path', 'artifacts:\n  - path: /etc/passwd\n', 'artifacts[0].path', /absolute path/],
    ['an escaping metrics path', 'metrics:\n  path: ../../m.json\n  values: { a: 1 }\n', 'metrics.path', /outside the repository/],
  ])('rejects %s and names the field', async (_label, tail, field, message) => {
    const error = await failure(`version: 1\nname: x\ncommand: "true"\n${tail.replace(/\n$/, '')}${tail.includes('metrics') ? '' : `\n    sha256: ${HASH}`}\n`);
    expect(error.location.field).toBe(field);
    expect(error.location.line).toBe(5);
    expect(error.message).toMatch(message);
  });

  it('rejects a symlink that leads outside the repository', async () => {
    const outside = await mkdtemp(path.join(tmpdir(), 'repro-gate-outside-'));
    await mkdir(path.join(dir, 'data'));
    await symlink(outside, path.join(dir, 'data', 'link'));
    const error = await failure(
      `version: 1\nname: x\ncommand: "true"\ndata:\n  - path: data/link/train.csv\n    sha256: ${HASH}\nartifacts:\n  - path: m.bin\n    sha256: ${HASH}\n`,
    );
    expect(error.location.field).toBe('data[0].path');
    expect(error.message).toMatch(/symlink/);
  });

  it('resolves outputs not produced yet, under missing folders too, and rejects a file link or a deeper path through a link that leads outside', async () => {
    const outside = await mkdtemp(path.join(tmpdir(), 'repro-gate-outside-'));
    await writeFile(path.join(outside, 'secret.txt'), 'x');
    await mkdir(path.join(dir, 'out'));
    await symlink(path.join(outside, 'secret.txt'), path.join(dir, 'out', 'file-link'));
    await symlink(outside, path.join(dir, 'out', 'folder-link'));
    const artifacts = (paths: string[]) => paths.map((p) => `  - path: ${p}\n    sha256: ${HASH}\n`).join('');
    const record = (paths: string[]) => `version: 1\nname: x\ncommand: "true"\nartifacts:\n${artifacts(paths)}`;
    const loaded = await load(record(['out/m.bin', 'not-yet/deeper/m.bin', 'out/m2.bin']));
    expect(loaded.paths.artifacts.map((artifact) => artifact.repoRelative)).toEqual(['out/m.bin', 'not-yet/deeper/m.bin', 'out/m2.bin']);
    for (const [bad, index] of [['out/file-link', 1], ['out/folder-link/new/m.bin', 2]] as const) {
      const paths = ['out/m.bin', 'not-yet/m.bin', 'out/m3.bin'];
      paths[index] = bad;
      const error = await failure(record(paths));
      expect(error.location.field).toBe(`artifacts[${index}].path`);
      expect(error.message).toMatch(/symlink that leads outside/);
    }
  });

  it('resolves a path of 2,000 parts under a missing folder without running out of stack, and refuses a longer path than Linux accepts', async () => {
    const record = (artifact: string) => `version: 1\nname: x\ncommand: "true"\nartifacts:\n  - path: ${artifact}\n    sha256: ${HASH}\n`;
    const deep = `${'a/'.repeat(2_000)}m.bin`;
    expect((await load(record(deep))).paths.artifacts[0]?.repoRelative).toBe(deep);
    const error = await failure(record(`${'a/'.repeat(2_048)}m.bin`));
    expect(error.location).toMatchObject({ field: 'artifacts[0].path', line: 5 });
    expect(error.message).toMatch(/at most 4095 characters/);
  });
});
