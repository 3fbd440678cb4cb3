import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { COMMENT_MAX_CHARS } from '../../src/constants.js';
import { ReportSchema } from '../../src/report/schema.js';
import { createRecordedRepo, editRecord, type FixtureRepo, git, recordingCacheRoot } from '../support/fixture-repo.js';
import { type RunActionOptions, runAction, webhookExample } from '../support/run-action.js';
import { actionServiceEnv, type Standin, startStandin } from '../support/standin/index.js';
import { snapshotTree } from '../support/tree-snapshot.js';

// The bundled action, spawned as the runner spawns it, against a local stand-in of GitHub's services.

const OWNER = 'Codertocat';
const REPO = 'Hello-World';

let pullRequestEvent: Record<string, any>;
let prNumber: number;
let standin: Standin;
let cacheRoot: string;

beforeAll(async () => {
  pullRequestEvent = await webhookExample('pull_request', (example) => example.action === 'opened');
  prNumber = pullRequestEvent.number;
});

beforeEach(async () => {
  standin = await startStandin();
  // The recordings' venv cache: most tests are about publishing, not about building venvs (those take a fresh one).
  cacheRoot = await recordingCacheRoot();
});

/** An empty local venv cache, for the tests about building, saving and restoring venvs. */
async function startWithEmptyCache(): Promise<void> {
  cacheRoot = await mkdtemp(path.join(tmpdir(), 'repro-gate-action-cache-'));
}

afterEach(async () => {
  expect(standin.validationErrors).toEqual([]);
  await standin.close();
});

const serviceEnv = (overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ ...actionServiceEnv(standin, cacheRoot), ...overrides });

/** The opened pull_request event, based on the repository's HEAD (the action compares the records with the PR's base). */
function pullRequestOn(repo: FixtureRepo): Record<string, any> {
  const event = structuredClone(pullRequestEvent);
  event.pull_request.base.sha = git(repo.root, 'rev-parse', 'HEAD').trim();
  return event;
}

async function action(repo: FixtureRepo, options: Partial<RunActionOptions> & { inputs?: Record<string, string> } = {}) {
  const before = await snapshotTree(repo.root);
  const run = await runAction({
    cwd: repo.root,
    eventName: 'pull_request',
    payload: pullRequestOn(repo),
    ...options,
    inputs: { 'github-token': standin.token, records: 'run.yaml', ...options.inputs },
    env: serviceEnv(options.env),
  });
  expect(await snapshotTree(repo.root)).toEqual(before);
  // The runner consumes `::add-mask::` commands and masks the value everywhere after; nothing else may print a secret.
  const printed = (run.stdout + run.stderr)
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n');
  expect(run.stdout.indexOf(`::add-mask::${standin.token}`)).toBeGreaterThanOrEqual(0);
  expect(printed).not.toContain(standin.token);
  expect(printed).not.toContain(standin.runtimeToken);
  return run;
}

const prComments = () => standin.comments(OWNER, REPO, prNumber);
const newRepo = () => createRecordedRepo({ cacheRoot });

describe('the bundled action', () => {
  it('reproduces: exit 0, one sticky comment, summary, outputs, cache and evidence; a re-run updates the same comment, and an empty runner restores the venv from the cache service', async () => {
    await startWithEmptyCache();
    const repo = await newRepo();
    const first = await action(repo);
    expect(first.status).toBe(0);
    expect(first.outputs.verdict).toBe('reproduced');
    expect(first.outputs.drifted).toBe('[]');
    expect(prComments()).toHaveLength(1);
    const [comment] = prComments();
    expect(comment!.user.login).toBe(standin.botLogin);
    expect(comment!.body).toMatch(/<!-- repro-gate:sticky/);
    expect(comment!.body).toMatch(/linear/);
    expect(first.outputs['comment-url']).toBe(comment!.html_url);
    expect(first.summary).toMatch(/linear/);
    expect(first.stdout).toMatch(/::group::linear: rerun\n/);
    // Each stage's group ends with its duration; the rerun's own output cannot issue workflow commands.
    expect(first.stdout).toMatch(/linear: (environment|rerun|compare) took \d+\.\d s/);
    expect(first.stdout).toMatch(/::stop-commands::([0-9a-f-]+)\n[\s\S]*loss=[\s\S]*::\1::/);
    expect(ReportSchema.parse(JSON.parse(readFileSync(first.outputs['report-json']!, 'utf8'))).verdict).toBe('reproduced');

    // The venv was saved to the cache service, and the evidence uploaded as a zip holding report.json.
    expect([...standin.caches.keys()].some((key) => key.startsWith('repro-gate-venv-'))).toBe(true);
    expect(standin.artifacts).toHaveLength(1);
    // The verification statement is in the evidence too, and its paths are outputs.
    expect(JSON.parse(readFileSync(first.outputs.provenance!, 'utf8')).predicate.verificationResult).toBe('PASSED');
    expect(readFileSync(first.outputs['subject-checksums']!, 'utf8')).toMatch(/^[0-9a-f]{64} {2}out\/model\.json\n$/);
    expect(JSON.parse(readFileSync(first.outputs.predicate!, 'utf8')).verifier.id).toBe('https://github.com/repro-gate/repro-gate');
    for (const entry of ['report.json', 'report.md', 'linear/rerun.log', 'linear/outputs/out/model.json', 'provenance.json', 'predicate.json', 'checksums.txt']) {
      expect(standin.artifacts[0]!.zip.includes(Buffer.from(entry)), entry).toBe(true);
    }
    expect(standin.artifacts[0]!.name).toMatch(/^repro-gate-evidence-reproduce-linear-[0-9a-f]{8}$/);
    expect(first.summary).toContain(`\`${standin.artifacts[0]!.name}\``);

    const second = await action(repo);
    expect(second.status).toBe(0);
    expect(prComments()).toHaveLength(1);
    expect(prComments()[0]!.id).toBe(comment!.id);

    // A runner that starts empty restores the venv the first run saved to the cache service.
    await rm(cacheRoot, { recursive: true, force: true });
    const restored = await action(repo);
    const report = ReportSchema.parse(JSON.parse(readFileSync(restored.outputs['report-json']!, 'utf8')));
    expect(report.records[0]?.environment?.venv?.source).toBe('remote-cache');
    expect(restored.outputs.verdict).toBe('reproduced');
  });

  it('finds its sticky comment behind 105 older comments and updates it instead of duplicating', async () => {
    const repo = await newRepo();
    const older = Array.from({ length: 105 }, (_, i) => ({ body: `comment ${i}`, login: i % 2 ? 'octocat' : standin.botLogin }));
    standin.seedComments(OWNER, REPO, prNumber, older);
    expect((await action(repo)).status).toBe(0);
    const sticky = prComments().at(-1)!;
    expect(sticky.body).toMatch(/<!-- repro-gate:sticky/);
    // Someone else quoting our marker must not be mistaken for ours.
    standin.seedComments(OWNER, REPO, prNumber, [
      { body: sticky.body, login: 'mallory' },
      // Another bot whose comment carries the marker further in (a quote, a log line) is not ours either.
      { body: `> quoted\n${sticky.body}`, login: 'renovate[bot]' },
    ]);
    const requestsBefore = standin.requests.length;
    const rerun = await action(repo);
    expect(rerun.status).toBe(0);
    const ours = prComments().filter((comment) => comment.body.includes('<!-- repro-gate:sticky') && comment.user.login === standin.botLogin);
    expect(ours).toHaveLength(1);
    expect(ours[0]!.id).toBe(sticky.id);
    expect(prComments()).toHaveLength(108);
    expect(prComments().find((comment) => comment.user.login === 'renovate[bot]')?.body.startsWith('> quoted')).toBe(true);
    expect(standin.requests.slice(requestsBefore).some((request) => request.method === 'GET' && /page=2/.test(request.path))).toBe(true);
  });

  it('fails the step on drift, shows it in the comment and annotates the record line', async () => {
    const repo = await newRepo();
    await repo.write('requirements.txt', 'numpy==2.3.5\n');
    const run = await action(repo);
    expect(run.status).toBe(1);
    expect(run.outputs.verdict).toBe('drift');
    expect(run.outputs.drifted).toBe('["linear"]');
    expect(prComments()[0]!.body).toMatch(/drift/i);
    expect(prComments()[0]!.body).toMatch(/numpy/);
    expect(run.stdout).toMatch(/::error title=[^\n]*artifact drift,file=run\.yaml,line=\d+::/);
  });

  it('downgrades a 403 on commenting to a warning and lets the verdict decide', async () => {
    const repo = await newRepo();
    standin.failNext({ method: 'POST', path: /\/issues\/\d+\/comments$/, status: 403, body: { message: 'Resource not accessible by integration' } });
    const run = await action(repo);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/::warning::.*pull-requests: write/);
    expect(prComments()).toHaveLength(0);
  });

  it('retries a 5xx once and still comments', async () => {
    const repo = await newRepo();
    standin.failNext({ method: 'GET', path: /\/issues\/\d+\/comments/, status: 502, times: 1 });
    const run = await action(repo);
    expect(run.status).toBe(0);
    expect(prComments()).toHaveLength(1);
    expect(standin.requests.filter((request) => request.status === 502)).toHaveLength(1);
  });

  it('waits out a rate limit and retries', async () => {
    const repo = await newRepo();
    const reset = String(Math.ceil(Date.now() / 1000) + 1);
    standin.failNext({
      method: 'GET',
      path: /\/issues\/\d+\/comments/,
      status: 403,
      body: { message: 'API rate limit exceeded for installation.', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api' },
      headers: { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset, 'x-ratelimit-resource': 'core' },
    });
    const run = await action(repo);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/::warning::GitHub rate limit hit on GET/);
    expect(prComments()).toHaveLength(1);
  });

  it('with comment: on-drift, stays silent while reproduced, comments on drift, and turns that comment green once fixed', async () => {
    const repo = await newRepo();
    const onDrift = { inputs: { comment: 'on-drift' } };
    expect((await action(repo, onDrift)).status).toBe(0);
    expect(prComments()).toHaveLength(0);

    const pinned = await repo.read('requirements.txt');
    await repo.write('requirements.txt', 'numpy==2.3.5\n');
    expect((await action(repo, onDrift)).status).toBe(1);
    expect(prComments()).toHaveLength(1);
    expect(prComments()[0]!.body).toMatch(/❌ repro-gate: drift/);

    await repo.write('requirements.txt', pinned);
    const fixed = await action(repo, onDrift);
    expect(fixed.status).toBe(0);
    expect(prComments()).toHaveLength(1);
    expect(prComments()[0]!.body).toMatch(/✅ repro-gate: reproduced/);
    expect(fixed.outputs['comment-url']).toBe(prComments()[0]!.html_url);
  });

  it('never hands a token to the pull request\'s code: not in the interpreter probe, pip or the rerun, nor in any ancestor\'s environment block', async () => {
    const repo = await newRepo();
    const probe = path.join(await mkdtemp(path.join(tmpdir(), 'repro-gate-probe-')), 'seen.txt');
    // The rerun's environment is an allowlist: the record passes the probe's path on explicitly.
    await editRecord(repo, (record) => {
      record.environment.variables = { ...record.environment.variables, REPRO_PROBE: probe };
    });
    // A json.py that shadows the standard library logs the environment it runs in, and the environment block of
    // every ancestor process (/proc/<pid>/environ, readable by the same user), then hands over the real json.
    await repo.write(
      'json.py',
      [
        'import os, sys',
        'seen = open(os.environ["REPRO_PROBE"], "a")',
        'seen.write(repr(sorted(os.environ.items())) + "\\n")',
        'pid = os.getppid()',
        'while pid > 1:',
        '    try:',
        '        seen.write(open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace") + "\\n")',
        '        status = open(f"/proc/{pid}/status").read()',
        '    except OSError:',
        '        break',
        '    pid = int(status.split("PPid:")[1].split()[0])',
        'seen.close()',
        'here = os.path.dirname(os.path.abspath(__file__))',
        'sys.path = [p for p in sys.path if os.path.abspath(p or ".") != here]',
        'del sys.modules[__name__]',
        'import json as real_json',
        'sys.modules[__name__] = real_json',
        '',
      ].join('\n'),
    );
    const run = await action(repo, { env: { REPRO_PROBE: probe } });
    expect(run.outputs.verdict).toBe('reproduced');
    const seen = readFileSync(probe, 'utf8');
    // The rerun imported it (so the probe works), it read the action's own environment block (the runner's
    // GITHUB_EVENT_PATH is there), and nothing it saw holds a secret.
    expect(seen).toContain('REPRO_SEED_NUMPY');
    expect(seen).toMatch(/GITHUB_EVENT_PATH=/);
    expect(seen).not.toContain(standin.token);
    expect(seen).not.toContain(standin.runtimeToken);
    expect(seen).not.toMatch(/INPUT_/);
  });

  it('keeps an oversized report within the comment limit and says where the full report is', async () => {
    const repo = await newRepo();
    const metrics = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`layer_${i}.weight_norm`, i / 7]));
    await repo.write('train.py', `${await repo.read('train.py')}\nimport json as _j\n_j.dump(${JSON.stringify(metrics)}, open("out/metrics.json", "w"))\n`);
    await editRecord(repo, (record) => {
      record.metrics.values = Object.fromEntries(Object.keys(metrics).map((name) => [name, 1]));
    });
    const run = await action(repo);
    expect(run.status).toBe(1);
    const body = prComments()[0]!.body;
    expect(body.length).toBeLessThanOrEqual(COMMENT_MAX_CHARS);
    expect(body).toMatch(/drift/i);
    expect(body).toMatch(/job summary/);
  });

  it('skips cache and evidence with warnings when the runtime services are missing, with the same verdict', async () => {
    await startWithEmptyCache();
    const repo = await newRepo();
    const run = await action(repo, { env: { ACTIONS_RUNTIME_TOKEN: '', ACTIONS_RESULTS_URL: '' } });
    expect(run.status).toBe(0);
    expect(run.outputs.verdict).toBe('reproduced');
    expect(run.stdout).toMatch(/::warning::.*cache/i);
    expect(run.stdout).toMatch(/::warning::.*artifact/i);
    expect(standin.caches.size).toBe(0);
    expect(standin.artifacts).toHaveLength(0);
  });

  it('writes only the job summary for events that are not pull requests', async () => {
    const repo = await newRepo();
    const push = await webhookExample('push', () => true);
    const run = await action(repo, { eventName: 'push', payload: push });
    expect(run.status).toBe(0);
    expect(run.summary).toMatch(/linear/);
    expect(standin.requests.filter((request) => request.path.includes('/comments'))).toHaveLength(0);
  });

  it('fails with a message naming the input for a bad input value', async () => {
    const repo = await newRepo();
    const run = await action(repo, { inputs: { 'fail-on': 'sometimes' } });
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/::error::input "fail-on" must be one of drift, error, never/);
  });

  it('keeps one sticky comment per job: a second job checking other records gets its own', async () => {
    const repo = await newRepo();
    expect((await action(repo)).status).toBe(0);
    expect((await action(repo, { env: { GITHUB_JOB: 'reproduce-nightly' } })).status).toBe(0);
    expect((await action(repo)).status).toBe(0);
    const markers = prComments().map((comment) => /<!-- repro-gate:sticky:[0-9a-f]+ -->/.exec(comment.body)?.[0]);
    expect(markers).toHaveLength(2);
    expect(new Set(markers).size).toBe(2);
  });
});

describe('the action in discover mode (the reusable workflow\'s matrix)', () => {
  it('lists each record with its name and Python version', async () => {
    const repo = await newRepo();
    await mkdir(path.join(repo.root, 'other'));
    await repo.write('other/run.yaml', await repo.read('run.yaml'));
    const run = await action(repo, { inputs: { mode: 'discover', records: '**/run.yaml' } });
    expect(run.status).toBe(0);
    expect(JSON.parse(run.outputs.matrix!)).toEqual({
      include: [
        { record: 'other/run.yaml', name: 'linear', python: '3.11' },
        { record: 'run.yaml', name: 'linear', python: '3.11' },
      ],
    });
  });

  it('takes an existing path literally, even with glob characters in it', async () => {
    const repo = await newRepo();
    await mkdir(path.join(repo.root, 'exp[1]'));
    await repo.write('exp[1]/run.yaml', await repo.read('run.yaml'));
    const run = await action(repo, { inputs: { mode: 'discover', records: 'exp[1]/run.yaml' } });
    expect(run.status).toBe(0);
    expect(JSON.parse(run.outputs.matrix!).include.map((entry: { record: string }) => entry.record)).toEqual(['exp[1]/run.yaml']);
  });

  it('fails clearly when no record matches', async () => {
    const repo = await newRepo();
    const run = await action(repo, { inputs: { mode: 'discover', records: 'models/**/run.yaml' } });
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/::error::input "records" matched no run record \(models\/\*\*\/run\.yaml\)/);
  });
});

describe('the action in comment mode (fork-safe flow)', () => {
  async function reportsFolder(reports: unknown[]): Promise<string> {
    const folder = await mkdtemp(path.join(tmpdir(), 'repro-gate-reports-'));
    await Promise.all(reports.map((report, i) => writeFile(path.join(folder, `report-${i}.json`), JSON.stringify(report))));
    return folder;
  }

  it('merges three records\' reports into one comment and verdict, and turns a missing report into an error', async () => {
    const repo = await newRepo();
    const verified = await action(repo, { inputs: { comment: 'never', 'upload-evidence': 'false' } });
    const base = ReportSchema.parse(JSON.parse(readFileSync(verified.outputs['report-json']!, 'utf8')));
    const record = base.records[0]!;
    const variant = (name: string, verdict: typeof record.verdict, status: (typeof record.metrics)[number]['status']) => ({
      ...base,
      verdict,
      records: [{ ...record, name, recordPath: `models/${name}/run.yaml`, verdict, metrics: record.metrics.map((metric) => ({ ...metric, status })) }],
    });
    const folder = await reportsFolder([variant('alpha', 'reproduced', 'equal'), variant('beta', 'within-tolerance', 'within'), variant('gamma', 'drift', 'beyond')]);

    const merged = await action(repo, { inputs: { mode: 'comment', reports: folder } });
    expect(merged.status).toBe(1);
    expect(merged.outputs.verdict).toBe('drift');
    expect(merged.outputs.drifted).toBe('["gamma"]');
    expect(prComments()).toHaveLength(1);
    const body = prComments()[0]!.body;
    expect(body).toContain('3 records: 1 reproduced, 1 within tolerance, 1 drift');
    expect(body.indexOf('alpha')).toBeLessThan(body.indexOf('beta'));
    expect(body.indexOf('beta')).toBeLessThan(body.indexOf('gamma'));

    const expectRecords = ['models/alpha/run.yaml', 'models/beta/run.yaml', 'models/gamma/run.yaml', 'models/delta/run.yaml'].join('\n');
    const gap = await action(repo, { inputs: { mode: 'comment', reports: folder, 'expect-records': expectRecords, 'fail-on': 'error' } });
    expect(gap.status).toBe(1);
    expect(gap.outputs.verdict).toBe('error');
    expect(prComments()).toHaveLength(1);
    expect(prComments()[0]!.body).toMatch(/models\/delta\/run\.yaml[\s\S]*no report arrived/);
  });

  it('comments on the PR named by the trusted workflow_run event, never on one a tampered report claims', async () => {
    const repo = await newRepo();
    const verified = await action(repo, { inputs: { comment: 'never', 'upload-evidence': 'false' } });
    const report = JSON.parse(readFileSync(verified.outputs['report-json']!, 'utf8'));
    const headSha = 'c0ffee0000000000000000000000000000000001';
    // The example run's head is another repository (octo-org/octo-repo): a fork, as in the fork-safe flow.
    const workflowRun = await webhookExample('workflow_run', (example) => example.action === 'completed');
    const { head_branch: headBranch, head_repository: headRepository } = workflowRun.workflow_run;
    standin.seedPullRequest(OWNER, REPO, { number: prNumber, headSha, headOwner: headRepository.owner.login, headBranch, fromFork: true });
    workflowRun.workflow_run.event = 'pull_request';
    workflowRun.workflow_run.head_sha = headSha;
    // A fork's pull request is not listed in the event: the action must look it up by head commit.
    workflowRun.workflow_run.pull_requests = [];

    const tampered = { ...report, pull_request: 999, records: report.records.map((record: any) => ({ ...record, name: '@octocat [pwn](https://evil.example)' })) };
    const rejected = await action(repo, { eventName: 'workflow_run', payload: workflowRun, inputs: { mode: 'comment', reports: await reportsFolder([tampered]) } });
    expect(rejected.status).toBe(1);
    expect(rejected.stdout).toMatch(/rejected/);
    expect(standin.comments(OWNER, REPO, 999)).toHaveLength(0);

    const hostile = { ...report, records: report.records.map((record: any) => ({ ...record, name: '@octocat [pwn](https://evil.example)' })) };
    // A failed PR lookup (after its retries) is a warning; the verdict still decides.
    standin.failNext({ method: 'GET', path: /\/commits\/[0-9a-f]+\/pulls/, status: 409, times: 4, body: { message: 'Git Repository is empty.', documentation_url: 'https://docs.github.com/rest' } });
    const lookupFailed = await action(repo, { eventName: 'workflow_run', payload: workflowRun, inputs: { mode: 'comment', reports: await reportsFolder([report]) } });
    expect(lookupFailed.status).toBe(0);
    expect(lookupFailed.stdout).toMatch(/::warning::No PR comment: could not find the pull request of this workflow_run event/);
    expect(prComments()).toHaveLength(0);

    const run = await action(repo, { eventName: 'workflow_run', payload: workflowRun, inputs: { mode: 'comment', reports: await reportsFolder([hostile]) } });
    expect(run.status).toBe(0);
    expect(standin.comments(OWNER, REPO, 999)).toHaveLength(0);
    const [comment] = prComments();
    expect(comment!.body).not.toMatch(/@octocat/);
    expect(comment!.body).not.toMatch(/\[pwn\]\(https:\/\/evil/);
  });
});
