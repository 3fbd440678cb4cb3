import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, readlink, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { type Report, ReportSchema, type Verdict } from '../../../src/report/schema.js';
import { CLI, git } from '../fixture-repo.js';
import { changedEntries, snapshotRepository } from './snapshot.js';

// The hostile corpus's machinery: one row is a temporary repository (files, a run record, committed), one CLI
// invocation of the bundled repro-gate, and expectations checked after it. Every row checks the same invariants:
// the exit status, a message that names the culprit, no stack trace or internal error, the working tree byte-identical
// (.git included), and no process left behind; rows about memory or time bound those too.

export type FileSpec = string | Buffer | { symlink: string } | { fifo: true } | { content: string | Buffer; mode: number };
export type Files = Record<string, FileSpec>;
/** A run record: an object is written as YAML; a string or Buffer is written as it is. */
export type RecordSpec = Record<string, unknown> | string | Buffer;

export interface Ctx {
  /** Everything of one row lives under this folder, removed afterwards. */
  base: string;
  /** The repository (its real path). */
  root: string;
  /** Beside the repository: where rows put files that must stay outside it (escape targets, markers). */
  outside: string;
  /** The CLI's TMPDIR: its sandboxes and temporary files land here. */
  tmp: string;
  json: string;
  markdown: string;
  evidence: string;
  /** Unique to the row: long-running commands carry it in their command line. */
  marker: string;
  /** The test process: ancestor walks stop below it. */
  testPid: number;
}

type Dynamic<T> = T | ((ctx: Ctx) => T | Promise<T>);

export interface RunResult {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** Peak RSS of the CLI and every process it waited for, when measured. */
  maxRssMB?: number;
  /** The harness had to kill the CLI after the row's time limit. */
  killed: boolean;
  report?: Report;
  reportProblem?: string;
  /** The record errors of the JSON report, as `file:line field: message (hint)`. */
  recordErrors: string[];
  /** What the culprit must be named in: the report's record errors when it has some, else stdout and stderr. */
  message: string;
}

export interface Escape {
  /** Repo-relative paths the command itself writes into the repository (when nothing stops it). */
  paths: string[];
  /** The expectation when the repository was not written (the write was redirected into the copy). */
  clean: { status: number; culprit: RegExp[] };
}

export interface Expectation {
  status: number | number[];
  /** Each must match the message: the field, path, file or value at fault. */
  culprit: Dynamic<RegExp[]>;
  verdict?: Verdict;
  maxSeconds?: number;
  maxRssMB?: number;
  /** Absolute paths that must not exist afterwards (markers of code that must never run). */
  absent?: Dynamic<string[]>;
  /**
   * For commands that write into the repository themselves: the tree may differ by exactly these paths, and when it
   * does, verify must say so (exit 2, "wrote outside its sandbox", each path named), never "reproduced".
   */
  escape?: Escape;
  /** Repo-relative paths a successful `record` may write (run.yaml, the outputs). */
  treeMayChange?: string[];
  check?: (result: RunResult, ctx: Ctx, fail: (message: string) => void) => void | Promise<void>;
}

export interface Row {
  name: string;
  /** `git` (default): committed; `git-no-commit`: `git init` and nothing committed; `plain`: no git at all. */
  repo?: 'git' | 'git-no-commit' | 'plain';
  /** Default: just a .gitignore of `out/`. */
  files?: Dynamic<Files>;
  /** Written to run.yaml before the commit. */
  record?: Dynamic<RecordSpec | undefined>;
  /** After the commit: untracked files, FIFOs, changes. */
  afterCommit?: (ctx: Ctx) => Promise<void>;
  /** Default: verify run.yaml --json --evidence-dir. */
  args?: Dynamic<string[]>;
  /** Folder to run in, relative to the repository. */
  cwd?: string;
  env?: Dynamic<Record<string, string>>;
  /** Kill the CLI after this long (the row then fails). Default 30 s. */
  limitSeconds?: number;
  expect: Expectation;
}

const resolveDynamic = async <T>(value: Dynamic<T>, ctx: Ctx): Promise<T> =>
  typeof value === 'function' ? (value as (ctx: Ctx) => T | Promise<T>)(ctx) : value;

export const verifyArgs = (ctx: Ctx, record = 'run.yaml', extra: string[] = []) => ['verify', record, '--json', ctx.json, '--evidence-dir', ctx.evidence, ...extra];

export function yamlText(record: Record<string, unknown>): string {
  return stringify(record, { lineWidth: 0 });
}

async function writeFiles(root: string, files: Files): Promise<void> {
  for (const [relative, spec] of Object.entries(files)) {
    const target = path.join(root, relative);
    await mkdir(path.dirname(target), { recursive: true });
    if (typeof spec === 'string' || Buffer.isBuffer(spec)) await writeFile(target, spec);
    else if ('symlink' in spec) await symlink(spec.symlink, target);
    else if ('fifo' in spec) execFileSync('mkfifo', [target]);
    else {
      await writeFile(target, spec.content);
      await chmod(target, spec.mode);
    }
  }
}

// ── the CLI run ─────────────────────────────────────────────────────────────────────────────────────────────────

const CAPTURE_HEAD = 1 << 20;
const CAPTURE_TAIL = 1 << 20;

/** Keeps the first and last MiB of a stream: a command may print 100 MB. */
class Capture {
  private head = '';
  private tail = '';
  private dropped = 0;
  push(chunk: Buffer): void {
    const text = chunk.toString();
    if (this.head.length < CAPTURE_HEAD) {
      const room = CAPTURE_HEAD - this.head.length;
      this.head += text.slice(0, room);
      if (text.length <= room) return;
      this.tail += text.slice(room);
    } else {
      this.tail += text;
    }
    if (this.tail.length > 2 * CAPTURE_TAIL) {
      this.dropped += this.tail.length - CAPTURE_TAIL;
      this.tail = this.tail.slice(-CAPTURE_TAIL);
    }
  }
  text(): string {
    if (this.tail.length > CAPTURE_TAIL) {
      this.dropped += this.tail.length - CAPTURE_TAIL;
      this.tail = this.tail.slice(-CAPTURE_TAIL);
    }
    return this.dropped > 0 ? `${this.head}\n[… ${this.dropped} characters not kept by the test …]\n${this.tail}` : this.head + this.tail;
  }
}

/** Like scripts/bench.mjs: python's getrusage sees the peak RSS of the CLI and of every process it waited for. */
const RSS_PROBE = [
  'import resource, subprocess, sys',
  'status = subprocess.run(sys.argv[2:]).returncode',
  "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))",
  'sys.exit(status if status >= 0 else 128 - status)',
].join('\n');

const SECRET_LIKE = /^(GITHUB_TOKEN|ACTIONS_|INPUT_|REPRO_GATE_)/;

function cliEnvironment(ctx: Ctx, cacheRoot: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !SECRET_LIKE.test(name)));
  return { ...base, NO_COLOR: '1', REPRO_GATE_CACHE_DIR: cacheRoot, TMPDIR: ctx.tmp, ...extra };
}

/** The bundled CLI; HOSTILE_CLI points the corpus at another build (e.g. an older release, to see rows fail). */
const CLI_UNDER_TEST = process.env.HOSTILE_CLI || CLI;

async function runCli(ctx: Ctx, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; measureRss: boolean; limitMs: number }) {
  const rssFile = path.join(ctx.base, 'rss.txt');
  const [file, argv] = options.measureRss
    ? ['python3', ['-c', RSS_PROBE, rssFile, process.execPath, CLI_UNDER_TEST, ...args]]
    : [process.execPath, [CLI_UNDER_TEST, ...args]];
  const started = performance.now();
  const child = spawn(file, argv, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout = new Capture();
  const stderr = new Capture();
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  let killed = false;
  const limit = setTimeout(() => {
    killed = true;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }, options.limitMs);
  const exited = new Promise<[number | null, string | null]>((resolve) => child.on('exit', (code, signal) => resolve([code, signal])));
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const [status, signal] = await exited;
  const durationMs = performance.now() - started;
  clearTimeout(limit);
  // Whatever still holds the CLI's pipes once it exited is a leftover; the process check names it.
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 3_000))]);
  child.stdout.destroy();
  child.stderr.destroy();
  const rssKiB = options.measureRss ? Number(await readFile(rssFile, 'utf8').catch(() => 'NaN')) : undefined;
  return {
    status,
    signal,
    stdout: stdout.text(),
    stderr: stderr.text(),
    durationMs,
    killed,
    maxRssMB: rssKiB === undefined ? undefined : (rssKiB * 1024) / 1e6,
  };
}

async function readReport(file: string): Promise<{ report?: Report; problem?: string }> {
  if (!existsSync(file)) return {};
  try {
    const parsed = ReportSchema.safeParse(JSON.parse(await readFile(file, 'utf8')));
    if (parsed.success) return { report: parsed.data };
    return { problem: `the JSON report does not match the report schema: ${parsed.error.issues.slice(0, 3).map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}` };
  } catch (error) {
    return { problem: `the JSON report is not readable JSON: ${(error as Error).message}` };
  }
}

// ── processes ───────────────────────────────────────────────────────────────────────────────────────────────────

/** Processes that carry the row's marker in their command line, or run in a folder of the row (its sandboxes included). */
async function leftoverProcesses(ctx: Ctx): Promise<Array<{ pid: number; cmdline: string; cwd: string }>> {
  const found: Array<{ pid: number; cmdline: string; cwd: string }> = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`).catch(() => Buffer.alloc(0))).toString().replaceAll('\0', ' ').trim();
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
    if (cmdline.includes(ctx.marker) || cwd === ctx.base || cwd.startsWith(`${ctx.base}/`)) found.push({ pid, cmdline, cwd });
  }
  return found;
}

function pgrep(marker: string): string {
  try {
    return execFileSync('pgrep', ['-a', '-f', marker], { encoding: 'utf8' }).trim();
  } catch {
    return ''; // exit 1: nothing found
  }
}

// ── the row ─────────────────────────────────────────────────────────────────────────────────────────────────────

function formatRecordError(report: Report): string[] {
  return report.records.flatMap((record) =>
    record.error ? [`${record.recordPath}${record.error.line ? `:${record.error.line}` : ''}${record.error.field ? ` ${record.error.field}` : ''}: ${record.error.message}${record.error.hint ? ` (${record.error.hint})` : ''}`] : [],
  );
}

function excerpt(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max / 2)}\n[…]\n${text.slice(-max / 2)}`;
}

function describeRun(result: RunResult): string {
  return [
    `exit status: ${result.status}${result.signal ? ` (signal ${result.signal})` : ''}${result.killed ? ' — killed by the test after its time limit' : ''}`,
    `duration: ${(result.durationMs / 1000).toFixed(1)} s${result.maxRssMB !== undefined ? `, peak RSS ${result.maxRssMB.toFixed(0)} MB` : ''}`,
    ...(result.recordErrors.length > 0 ? [`record error: ${excerpt(result.recordErrors.join('\n'), 1_500)}`] : []),
    ...(result.reportProblem ? [result.reportProblem] : []),
    `stdout: ${excerpt(result.stdout.trim(), 1_500) || '(empty)'}`,
    `stderr: ${excerpt(result.stderr.trim(), 1_500) || '(empty)'}`,
  ].join('\n');
}

export const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function newContext(): Promise<Ctx> {
  const base = await realpath(await mkdtemp(path.join(tmpdir(), 'repro-gate-hostile-')));
  const ctx: Ctx = {
    base,
    root: path.join(base, 'repo'),
    outside: path.join(base, 'outside'),
    tmp: path.join(base, 'tmp'),
    json: path.join(base, 'reports', 'report.json'),
    markdown: path.join(base, 'reports', 'report.md'),
    evidence: path.join(base, 'reports', 'evidence'),
    marker: `hostile${randomBytes(6).toString('hex')}`,
    testPid: process.pid,
  };
  await Promise.all([ctx.root, ctx.outside, ctx.tmp, path.dirname(ctx.json)].map((dir) => mkdir(dir, { recursive: true })));
  return ctx;
}

async function buildRepository(row: Row, ctx: Ctx): Promise<void> {
  const files = row.files === undefined ? { '.gitignore': 'out/\n' } : await resolveDynamic(row.files, ctx);
  await writeFiles(ctx.root, files);
  const record = row.record === undefined ? undefined : await resolveDynamic(row.record, ctx);
  if (record !== undefined) {
    await writeFile(path.join(ctx.root, 'run.yaml'), typeof record === 'string' || Buffer.isBuffer(record) ? record : yamlText(record));
  }
  const kind = row.repo ?? 'git';
  if (kind !== 'plain') git(ctx.root, 'init', '-q');
  if (kind === 'git') {
    git(ctx.root, 'add', '-A');
    git(ctx.root, 'commit', '-qm', 'hostile input', '--allow-empty');
  }
  if (row.afterCommit) await row.afterCommit(ctx);
}

const KEEP = process.env.HOSTILE_KEEP === '1';

/** Builds the row's repository, runs the CLI once, and checks every invariant. Throws one error listing every failure. */
export async function runRow(row: Row, cacheRoot: string): Promise<void> {
  const ctx = await newContext();
  try {
    await buildRepository(row, ctx);
    const expectation = row.expect;
    const args = row.args === undefined ? verifyArgs(ctx) : await resolveDynamic(row.args, ctx);
    const env = cliEnvironment(ctx, cacheRoot, row.env === undefined ? {} : await resolveDynamic(row.env, ctx));
    const before = await snapshotRepository(ctx.root);
    const ran = await runCli(ctx, args, {
      cwd: path.join(ctx.root, row.cwd ?? '.'),
      env,
      measureRss: expectation.maxRssMB !== undefined,
      limitMs: (row.limitSeconds ?? 30) * 1000,
    });
    const after = await snapshotRepository(ctx.root);
    const { report, problem } = await readReport(ctx.json);
    const recordErrors = report ? formatRecordError(report) : [];
    const result: RunResult = {
      ...ran,
      report,
      reportProblem: problem,
      recordErrors,
      message: recordErrors.length > 0 ? recordErrors.join('\n') : `${ran.stdout}\n${ran.stderr}`,
    };

    const failures: string[] = [];
    const fail = (message: string) => failures.push(message);

    // The tree: byte-identical, or (a command that writes into it) different by exactly what the command wrote.
    const changed = changedEntries(before, after);
    let status = expectation.status;
    let culprit = await resolveDynamic(expectation.culprit, ctx);
    if (expectation.escape) {
      const unexpected = changed.filter((entry) => !expectation.escape!.paths.includes(entry));
      if (unexpected.length > 0) fail(`the working tree changed beyond what the command itself wrote: ${unexpected.join(', ')}`);
      const written = changed.filter((entry) => expectation.escape!.paths.includes(entry));
      if (written.length === 0) {
        ({ status, culprit } = expectation.escape.clean);
      } else {
        culprit = [...culprit, /wrote outside its sandbox/, ...written.map((entry) => new RegExp(escapeRegExp(entry)))];
        if (report?.verdict === 'reproduced' || /repro-gate: reproduced/.test(ran.stdout)) fail('the repository was written, yet the verdict is "reproduced"');
      }
    } else {
      const allowed = expectation.treeMayChange ?? [];
      const unexpected = changed.filter((entry) => !allowed.includes(entry));
      if (unexpected.length > 0) {
        fail(`the working tree is not byte-identical afterwards: ${unexpected.slice(0, 20).map((entry) => `${entry} (${before.get(entry) ?? 'absent'} → ${after.get(entry) ?? 'absent'})`).join(', ')}`);
      }
    }

    const statuses = Array.isArray(status) ? status : [status];
    if (!statuses.includes(result.status ?? -1)) fail(`exit status ${result.status}, expected ${statuses.join(' or ')}`);
    for (const pattern of culprit) {
      if (!pattern.test(result.message)) fail(`the message does not name the culprit: ${pattern} not found`);
    }
    const output = `${ran.stdout}\n${ran.stderr}`;
    if (/\n\s+at /.test(output)) fail(`a stack trace was printed: ${/.*\n\s+at .*/.exec(output)?.[0]}`);
    if (/internal error/i.test(`${output}\n${recordErrors.join('\n')}`)) fail('an "internal error" was reported');
    if (/Maximum call stack size exceeded/.test(`${output}\n${recordErrors.join('\n')}`)) fail('"Maximum call stack size exceeded"');
    if (result.reportProblem) fail(result.reportProblem);
    if (expectation.verdict && report?.verdict !== expectation.verdict) fail(`verdict ${report?.verdict ?? '(no JSON report)'}, expected ${expectation.verdict}`);
    if (expectation.maxSeconds !== undefined && result.durationMs > expectation.maxSeconds * 1000) {
      fail(`took ${(result.durationMs / 1000).toFixed(1)} s, more than ${expectation.maxSeconds} s`);
    }
    if (expectation.maxRssMB !== undefined && !(result.maxRssMB! < expectation.maxRssMB)) {
      fail(`peak RSS ${result.maxRssMB?.toFixed(0)} MB, expected under ${expectation.maxRssMB} MB`);
    }
    for (const file of expectation.absent === undefined ? [] : await resolveDynamic(expectation.absent, ctx)) {
      if (existsSync(file)) fail(`${file} exists: code that must never run did`);
    }

    // No process left behind: none with the row's marker, none running in one of the row's folders.
    let leftovers = await leftoverProcesses(ctx);
    if (leftovers.length > 0) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      leftovers = await leftoverProcesses(ctx);
    }
    const byMarker = pgrep(ctx.marker);
    if (leftovers.length > 0 || byMarker) {
      fail(`processes were left behind: ${[...leftovers.map((p) => `${p.pid} ${p.cmdline} (cwd ${p.cwd})`), byMarker].filter(Boolean).join('; ')}`);
      for (const leftover of leftovers) {
        try {
          process.kill(leftover.pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }

    if (expectation.check) await expectation.check(result, ctx, fail);
    if (failures.length > 0) throw new Error(`${failures.map((failure) => `✗ ${failure}`).join('\n')}\n── what the CLI did\n${describeRun(result)}`);
  } finally {
    if (!KEEP) await rm(ctx.base, { recursive: true, force: true }).catch(() => undefined);
  }
}
