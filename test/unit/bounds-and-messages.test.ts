import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { flattenMetrics, metricsFromText, parseMetricsJson } from '../../src/compare/metrics-file.js';
import { ExitCode, METRICS_MAX_SIZE_ENV } from '../../src/constants.js';
import { describeError, UserError } from '../../src/errors.js';
import { collectOutputs } from '../../src/pipeline/collect-outputs.js';
import { mergeReportFiles } from '../../src/pipeline/merge.js';
import { type RecordOptions, recordRun } from '../../src/pipeline/record.js';
import { verifyRecord } from '../../src/pipeline/verify-record.js';
import { writeReports } from '../../src/pipeline/write-reports.js';
import { loadRecord } from '../../src/record/load.js';
import type { ResolvedPath } from '../../src/record/paths.js';
import { fitMarkdown } from '../../src/report/fit.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { type RecordReport, type Report, ReportSchema } from '../../src/report/schema.js';
import { renderTerminal } from '../../src/report/terminal.js';
import { keepEnds } from '../../src/report/truncate.js';

// Issue 9: every size has a bound, every bound is a clear user error that names the culprit (never "internal error"),
// and realistic large inputs (10k metrics, a long command) simply work.

const HASH = 'a'.repeat(64);
const MiB = 1024 * 1024;
const quietHooks = { info: () => undefined, progress: () => undefined, group: <T>(_title: string, run: () => Promise<T>) => run(), output: () => undefined };

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'repro-gate-bounds-'));
});

async function writeRecord(text: string | Buffer, name = 'run.yaml'): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

/** The UserError a load throws; the test fails when it loads, or throws anything else. */
async function loadFailure(file: string): Promise<UserError> {
  const error = await loadRecord(file).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(UserError);
  const userError = error as UserError;
  expect(userError.exitCode).toBe(ExitCode.Error);
  expect(describeError(userError).message).not.toMatch(/internal error/);
  return userError;
}

function caught(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected it to throw');
}

const minimal = (tail: string) => `version: 1\nname: x\ncommand: "true"\n${tail}`;
const withMetric = (tail: string) => minimal(`metrics:\n  path: m.json\n  values: { accuracy: 0.9 }\n${tail}`);

describe('1. the size of a run record', () => {
  it('refuses a run.yaml over 16 MiB from its size alone, before reading it, and names the size', async () => {
    // A sparse 4 GiB file: reading it whole would take seconds and gigabytes; the stat says no at once.
    const file = await writeRecord('');
    await truncate(file, 4 * 1024 * MiB);
    const started = performance.now();
    const error = await loadFailure(file);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(error.message).toMatch(/run record is 4\.00 GiB \(4294967296 bytes\), over the 16\.0 MiB limit/);
    expect(error.location.file).toBe(file);
  });

  it('loads a run.yaml just under 16 MiB', async () => {
    const file = await writeRecord(withMetric(`# ${'x'.repeat(16 * MiB - 200)}\n`));
    await expect(loadRecord(file)).resolves.toMatchObject({ record: { name: 'x' } });
  });
});

describe('2. the size of a metrics file', () => {
  const metricsPath = (relative: string): ResolvedPath => ({ absolute: path.join(dir, relative), repoRelative: relative }) as ResolvedPath;

  afterEach(() => {
    delete process.env[METRICS_MAX_SIZE_ENV];
  });

  it('verify refuses a rerun metrics file over 64 MiB, naming the file, its size, the limit and the way to raise it', async () => {
    await mkdir(path.join(dir, 'out'));
    await writeFile(path.join(dir, 'out/metrics.json'), '');
    await truncate(path.join(dir, 'out/metrics.json'), 65 * MiB);
    const error = (await collectOutputs(dir, [], metricsPath('out/metrics.json')).catch((thrown: unknown) => thrown)) as UserError;
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toMatch(/metrics file out\/metrics\.json is 65\.0 MiB \(68157440 bytes\), over the 64\.0 MiB limit for metrics files/);
    expect(error.hint).toContain(`${METRICS_MAX_SIZE_ENV}=`);
    expect(error.location.field).toBe('metrics.path');
  });

  it('verify reads a metrics file under a limit raised with REPRO_GATE_METRICS_MAX_SIZE, and refuses one over a lowered limit', async () => {
    await writeFile(path.join(dir, 'metrics.json'), JSON.stringify({ accuracy: 0.5, pad: 'x'.repeat(2_000) }));
    process.env[METRICS_MAX_SIZE_ENV] = '1KiB';
    const error = (await collectOutputs(dir, [], metricsPath('metrics.json')).catch((thrown: unknown) => thrown)) as UserError;
    expect(error.message).toMatch(/over the 1\.00 KiB limit for metrics files \(REPRO_GATE_METRICS_MAX_SIZE\)/);
    process.env[METRICS_MAX_SIZE_ENV] = '1MiB';
    expect((await collectOutputs(dir, [], metricsPath('metrics.json'))).metrics).toEqual({ accuracy: 0.5 });
  });

  it('record refuses a metrics file over 64 MiB written by the command, naming it', async () => {
    const previous = process.cwd();
    process.chdir(dir);
    try {
      const options: RecordOptions = {
        out: 'run.yaml',
        command: 'mkdir -p out && truncate -s 65M out/metrics.json',
        artifacts: [],
        numeric: [],
        metrics: 'out/metrics.json',
        data: [],
        config: [],
        currentEnv: true,
        seeds: {},
        variables: {},
        passEnv: [],
        python: 'python3',
        cacheRoot: path.join(dir, '.cache'),
        hooks: quietHooks,
      };
      const error = (await recordRun(options).catch((thrown: unknown) => thrown)) as UserError;
      expect(error).toBeInstanceOf(UserError);
      expect(error.message).toMatch(/metrics file out\/metrics\.json is 65\.0 MiB .* over the 64\.0 MiB limit/);
    } finally {
      process.chdir(previous);
    }
  });
});

describe('3. what a metrics file holds', () => {
  it('ignores a 10 MB string value as any other non-numeric value (no stack overflow)', () => {
    const text = `{"accuracy": NaN, "notes": "${'x'.repeat(10_000_000)}", "loss": 0.25}`;
    const { values, ignored } = flattenMetrics(parseMetricsJson(text));
    expect(values.accuracy).toBeNaN();
    expect(values.loss).toBe(0.25);
    expect(ignored).toEqual(['notes']);
  });

  it('leaves NaN inside strings alone even after strings with escaped quotes', () => {
    const parsed = parseMetricsJson('{"a": "say \\"NaN\\" \\\\", "b": -Infinity, "c": "Infinity"}') as Record<string, unknown>;
    expect(parsed).toEqual({ a: 'say "NaN" \\', b: -Infinity, c: 'Infinity' });
  });

  it('flattens 10,001 metrics', () => {
    const text = JSON.stringify(Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`m${i}`, i])));
    expect(Object.keys(metricsFromText(text, 'out/metrics.json', 'written by the rerun', {}))).toHaveLength(10_001);
  });

  it('refuses keys that flatten to the same name, naming it', () => {
    const error = caught(() => flattenMetrics({ 'a.b': 1, a: { b: 2 } }));
    expect(error.message).toMatch(/two entries flatten to the same metric name "a\.b"/);
  });

  it('names the metrics file and the key when the collision is found in a file (verify and record read alike)', () => {
    const error = caught(() => metricsFromText('{"a": {"b": 2}, "a.b": 1}', 'out/metrics.json', 'written by the rerun', { field: 'metrics.path' })) as UserError;
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toMatch(/^metrics file out\/metrics\.json written by the rerun: two entries flatten to the same metric name "a\.b"/);
    expect(error.location.field).toBe('metrics.path');
  });

  it('refuses nesting so deep that a name would pass 1,000 characters, with a message instead of a stack overflow', () => {
    const depth = 100_000;
    const error = caught(() => flattenMetrics(parseMetricsJson(`${'{"k":'.repeat(depth)}1${'}'.repeat(depth)}`)));
    expect(error.message).toMatch(/the metric name "k\.k\.k.*…" is 1001 characters long; at most 1000 are allowed/);
  });

  it('keeps a metric called "constructor" or "__proto__" like any other', () => {
    const { values } = flattenMetrics(parseMetricsJson('{"constructor": 1, "__proto__": 2}'));
    expect(Object.entries(values)).toEqual([
      ['constructor', 1],
      ['__proto__', 2],
    ]);
  });

  it('says which file is not JSON instead of throwing a bare SyntaxError', () => {
    const error = caught(() => metricsFromText('{"a": nan}', 'out/metrics.json', 'written by the command', {}));
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toMatch(/^metrics file out\/metrics\.json written by the command is not valid JSON/);
  });
});

describe('3. a report with 10,001 metrics and a 3,000-character command', () => {
  const COUNT = 10_001;
  let report: Report;
  let record: RecordReport;
  let reportFile: string;

  beforeAll(async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'repro-gate-many-metrics-'));
    // The rerun writes every metric 0.5 higher than recorded, within the tolerance: 10,001 verdicts of `within`, all kept.
    // (Within rather than beyond: a drift also proposes a record update, which is a separate cost.)
    await writeFile(
      path.join(root, 'gen.py'),
      `import json, os\nos.makedirs("out", exist_ok=True)\njson.dump({f"m{i}": i + 0.5 for i in range(${COUNT})}, open("out/metrics.json", "w"))\n`,
    );
    const values = Array.from({ length: COUNT }, (_, i) => `    m${i}: ${i}`).join('\n');
    const command = `python3 gen.py # ${'x'.repeat(3_000)}`;
    await writeFile(path.join(root, 'run.yaml'), `version: 1\nname: many\ncommand: "${command}"\nmetrics:\n  path: out/metrics.json\n  values:\n${values}\ntolerance:\n  default: { abs: 1 }\n`);
    // Outside the record's folder: anything written into the repository during a rerun is an error.
    const evidenceDir = await mkdtemp(path.join(tmpdir(), 'repro-gate-many-evidence-'));
    record = await verifyRecord(path.join(root, 'run.yaml'), { python: 'python3', cacheRoot: path.join(root, '.cache'), evidenceDir, keepArtifacts: false, hooks: quietHooks });
    report = { schemaVersion: 1, tool: { name: 'repro-gate', version: '0.1.0' }, createdAt: new Date().toISOString(), verdict: record.verdict, records: [record] };
    reportFile = path.join(root, 'reports', 'report.json');
    await mkdir(path.dirname(reportFile));
    await writeReports(report, { json: reportFile });
  });

  it('keeps every metric verdict in the report', () => {
    expect(record.error).toBeUndefined();
    expect(record.verdict).toBe('within-tolerance');
    expect(record.metrics).toHaveLength(COUNT);
    expect(record.metrics.every((metric) => metric.status === 'within')).toBe(true);
  });

  it('stores the command cut to the report cap, saying how much was cut', () => {
    expect(record.run?.command.length).toBeLessThanOrEqual(2_000);
    expect(record.run?.command).toMatch(/^python3 gen\.py # x+… \(\d+ more characters\)$/);
    expect(ReportSchema.safeParse(report).success).toBe(true);
  });

  it('merges such a report (the merged and fork-safe flows) with every metric', async () => {
    const merged = await mergeReportFiles([path.dirname(reportFile)], []);
    expect(merged.records[0]?.metrics).toHaveLength(COUNT);
  });

  it('cuts the PR comment and the job summary to fit, counting the rows left out', () => {
    const comment = fitMarkdown(report, 65_536, { fullReportHint: 'Full report: the job summary.' });
    expect(comment.length).toBeLessThanOrEqual(65_536);
    expect(comment).toMatch(/\| … and \d+ more \|/);
    expect(renderMarkdown(report)).toContain(`| … and ${COUNT - 500} more |`);
  });

  it('lists the first metrics in the terminal and counts the others', () => {
    const text = renderTerminal(report);
    expect(text).toContain(`… and ${COUNT - 50} more (see the JSON report)`);
    expect(text.split('\n').length).toBeLessThan(100);
  });
});

describe('3. report files to merge (possibly from a fork)', () => {
  it('refuses a report over 64 MiB from its size, naming it', async () => {
    const file = path.join(dir, 'report.json');
    await writeFile(file, '');
    await truncate(file, 70 * MiB);
    const error = (await mergeReportFiles([file], []).catch((thrown: unknown) => thrown)) as UserError;
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toBe(`report ${file} is ${70 * MiB} bytes, over the ${64 * MiB}-byte limit`);
  });

  it('refuses a report that is a FIFO at once instead of waiting for a writer', async () => {
    const file = path.join(dir, 'report.json');
    execFileSync('mkfifo', [file]);
    const error = (await mergeReportFiles([file], []).catch((thrown: unknown) => thrown)) as UserError;
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toBe(`report ${file} is not a regular file`);
  });
});

describe('4. loading a record with many metrics', () => {
  // Linear, this takes under a second on an idle machine; the quadratic check took 19 s and more. The bound leaves
  // room for cores shared with other jobs without letting a quadratic pass.
  it('loads 40,000 metric keys in a few seconds at most (the duplicate-key check is linear)', async () => {
    const values = Array.from({ length: 40_000 }, (_, i) => `    m${i}: ${i}.5`).join('\n');
    const file = await writeRecord(minimal(`metrics:\n  path: m.json\n  values:\n${values}\n`));
    const started = performance.now();
    const loaded = await loadRecord(file);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(Object.keys(loaded.record.metrics!.values)).toHaveLength(40_000);
    // Every metric's line is looked up by verify: linear too.
    expect(loaded.lineOf(['metrics', 'values', 'm39999'])).toBe(40_006);
  });

  it('still refuses a duplicate key, naming it and both lines', async () => {
    const error = await loadFailure(await writeRecord(withMetric('name: y\n')));
    expect(error.message).toMatch(/duplicate key "name": line 2 already sets it/);
    expect(error.location.line).toBe(7);
  });
});

describe('5. YAML aliases', () => {
  it('refuses an alias bomb as a user error that names the file and says aliases are limited', async () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', 'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]', 'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]', 'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]'];
    const file = await writeRecord(minimal(`${bomb.join('\n')}\n`));
    const error = await loadFailure(file);
    expect(error.message).toMatch(/aliases \(\*name\) are limited to 100 expansions/);
    expect(error.location.file).toBe(file);
  });
});

describe('6. messages that name the culprit', () => {
  it.each([
    ['abs: .nan', 'tolerance.default.abs', /must be a finite number ≥ 0/],
    ['abs: .inf', 'tolerance.default.abs', /must be a finite number ≥ 0/],
    ['rel: .nan', 'tolerance.default.rel', /must be a finite number ≥ 0/],
  ])('tolerance %s says the value must be finite, not that it is required', async (value, field, message) => {
    const error = await loadFailure(await writeRecord(withMetric(`tolerance:\n  default: { ${value} }\n`)));
    expect(error.location.field).toBe(field);
    expect(error.location.line).toBe(8);
    expect(error.message).toMatch(message);
    expect(error.message).not.toMatch(/required/);
  });

  it.each([['min: .nan'], ['max: -.inf']])('threshold %s says the bound must be a finite number', async (value) => {
    const error = await loadFailure(await writeRecord(withMetric(`thresholds:\n  accuracy: { ${value} }\n`)));
    expect(error.location.field).toBe(`thresholds.accuracy.${value.slice(0, 3)}`);
    expect(error.message).toBe('must be a finite number');
  });

  it.each([
    ['artifacts', `artifacts:\n  - { path: out/model.pkl, sha256: ${HASH} }\n  - { path: ./out/model.pkl, sha256: ${HASH} }\n`],
    ['config', `config:\n  - { path: train.yaml, sha256: ${HASH} }\n  - { path: train.yaml, sha256: ${HASH} }\n`],
    ['data', `data:\n  - { path: data/, sha256: ${HASH} }\n  - { path: data, sha256: ${HASH} }\n`],
  ])('a path listed twice in %s is a load error naming the second entry', async (list, tail) => {
    const error = await loadFailure(await writeRecord(withMetric(tail)));
    expect(error.location.field).toBe(`${list}[1].path`);
    expect(error.location.line).toBe(9);
    expect(error.message).toMatch(new RegExp(`repeats ${list}\\[0\\]`));
  });

  it('refuses a record that is not UTF-8, naming the byte offset and line', async () => {
    const head = Buffer.from('version: 1\nname: x\ncommand: "echo caf');
    const file = await writeRecord(Buffer.concat([head, Buffer.from([0xe9]), Buffer.from('"\nartifacts: []\n')]));
    const error = await loadFailure(file);
    expect(error.message).toBe(`run record is not valid UTF-8: byte 0xe9 at byte offset ${head.length} (line 3)`);
    expect(error.location.line).toBe(3);
  });

  it('refuses a timeout past the longest timer, naming the field and line', async () => {
    const error = await loadFailure(await writeRecord(withMetric('timeout: 1000h\n')));
    expect(error.location.field).toBe('timeout');
    expect(error.location.line).toBe(7);
    expect(error.message).toMatch(/must be at most 596h/);
  });

  it('refuses a zero timeout, which would stop the command at once', async () => {
    const error = await loadFailure(await writeRecord(withMetric('timeout: 0s\n')));
    expect(error.location.field).toBe('timeout');
    expect(error.message).toMatch(/must be more than 0/);
  });

  it('says an empty record is empty', async () => {
    const error = await loadFailure(await writeRecord(''));
    expect(error.message).toMatch(/^the run record is empty/);
  });

  it('refuses record --timeout past the longest timer before anything runs', async () => {
    const options = { out: path.join(dir, 'run.yaml'), command: 'true', artifacts: ['m'], numeric: [], data: [], config: [], currentEnv: true, seeds: {}, variables: {}, passEnv: [], timeout: '1000h', python: 'python3', cacheRoot: dir, hooks: quietHooks };
    const error = (await recordRun(options).catch((thrown: unknown) => thrown)) as UserError;
    expect(error).toBeInstanceOf(UserError);
    expect(error.message).toMatch(/^--timeout "1000h" must be at most 596h/);
  });
});

describe('7. a long error message in the report', () => {
  it('keeps the first line and the end when it must be cut', () => {
    const message = `the environment failed to build\n${'Collecting x\n'.repeat(1_000)}ERROR: No matching distribution found for numpy==0.0.0`;
    const cut = keepEnds(message, 2_000);
    expect(cut.length).toBeLessThanOrEqual(2_000);
    expect(cut.startsWith('the environment failed to build\n… (')).toBe(true);
    expect(cut.endsWith('No matching distribution found for numpy==0.0.0')).toBe(true);
  });
});
