import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { appendFile, cp, mkdtemp, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, editRecord, exampleRepo, type FixtureRepo, fixtureRepo, git, recordingCacheRoot, runCli } from '../support/fixture-repo.js';
import { runAction, webhookExample } from '../support/run-action.js';
import { actionServiceEnv, type Standin, startStandin } from '../support/standin/index.js';
import { snapshotTree } from '../support/tree-snapshot.js';

// The model registry through the bundled CLI and action, on a seed-shaped registry of two versions of the iris
// example's real model: 1.2.0 as recorded, 1.2.1 trained 40 epochs instead of 30 and re-recorded.

const MODEL = 'models/iris';
const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

let seed: FixtureRepo;
/** `verify --json` reports of 1.2.0's and 1.2.1's records. */
let report120: string;
let report121: string;

async function copyOf(repo: FixtureRepo): Promise<FixtureRepo> {
  const root = await mkdtemp(path.join(tmpdir(), 'repro-gate-registry-'));
  await cp(repo.root, root, { recursive: true, verbatimSymlinks: true });
  return fixtureRepo(root, repo.env);
}

async function cli(repo: FixtureRepo, ...args: string[]) {
  return runCli(args, { cwd: repo.root, env: repo.env });
}

async function expectOk(repo: FixtureRepo, ...args: string[]) {
  const result = await cli(repo, ...args);
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
  return result;
}

const commit = (repo: FixtureRepo, message: string) => {
  git(repo.root, 'add', '-A');
  git(repo.root, 'commit', '-qm', message);
  return git(repo.root, 'rev-parse', 'HEAD').trim();
};

const logLines = (repo: FixtureRepo) => readFileSync(path.join(repo.root, MODEL, 'promotions.jsonl'), 'utf8').split('\n').filter(Boolean);
const aliasOf = (repo: FixtureRepo, alias: string) => readlink(path.join(repo.root, MODEL, alias)).catch(() => undefined);

/** Whether each line names the sha256 of the one before it: the chain the registry keeps. */
function chainIntact(lines: string[]): boolean {
  return lines.every((line, i) => JSON.parse(line).prev === (i === 0 ? null : sha256(lines[i - 1]!)));
}

/** 1.2.0 promoted to staging and to prod with its verify report, committed. */
async function promotedRepo(): Promise<{ repo: FixtureRepo; base: string }> {
  const repo = await copyOf(seed);
  await expectOk(repo, 'registry', 'promote', 'iris', '1.2.0', '--to', 'staging', '--reason', 'first model', '--report', report120);
  await expectOk(repo, 'registry', 'promote', 'iris', '1.2.0', '--to', 'prod', '--reason', 'ship it', '--report', report120);
  return { repo, base: commit(repo, 'promote 1.2.0') };
}

/** The iris example's training, recorded as its author would; the pins are numeric-pickle.test.ts's, so the venv is shared. */
const RECORD_IRIS = [
  'record', '--name', 'iris', '--artifact', 'out/model.pkl', '--metrics', 'out/metrics.json',
  '--config', 'configs/train.json', '--data', 'data/iris.csv=data/iris.manifest.json', '--requirements', 'requirements.txt',
  '--seed', 'numpy=7', '--var', 'PYTHONHASHSEED=0', '--var', 'OMP_NUM_THREADS=1',
  '--', 'python', 'train.py', 'configs/train.json',
];

beforeAll(async () => {
  seed = await exampleRepo('iris', { only: ['train.py', 'configs', 'data'], extra: { 'requirements.txt': 'scikit-learn==1.9.1\nnumpy==2.2.6\n', '.gitignore': 'out/\n' } });
  const reports = await mkdtemp(path.join(tmpdir(), 'repro-gate-registry-reports-'));
  report120 = path.join(reports, '1.2.0.json');
  report121 = path.join(reports, '1.2.1.json');
  // The author's loop, as the README asks of a registry: commit the code, record, commit the record, publish.
  await expectOk(seed, ...RECORD_IRIS);
  commit(seed, 'record iris');
  await expectOk(seed, 'verify', 'run.yaml', '--json', report120);
  await expectOk(seed, 'registry', 'publish', 'run.yaml', '--model', 'iris', '--version', '1.2.0');
  commit(seed, 'publish iris 1.2.0');
  const config = path.join(seed.root, 'configs', 'train.json');
  await writeFile(config, readFileSync(config, 'utf8').replace('"max_iter": 30', '"max_iter": 40'));
  commit(seed, 'train 40 epochs');
  await expectOk(seed, 'record', '--update', 'run.yaml');
  commit(seed, 'record iris 40 epochs');
  await expectOk(seed, 'verify', 'run.yaml', '--json', report121);
  await expectOk(seed, 'registry', 'publish', 'run.yaml', '--model', 'iris', '--version', '1.2.1');
  commit(seed, 'publish iris 1.2.1');
});

describe('registry publish', () => {
  it('writes each version in the seed layout, with a checksum.txt that sha256sum -c accepts; a published version is immutable', async () => {
    const repo = await copyOf(seed);
    for (const version of ['1.2.0', '1.2.1']) {
      const dir = path.join(repo.root, MODEL, version);
      expect(execFileSync('ls', [dir], { encoding: 'utf8' }).split('\n').filter(Boolean)).toEqual(['checksum.txt', 'data_manifest.json', 'metrics.json', 'model.pkl', 'run.yaml']);
      expect(execFileSync('sha256sum', ['-c', 'checksum.txt'], { cwd: dir, encoding: 'utf8' })).toBe('data_manifest.json: OK\nmetrics.json: OK\nmodel.pkl: OK\nrun.yaml: OK\n');
      // The model is the output the version's record names, byte for byte.
      const record = readFileSync(path.join(dir, 'run.yaml'), 'utf8');
      expect(record).toContain(`sha256: ${sha256(readFileSync(path.join(dir, 'model.pkl')))}`);
      expect(JSON.parse(readFileSync(path.join(dir, 'data_manifest.json'), 'utf8'))).toMatchObject({ record: 'run.yaml', record_sha256: sha256(record), data: [{ path: 'data/iris.csv' }] });
    }
    expect(JSON.parse(readFileSync(path.join(repo.root, MODEL, '1.2.1', 'metrics.json'), 'utf8'))['train.n_iter']).toBe(40);
    expect(JSON.parse(readFileSync(path.join(repo.root, MODEL, '1.2.0', 'metrics.json'), 'utf8'))['train.n_iter']).toBe(30);

    const before = await snapshotTree(repo.root);
    const again = await cli(repo, 'registry', 'publish', 'run.yaml', '--model', 'iris', '--version', '1.2.0');
    expect(again.status).toBe(2);
    expect(again.stderr).toContain('iris 1.2.0 is already published');
    expect(again.stderr).toContain('A published version is immutable');
    const badVersion = await cli(repo, 'registry', 'publish', 'run.yaml', '--model', 'iris', '--version', '1.3');
    expect(badVersion.status).toBe(2);
    expect(badVersion.stderr).toContain('--version 1.3 is not a semantic version');
    expect(await snapshotTree(repo.root)).toEqual(before);

    await editRecord(repo, (record) => (record.code.dirty = true));
    const dirty = await cli(repo, 'registry', 'publish', 'run.yaml', '--model', 'iris', '--version', '1.3.0');
    expect(dirty.status).toBe(2);
    expect(dirty.stderr).toContain('run.yaml was recorded from uncommitted code (code.dirty: true)');
    expect(existsSync(path.join(repo.root, MODEL, '1.3.0'))).toBe(false);
  });
});

describe('registry promote', () => {
  it('promotes 1.2.0 to staging then prod, refuses prod for a version never in staging, and reruns 1.2.1 before staging it', async () => {
    const repo = await copyOf(seed);
    await expectOk(repo, 'registry', 'promote', 'iris', '1.2.0', '--to', 'staging', '--reason', 'first model', '--report', report120);
    const prod = await expectOk(repo, 'registry', 'promote', 'iris', '1.2.0', '--to', 'prod', '--reason', 'ship it', '--report', report120);
    expect(prod.stdout).toContain('✓ was in staging first: promoted to staging at');
    expect(await aliasOf(repo, 'prod')).toBe('1.2.0');

    const refused = await cli(repo, 'registry', 'promote', 'iris', '1.2.1', '--to', 'prod', '--reason', 'skip staging');
    expect(refused.status).toBe(1);
    expect(refused.stdout).toContain('✗ iris prod: 1.2.0 → 1.2.1   rollback: 1.2.0');
    expect(refused.stdout).toContain('✗ was in staging first: never promoted to staging');
    expect(refused.stdout).toContain('refused: prod still points to 1.2.0');
    // Refused on the log alone: nothing was trained.
    expect(refused.stderr).not.toContain('Logs and evidence of the rerun');
    expect(await aliasOf(repo, 'prod')).toBe('1.2.0');
    expect(logLines(repo)).toHaveLength(2);

    const wrongReport = await cli(repo, 'registry', 'promote', 'iris', '1.2.1', '--to', 'staging', '--reason', 'better', '--report', report120);
    expect(wrongReport.status).toBe(2);
    expect(wrongReport.stderr).toContain(`does not verify 1.2.1's run.yaml`);

    const staged = await cli(repo, 'registry', 'promote', 'iris', '1.2.1', '--to', 'staging', '--reason', 'trained longer', '--actor', 'ml-bot');
    expect(staged.status, staged.stderr).toBe(0);
    expect(staged.stderr).toContain('Logs and evidence of the rerun');
    expect(staged.stdout).toContain('✓ reproduces (reproduced or within-tolerance): reproduced');
    expect(staged.stdout).toContain('train.n_iter: 30 → 40 (+10)');
    expect(await aliasOf(repo, 'staging')).toBe('1.2.1');

    const lines = logLines(repo);
    expect(chainIntact(lines)).toBe(true);
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ alias: 'staging', from: null, to: '1.2.0', reason: 'first model' }),
      expect.objectContaining({ alias: 'prod', from: null, to: '1.2.0', reason: 'ship it' }),
      expect.objectContaining({ alias: 'staging', from: '1.2.0', to: '1.2.1', actor: 'ml-bot', version_sha256: sha256(readFileSync(path.join(repo.root, MODEL, '1.2.1', 'checksum.txt'))) }),
    ]);
    expect((await cli(repo, 'registry', 'check')).status).toBe(0);

    // prod to 1.2.1, then back: 1.2.0's record is gone from the checkout (run.yaml is 1.2.1's), and the rollback to
    // the bytes prod held before stands on their verification then.
    await expectOk(repo, 'registry', 'promote', 'iris', '1.2.1', '--to', 'prod', '--reason', 'trained longer', '--report', report121);
    const rollback = await expectOk(repo, 'registry', 'promote', 'iris', '1.2.0', '--to', 'prod', '--reason', 'recall dropped in production');
    expect(rollback.stdout).toContain('✓ reproduces (reproduced or within-tolerance): not rerun: a rollback to the version prod held from');
    expect(rollback.stderr).not.toContain('Logs and evidence of the rerun');
    expect(await aliasOf(repo, 'prod')).toBe('1.2.0');
    // A version prod never held is no rollback: it must be rerun, and its record is not in the checkout.
    const unheld = await cli(repo, 'registry', 'promote', 'iris', '1.2.0', '--to', 'canary', '--reason', 'try');
    expect(unheld.status).toBe(2);
    expect(unheld.stderr).toContain('run.yaml in the checkout is no longer the record 1.2.0 was published from');
    const check = await cli(repo, 'registry', 'check');
    expect(check.status, check.stdout).toBe(0);
  });

  it('moves an alias atomically: killed at each step, it leaves the old alias or the new one and a whole log, and the same promote finishes', async () => {
    const { repo: promoted } = await promotedRepo();
    const strace = ['strace', '-f', '-qq', '-o', '/dev/null'];
    const promote = ['registry', 'promote', 'iris', '1.2.1', '--to', 'staging', '--reason', 'trained longer', '--report', report121];
    // The promote's writes in order: the log (a temporary file renamed over it), a temporary symlink, its rename
    // over the alias. strace kills it at the first two; for the third, it holds the promote after the symlink (a
    // thread's syscall count is its own, so "the second rename" cannot be named) and the test kills it there.
    const killPoints: Array<{ inject: string[]; killWhen?: (modelDir: string) => boolean }> = [
      { inject: ['-e', 'trace=rename,renameat,renameat2', '-e', 'inject=rename,renameat,renameat2:signal=SIGKILL:when=1'] },
      { inject: ['-e', 'trace=symlink,symlinkat', '-e', 'inject=symlink,symlinkat:signal=SIGKILL'] },
      {
        inject: ['-e', 'trace=symlink,symlinkat', '-e', 'inject=symlink,symlinkat:delay_exit=20000000'],
        killWhen: (modelDir) => readdirSync(modelDir).some((name) => name.startsWith('.staging.')),
      },
    ];
    const seen = new Set<string>();
    for (const point of killPoints) {
      const repo = await copyOf(promoted);
      const child = spawn(strace[0]!, [...strace.slice(1), ...point.inject, process.execPath, CLI, ...promote], { cwd: repo.root, env: { ...process.env, ...repo.env }, detached: true, stdio: 'ignore' });
      const ended = new Promise<string | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
      if (point.killWhen) {
        const modelDir = path.join(repo.root, MODEL);
        const deadline = Date.now() + 15_000;
        while (!point.killWhen(modelDir) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        process.kill(-child.pid!, 'SIGKILL');
        expect(point.killWhen(modelDir)).toBe(true);
      }
      // strace ends as its tracee did: killed (137), or by the test's SIGKILL.
      expect(await ended).toSatisfy((end) => end === 137 || end === 'SIGKILL');
      const staging = await aliasOf(repo, 'staging');
      const lines = logLines(repo);
      // Never a missing link, a link to nowhere, or a torn log.
      expect(['1.2.0', '1.2.1']).toContain(staging);
      expect(existsSync(path.join(repo.root, MODEL, 'staging', 'checksum.txt'))).toBe(true);
      expect(chainIntact(lines)).toBe(true);
      expect([2, 3]).toContain(lines.length);
      seen.add(`${staging}/${lines.length}`);
      if (lines.length === 3) expect((await cli(repo, 'registry', 'check')).stdout).toContain('the promotion of staging to 1.2.1 did not finish');

      const finished = await cli(repo, ...promote);
      expect(finished.status, finished.stderr).toBe(0);
      expect(await aliasOf(repo, 'staging')).toBe('1.2.1');
      expect(logLines(repo)).toHaveLength(3);
      const after = await cli(repo, 'registry', 'check');
      expect(after.status, after.stdout).toBe(0);
    }
    // Killed before the log was replaced, and after it but before the alias moved.
    expect([...seen].sort()).toEqual(['1.2.0/2', '1.2.0/3']);
  });
});

describe('aliases.yaml', () => {
  it('holds the aliases for checkouts without symlinks: promote rewrites it keeping its comments, check and --base read it', async () => {
    const repo = await copyOf(seed);
    const aliasesFile = path.join(repo.root, MODEL, 'aliases.yaml');
    await writeFile(aliasesFile, '# Aliases of the iris model (no symlinks on our Windows runners).\n');
    const base = commit(repo, 'aliases in a file');
    await expectOk(repo, 'registry', 'promote', 'iris', '1.2.0', '--to', 'staging', '--reason', 'first model', '--report', report120);
    await expectOk(repo, 'registry', 'promote', 'iris', '1.2.0', '--to', 'prod', '--reason', 'ship it', '--report', report120);
    await expectOk(repo, 'registry', 'promote', 'iris', '1.2.1', '--to', 'staging', '--reason', 'trained longer', '--report', report121);
    expect(readFileSync(aliasesFile, 'utf8')).toBe('# Aliases of the iris model (no symlinks on our Windows runners).\nstaging: 1.2.1\nprod: 1.2.0\n');
    expect(await aliasOf(repo, 'staging')).toBeUndefined();
    expect((await cli(repo, 'registry', 'check', '--base', base)).status).toBe(0);
    // An alias moved by hand in the file, without a promotion, is caught.
    await writeFile(aliasesFile, readFileSync(aliasesFile, 'utf8').replace('prod: 1.2.0', 'prod: 1.2.1'));
    const check = await cli(repo, 'registry', 'check', '--base', base);
    expect(check.status).toBe(1);
    expect(check.stdout).toContain('alias prod points to 1.2.1, but its last promotion in promotions.jsonl was to 1.2.0');
  });
});

describe('registry check', () => {
  it('catches a tampered model file, an edited log line, a log rewritten with recomputed prev hashes, and an edit to a published version', async () => {
    const { repo, base } = await promotedRepo();
    const modelFile = path.join(repo.root, MODEL, '1.2.0', 'model.pkl');
    const restore = () => git(repo.root, 'checkout', '-q', '--', 'models');
    expect((await cli(repo, 'registry', 'check', '--base', base)).status).toBe(0);

    await appendFile(modelFile, 'x');
    let check = await cli(repo, 'registry', 'check');
    expect(check.status).toBe(1);
    expect(check.stdout).toContain('1.2.0: model.pkl does not match checksum.txt');
    restore();

    const logFile = path.join(repo.root, MODEL, 'promotions.jsonl');
    const original = readFileSync(logFile, 'utf8');
    await writeFile(logFile, original.replace('"reason":"first model"', '"reason":"first modell"'));
    check = await cli(repo, 'registry', 'check');
    expect(check.status).toBe(1);
    expect(check.stdout).toContain('promotions.jsonl line 2: prev does not match the line before it');

    // The same edit with every prev recomputed: a consistent chain, which only the base's log gives away.
    const rewritten: string[] = [];
    for (const line of original.split('\n').filter(Boolean)) {
      const promotion = { ...JSON.parse(line), prev: rewritten.length === 0 ? null : sha256(rewritten.at(-1)!) };
      if (promotion.reason === 'first model') promotion.reason = 'first modell';
      rewritten.push(JSON.stringify(promotion));
    }
    await writeFile(logFile, `${rewritten.join('\n')}\n`);
    expect((await cli(repo, 'registry', 'check')).status).toBe(0);
    check = await cli(repo, 'registry', 'check', '--base', base);
    expect(check.status).toBe(1);
    expect(check.stdout).toContain("promotions.jsonl does not extend the base's");
    restore();

    // An edit to 1.2.0 that even rewrites its checksum.txt to match.
    const dir = path.join(repo.root, MODEL, '1.2.0');
    await writeFile(path.join(dir, 'metrics.json'), '{"accuracy": 0.99}\n');
    await writeFile(path.join(dir, 'checksum.txt'), execFileSync('sha256sum', ['data_manifest.json', 'metrics.json', 'model.pkl', 'run.yaml'], { cwd: dir, encoding: 'utf8' }));
    check = await cli(repo, 'registry', 'check', '--base', base);
    expect(check.status).toBe(1);
    expect(check.stdout).toContain('published version 1.2.0 changed: metrics.json (modified)');
    expect(check.stdout).toContain('1.2.0 changed after it was promoted to prod');
    restore();

    // A new version whose model is not the one its run.yaml records, checksum.txt rewritten to match.
    const forged = path.join(repo.root, MODEL, '2.0.0');
    await cp(path.join(repo.root, MODEL, '1.2.1'), forged, { recursive: true });
    await writeFile(path.join(forged, 'model.pkl'), 'a backdoored model');
    await writeFile(path.join(forged, 'checksum.txt'), execFileSync('sha256sum', ['data_manifest.json', 'metrics.json', 'model.pkl', 'run.yaml'], { cwd: forged, encoding: 'utf8' }));
    check = await cli(repo, 'registry', 'check');
    expect(check.status).toBe(1);
    expect(check.stdout).toContain('2.0.0: model.pkl is not the out/model.pkl that run.yaml records');
    await rm(forged, { recursive: true });

    // A promotion beside a policy change is judged by the base's policy, and the change is refused.
    await writeFile(path.join(repo.root, MODEL, 'policy.yaml'), 'aliases:\n  staging: {}\n  prod: {}\n');
    await expectOk(repo, 'registry', 'promote', 'iris', '1.2.1', '--to', 'prod', '--reason', 'no staging needed now', '--report', report121);
    check = await cli(repo, 'registry', 'check', '--base', base);
    expect(check.status).toBe(1);
    expect(check.stdout).toContain('policy.yaml changed in the same change as 1 promotion');
    expect(check.stdout).toContain('prod → 1.2.1 breaks the policy: was in staging first (never promoted to staging)');
    restore();
    await rm(path.join(repo.root, MODEL, 'policy.yaml'));

    // A registry file is never read through a link (it could lead to any file on the runner).
    await symlink('/etc/hostname', path.join(repo.root, MODEL, 'aliases.yaml'));
    check = await cli(repo, 'registry', 'check');
    expect(check.status).toBe(1);
    expect(check.stdout).toContain('aliases.yaml is not a regular file (a link?)');
    expect(check.stdout).not.toContain(readFileSync('/etc/hostname', 'utf8').trim());
  });
});

describe('the bundled action, mode: registry', () => {
  let standin: Standin;
  let pullRequestEvent: Record<string, any>;

  beforeAll(async () => {
    standin = await startStandin();
    pullRequestEvent = await webhookExample('pull_request', (example) => example.action === 'opened');
  });

  afterAll(async () => {
    expect(standin.validationErrors).toEqual([]);
    await standin.close();
  });

  async function gate(repo: FixtureRepo, base: string, inputs: Record<string, string> = {}) {
    const event = structuredClone(pullRequestEvent);
    event.pull_request.base.sha = base;
    const before = await snapshotTree(repo.root);
    const run = await runAction({
      cwd: repo.root,
      eventName: 'pull_request',
      payload: event,
      inputs: { mode: 'registry', 'github-token': standin.token, cache: 'false', 'upload-evidence': 'false', ...inputs },
      env: actionServiceEnv(standin, await recordingCacheRoot()),
    });
    expect(await snapshotTree(repo.root)).toEqual(before);
    const [owner, name] = event.repository.full_name.split('/');
    return { ...run, comment: standin.comments(owner, name, event.number).at(-1)?.body ?? '' };
  }

  it('comments the alias a pull request moves, with its policy rows, metric deltas and rollback target, and fails one that edits a published version', async () => {
    const { repo } = await promotedRepo();
    await expectOk(repo, 'registry', 'promote', 'iris', '1.2.1', '--to', 'staging', '--reason', 'trained longer', '--report', report121);
    const base = commit(repo, 'stage 1.2.1');
    await expectOk(repo, 'registry', 'promote', 'iris', '1.2.1', '--to', 'prod', '--reason', 'better recall', '--report', report121);
    commit(repo, 'promote 1.2.1 to prod');

    const moved = await gate(repo, base, { 'upload-evidence': 'true' });
    expect(moved.status, moved.stdout).toBe(0);
    // The rerun's log goes up as evidence, beside the verdict.
    const [evidence] = standin.artifacts;
    expect(evidence?.name).toMatch(/^repro-gate-evidence-reproduce-registry-/);
    expect(evidence!.zip.includes('registry.md')).toBe(true);
    expect(evidence!.zip.includes('rerun.log')).toBe(true);
    expect(moved.summary).toContain(`the \`${evidence!.name}\` artifact of this run`);
    expect(moved.outputs.registry).toBe('pass');
    expect(moved.comment).toContain('### ✅ Model registry passes (against master)');
    expect(moved.comment).toContain('#### ✅ iris prod: 1.2.0 → 1.2.1');
    expect(moved.comment).toContain('Rollback target: 1.2.0');
    expect(moved.comment).toContain('| reproduces (reproduced or within-tolerance) | ✅ | reproduced |');
    expect(moved.comment).toContain('| was in staging first | ✅ |');
    expect(moved.comment).toContain('| train.n\\_iter | 30 | 40 | +10 |');
    expect(moved.comment).toMatch(/\| accuracy \| 0\.977778 \| 0\.955556 \| -0\.0222 \|/);
    expect(moved.summary).toContain('#### ✅ iris prod: 1.2.0 → 1.2.1');

    // The next pull request rolls prod back: 1.2.0's record is no longer in the checkout, and is not rerun.
    const promotedBase = git(repo.root, 'rev-parse', 'HEAD').trim();
    await expectOk(repo, 'registry', 'promote', 'iris', '1.2.0', '--to', 'prod', '--reason', 'recall dropped');
    commit(repo, 'roll prod back to 1.2.0');
    const rolledBack = await gate(repo, promotedBase);
    expect(rolledBack.status, rolledBack.stdout).toBe(0);
    expect(rolledBack.comment).toContain('#### ✅ iris prod: 1.2.1 → 1.2.0');
    expect(rolledBack.comment).toContain('| reproduces (reproduced or within-tolerance) | ✅ | not rerun: a rollback to the version prod held from');

    await writeFile(path.join(repo.root, MODEL, '1.2.0', 'model.pkl'), 'not the model');
    commit(repo, 'edit 1.2.0');
    const edited = await gate(repo, promotedBase);
    expect(edited.status).toBe(1);
    expect(edited.outputs.registry).toBe('fail');
    expect(edited.comment).toContain('### ❌ Model registry fails');
    expect(edited.comment).toContain('published version 1.2.0 changed: model.pkl (modified)');
    expect(edited.stdout).toContain('::error::repro-gate: the model registry fails');
  });
});
