import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { escapeRegExp, type Row, type RunResult, verifyArgs } from './harness.js';
import { baseRecord, baseText, HI_SHA256, lineOf, OUTPUTS, sha256 } from './records.js';

// Run records that must not load: bad YAML, unknown fields, wrong types, bad names, non-finite numbers, paths that
// leave the repository. Each is an error (exit 2) naming the field and its line, before anything runs.

/** A record whose field `pattern` is on a known line: the message must say `run.yaml:<line> <field>`. */
function atLine(text: string, pattern: RegExp, field: string): RegExp {
  return new RegExp(`run\\.yaml:${lineOf(text, pattern)} ${escapeRegExp(field)}`);
}

/** Refused when the record is read: the command never started (a timeout that fires at once is not a refusal). */
function refusedBeforeRunning(result: RunResult, _ctx: unknown, fail: (message: string) => void): void {
  const stages = result.report?.records[0]?.stages.map((stage) => stage.stage) ?? [];
  if (stages.includes('rerun')) fail(`the command was started (stages: ${stages.join(', ')}) instead of the record being refused`);
}

const NAN_TOLERANCE = `${baseText()}tolerance:\n  metrics:\n    acc:\n      abs: .nan\n`;
const INF_TOLERANCE = `${baseText()}tolerance:\n  metrics:\n    acc:\n      rel: .inf\n`;
const NAN_THRESHOLD = `${baseText()}thresholds:\n  acc:\n    min: .nan\n`;
const LONG_TIMEOUT = baseText({ timeout: '1000h' });
const ZERO_TIMEOUT = baseText({ timeout: '0s' });
const UNKNOWN_FIELD = `${baseText()}artifact:\n  - path: out/a.txt\n`;
const UNQUOTED_PYTHON = `${baseText()}environment:\n  python: 3.10\n`;

// `version: 1` … with one byte that is not UTF-8 inside the command.
const NON_UTF8_PREFIX = 'version: 1\nname: hostile\ncommand: "printf caf';
const NON_UTF8 = Buffer.concat([
  Buffer.from(NON_UTF8_PREFIX),
  Buffer.from([0xe9]),
  Buffer.from(`"\n${baseText().split('\n').slice(3).join('\n')}`),
]);
const NON_UTF8_OFFSET = Buffer.byteLength(NON_UTF8_PREFIX);

/** The billion laughs: nine levels of nine aliases each. */
const ALIAS_BOMB = [
  'version: 1',
  'name: hostile',
  `command: "${OUTPUTS.replaceAll('"', '\\"')}"`,
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].map((name, i) => {
    const previous = 'abcdefgh'[i];
    return `${name}: &${name} [${Array.from({ length: 9 }, () => `*${previous}`).join(',')}]`;
  }),
  'artifacts:',
  '  - path: out/a.txt',
  `    sha256: ${HI_SHA256}`,
  '',
].join('\n');

export const RECORD_ROWS: Row[] = [
  {
    name: 'bad YAML: an unclosed flow sequence names the file and a line',
    record: 'version: 1\nname: hostile\ncommand: "true"\nartifacts: [\n  { path: out/a.txt\n',
    expect: { status: 2, culprit: [/run\.yaml:\d+/, /YAML/i] },
  },
  {
    name: 'bad YAML: a tab-indented block names the file and a line',
    record: `version: 1\nname: hostile\ncommand: "true"\nartifacts:\n\t- path: out/a.txt\n\t  sha256: ${HI_SHA256}\n`,
    expect: { status: 2, culprit: [/run\.yaml:\d+/] },
  },
  {
    name: 'YAML alias bomb: names the file and says aliases are limited, quickly and in bounded memory',
    record: ALIAS_BOMB,
    expect: { status: 2, culprit: [/run\.yaml/, /alias/i, /limit|at most|too many/i], maxSeconds: 10, maxRssMB: 500 },
  },
  {
    name: 'duplicate key: names the key and its line',
    record: `version: 1\nname: hostile\nname: other\ncommand: "true"\nartifacts:\n  - path: out/a.txt\n    sha256: ${HI_SHA256}\n`,
    expect: { status: 2, culprit: [/run\.yaml:3\b/, /unique|duplicate/i] },
  },
  {
    name: 'two YAML documents in one record',
    record: `${baseText()}---\n${baseText({ name: 'second' })}`,
    expect: { status: 2, culprit: [/run\.yaml/, /document/i] },
  },
  {
    name: 'an empty record file',
    record: '',
    expect: { status: 2, culprit: [/run\.yaml/, /empty|object/i] },
  },
  {
    name: 'a JSON array instead of a record',
    record: '[1, 2, 3]\n',
    expect: { status: 2, culprit: [/run\.yaml/, /object/i] },
  },
  {
    name: 'unknown top-level field (a typo) names the field and its line',
    record: UNKNOWN_FIELD,
    expect: { status: 2, culprit: [atLine(UNKNOWN_FIELD, /^artifact:/, 'artifact'), /unknown field "artifact"/] },
  },
  {
    name: 'unknown nested field names its full path',
    record: baseRecord({ metrics: { path: 'out/m.json', values: { acc: 0.9 }, tolerance: { abs: 1 } } }),
    expect: { status: 2, culprit: [/metrics\.tolerance/, /unknown field/] },
  },
  {
    name: 'version 2 is not a version this tool reads',
    record: baseRecord({ version: 2 }),
    expect: { status: 2, culprit: [/run\.yaml:1 version/] },
  },
  {
    name: 'an HTML record name is refused, naming the field',
    record: baseRecord({ name: '<img src=x onerror=alert(1)>' }),
    expect: {
      status: 2,
      culprit: [/run\.yaml:2 name/],
      check: (result, _ctx, fail) => {
        if (result.stdout.includes('<img')) fail('the raw HTML name reached the terminal summary');
      },
    },
  },
  {
    name: 'wrong type: artifacts is a string, not a list',
    record: baseRecord({ artifacts: 'out/a.txt' }),
    expect: { status: 2, culprit: [/run\.yaml:\d+ artifacts\b/] },
  },
  {
    name: 'wrong type: timeout is a bare number',
    record: baseRecord({ timeout: 20 }),
    expect: { status: 2, culprit: [/run\.yaml:\d+ timeout/] },
  },
  {
    name: 'timeout: 1000h is refused, naming timeout and its line (setTimeout would overflow and fire at once)',
    record: LONG_TIMEOUT,
    expect: { status: 2, culprit: [atLine(LONG_TIMEOUT, /^timeout:/, 'timeout')], maxSeconds: 15, check: refusedBeforeRunning },
  },
  {
    name: 'timeout: 0s is refused, naming timeout and its line',
    record: ZERO_TIMEOUT,
    expect: { status: 2, culprit: [atLine(ZERO_TIMEOUT, /^timeout:/, 'timeout')], check: refusedBeforeRunning },
  },
  {
    name: 'wrong type: a seed that is a float',
    record: baseRecord({ seeds: { numpy: 1.5 } }),
    expect: { status: 2, culprit: [/seeds\.numpy/] },
  },
  {
    name: 'bad seed name (a dash cannot be REPRO_SEED_<NAME>)',
    record: baseRecord({ seeds: { 'bad-name': 1 } }),
    expect: { status: 2, culprit: [/seeds/, /bad-name/] },
  },
  {
    name: 'bad variable name in environment.variables',
    record: baseRecord({ environment: { variables: { '1BAD': 'x' } } }),
    expect: { status: 2, culprit: [/environment\.variables/, /1BAD/] },
  },
  {
    name: 'wrong type: a variable value that is a number',
    record: baseRecord({ environment: { variables: { OMP_NUM_THREADS: 1 } } }),
    expect: { status: 2, culprit: [/environment\.variables\.OMP_NUM_THREADS/] },
  },
  {
    name: 'bad pass_env name',
    record: baseRecord({ environment: { pass_env: ['FOO=BAR'] } }),
    expect: { status: 2, culprit: [/environment\.pass_env\[0\]/] },
  },
  {
    name: 'unquoted python: 3.10 (YAML reads 3.1) is refused, naming the field',
    record: UNQUOTED_PYTHON,
    expect: { status: 2, culprit: [atLine(UNQUOTED_PYTHON, /^\s+python:/, 'environment.python'), /quote/i] },
  },
  {
    name: 'an upper-case sha256',
    record: baseRecord({ artifacts: [{ path: 'out/a.txt', sha256: HI_SHA256.toUpperCase() }] }),
    expect: { status: 2, culprit: [/artifacts\[0\]\.sha256/] },
  },
  {
    name: 'code.commit that is not a commit hash',
    record: baseRecord({ code: { commit: 'HEAD~1' } }),
    expect: { status: 2, culprit: [/code\.commit/] },
  },
  {
    name: 'a recorded metric value that is a string',
    record: baseRecord({ metrics: { path: 'out/m.json', values: { acc: '0.9' } } }),
    expect: { status: 2, culprit: [/metrics\.values\.acc/] },
  },
  {
    name: 'a negative tolerance',
    record: baseRecord({ tolerance: { default: { abs: -1 } } }),
    expect: { status: 2, culprit: [/tolerance\.default\.abs/] },
  },
  {
    name: 'tolerance.metrics.acc.abs: .nan must be a finite number',
    record: NAN_TOLERANCE,
    expect: { status: 2, culprit: [atLine(NAN_TOLERANCE, /abs: \.nan/, 'tolerance.metrics.acc.abs'), /must be a finite number/] },
  },
  {
    name: 'tolerance.metrics.acc.rel: .inf must be a finite number',
    record: INF_TOLERANCE,
    expect: { status: 2, culprit: [atLine(INF_TOLERANCE, /rel: \.inf/, 'tolerance.metrics.acc.rel'), /must be a finite number/] },
  },
  {
    name: 'thresholds.acc.min: .nan must be a finite number (a NaN bound would pass everything)',
    record: NAN_THRESHOLD,
    expect: { status: 2, culprit: [/thresholds\.acc\.min/, /must be a finite number/] },
  },
  {
    name: 'a threshold whose min exceeds its max',
    record: baseRecord({ thresholds: { acc: { min: 0.9, max: 0.1 } } }),
    expect: { status: 2, culprit: [/thresholds\.acc/, /min/] },
  },
  {
    name: 'nothing to check: no artifact and no metric',
    record: { version: 1, name: 'hostile', command: OUTPUTS },
    expect: { status: 2, culprit: [/artifact/, /metric/] },
  },
  {
    name: 'duplicate artifact paths: names artifacts[1]',
    record: baseRecord({ artifacts: [{ path: 'out/a.txt', sha256: HI_SHA256 }, { path: 'out/a.txt', sha256: HI_SHA256 }] }),
    expect: { status: 2, culprit: [/artifacts\[1\]/] },
  },
  {
    name: 'duplicate artifact paths spelled differently (./out/a.txt): names artifacts[1]',
    record: baseRecord({ artifacts: [{ path: 'out/a.txt', sha256: HI_SHA256 }, { path: './out//a.txt', sha256: HI_SHA256 }] }),
    expect: { status: 2, culprit: [/artifacts\[1\]/] },
  },
  {
    name: 'a byte that is not UTF-8: names its byte offset',
    record: NON_UTF8,
    expect: { status: 2, culprit: [/run\.yaml/, /UTF-8/i, new RegExp(`\\b${NON_UTF8_OFFSET}\\b`)] },
  },

  // ── paths ───────────────────────────────────────────────────────────────────────────────────────────────────
  {
    name: 'path escape: an artifact at ../escape.txt',
    record: baseRecord({ artifacts: [{ path: '../escape.txt', sha256: HI_SHA256 }] }),
    expect: { status: 2, culprit: [/artifacts\[0\]\.path/, /\.\.\/escape\.txt/] },
  },
  {
    name: 'absolute path: metrics at /etc/passwd',
    record: baseRecord({ metrics: { path: '/etc/passwd', values: { acc: 0.9 } } }),
    expect: { status: 2, culprit: [/metrics\.path/, /\/etc\/passwd/] },
  },
  {
    name: 'path escape: workdir ..',
    record: baseRecord({ workdir: '..' }),
    expect: { status: 2, culprit: [/run\.yaml:\d+ workdir/] },
  },
  {
    name: 'a workdir that is a file',
    files: { '.gitignore': 'out/\n', 'notes.txt': 'not a folder\n' },
    record: baseRecord({ workdir: 'notes.txt' }),
    expect: { status: 2, culprit: [/run\.yaml:\d+ workdir/, /notes\.txt/] },
  },
  {
    name: 'a workdir that does not exist',
    record: baseRecord({ workdir: 'nowhere' }),
    expect: { status: 2, culprit: [/workdir/, /nowhere/] },
  },
  {
    name: 'symlink escape: a config that is a tracked link to a file outside the repository',
    files: async (ctx) => {
      await writeFile(path.join(ctx.outside, 'conf.yaml'), 'lr: 0.1\n');
      return { '.gitignore': 'out/\n', 'conf.yaml': { symlink: path.join(ctx.outside, 'conf.yaml') } };
    },
    record: baseRecord({ config: [{ path: 'conf.yaml', sha256: sha256('lr: 0.1\n') }] }),
    expect: { status: 2, culprit: [/config\[0\]\.path/, /conf\.yaml/] },
  },
  {
    name: 'symlink escape: a data folder holding a link to a file outside the repository',
    files: async (ctx) => {
      await writeFile(path.join(ctx.outside, 'secret.txt'), 'secret\n');
      return { '.gitignore': 'out/\n', 'data/dir/rows.csv': 'a,b\n1,2\n', 'data/dir/leak': { symlink: path.join(ctx.outside, 'secret.txt') } };
    },
    record: baseRecord({ data: [{ path: 'data/dir', sha256: 'a'.repeat(64) }] }),
    expect: { status: 2, culprit: [/data\/dir\/leak/] },
  },
  {
    name: 'FIFO as data: named, quickly, never read',
    record: baseRecord({ data: [{ path: 'data/in.fifo', sha256: 'a'.repeat(64) }] }),
    afterCommit: async (ctx) => {
      await mkdir(path.join(ctx.root, 'data'), { recursive: true });
      execFileSync('mkfifo', [path.join(ctx.root, 'data', 'in.fifo')]);
    },
    limitSeconds: 15,
    expect: { status: 2, culprit: [/data\/in\.fifo/], maxSeconds: 10 },
  },
  {
    name: 'the record file is a FIFO: named, quickly',
    afterCommit: async (ctx) => {
      execFileSync('mkfifo', [path.join(ctx.root, 'pipe.yaml')]);
    },
    args: (ctx) => verifyArgs(ctx, 'pipe.yaml'),
    limitSeconds: 15,
    expect: { status: 2, culprit: [/pipe\.yaml/], maxSeconds: 10 },
  },
  {
    name: 'the record file is a tracked link to /dev/zero: named, quickly, in bounded memory',
    files: { '.gitignore': 'out/\n', 'run.yaml': { symlink: '/dev/zero' } },
    limitSeconds: 15,
    expect: { status: 2, culprit: [/run\.yaml/], maxSeconds: 10, maxRssMB: 500 },
  },
  {
    name: 'a record that does not exist',
    args: (ctx) => verifyArgs(ctx, 'missing.yaml'),
    expect: { status: 2, culprit: [/missing\.yaml/, /not found/] },
  },
  {
    name: 'a record path that is a folder',
    files: { '.gitignore': 'out/\n', 'models/.keep': '' },
    args: (ctx) => verifyArgs(ctx, 'models'),
    expect: { status: 2, culprit: [/models/] },
  },
];
