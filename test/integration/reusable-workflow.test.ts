import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createRecordedRepo, type FixtureRepo, git, PROJECT_ROOT } from '../support/fixture-repo.js';
import { webhookExample } from '../support/run-action.js';
import { actionServiceEnv, type Standin, startStandin } from '../support/standin/index.js';
import { type Job, type JobResult, runJob } from '../support/workflow-runner/index.js';

// The workflow files themselves, run job by job with the bundled action in every repro-gate step, against the
// GitHub stand-in: what each job passes to the next (matrix, artifacts, outputs) is exercised, not just linted.

const OWNER = 'Codertocat';
const REPO = 'Hello-World';

let standin: Standin;
let cacheRoot: string;

beforeAll(async () => {
  cacheRoot = await mkdtemp(path.join(tmpdir(), 'repro-gate-workflow-cache-'));
});

beforeEach(async () => {
  standin = await startStandin();
});

afterEach(async () => {
  expect(standin.validationErrors).toEqual([]);
  await standin.close();
});

const workflowFile = async (file: string) => parse(await readFile(path.join(PROJECT_ROOT, file), 'utf8')) as { jobs: Record<string, Job> };

const serviceEnv = () => actionServiceEnv(standin, cacheRoot);

/** A second record beside the fixture's, reusing its training from a subfolder, with a recorded loss that no rerun gives. */
async function addDriftingRecord(repo: FixtureRepo): Promise<void> {
  const record = parse(await repo.read('run.yaml'));
  const up = (entry: { path: string }) => ({ ...entry, path: `../../${entry.path}` });
  const copy = {
    ...record,
    name: 'linear-drifted',
    workdir: '../..',
    environment: { ...record.environment, requirements: `../../${record.environment.requirements}` },
    config: record.config.map(up),
    data: record.data.map((entry: { path: string; manifest?: string }) => ({ ...up(entry), manifest: `../../${entry.manifest}` })),
    artifacts: record.artifacts.map(up),
    metrics: { ...record.metrics, path: `../../${record.metrics.path}`, values: { ...record.metrics.values, loss: record.metrics.values.loss * 2 } },
  };
  await mkdir(path.join(repo.root, 'models', 'drifted'), { recursive: true });
  await writeFile(path.join(repo.root, 'models', 'drifted', 'run.yaml'), stringify(copy));
  git(repo.root, 'add', '.');
  git(repo.root, 'commit', '-qm', 'a second record');
}

/** What actions/checkout leaves: a clone of the repository, at `path` inside the workspace. */
async function checkout(repo: FixtureRepo, subfolder = '.'): Promise<string> {
  const workspace = await mkdtemp(path.join(tmpdir(), 'repro-gate-workspace-'));
  execFileSync('git', ['clone', '-q', repo.root, path.join(workspace, subfolder)]);
  return workspace;
}

describe('.github/workflows/reproduce.yml, run job by job', () => {
  it('discovers both records, reproduces each in its own job, and merges them into one comment that fails on drift', async () => {
    const repo = await createRecordedRepo({ cacheRoot });
    await addDriftingRecord(repo);
    const workflow = await workflowFile('.github/workflows/reproduce.yml');
    const pullRequest = await webhookExample('pull_request', (example) => example.action === 'opened');
    // The action compares the records with the PR's base, which must be in the clone.
    pullRequest.pull_request.base.sha = git(repo.root, 'rev-parse', 'HEAD').trim();
    const artifacts = new Map<string, string>();
    const inputs = { records: '**/run.yaml', 'runs-on': '"ubuntu-latest"', 'python-version': '', 'fail-on': 'drift', comment: 'always', cache: true, 'timeout-minutes': 60 };
    const base = { context: {}, artifacts, eventName: 'pull_request', payload: pullRequest, env: serviceEnv() };
    const common = { inputs, job: { workflow_repository: 'repro-gate/repro-gate', workflow_sha: 'f00d' }, github: { event: pullRequest, token: standin.token } };

    const discover = await runJob(workflow.jobs.discover!, { ...base, jobId: 'discover', workspace: await checkout(repo, 'repo'), context: common });
    expect(discover.failed).toBe(false);
    const matrix = JSON.parse(discover.outputs.matrix!) as { include: Array<Record<string, string>> };
    expect(matrix.include.map((entry) => entry.record)).toEqual(['models/drifted/run.yaml', 'run.yaml']);
    expect(discover.outputs.records).toBe('models/drifted/run.yaml\nrun.yaml');
    const key = discover.outputs.key!;
    expect(key).toMatch(/^[0-9a-f]{8}$/);

    const legs: JobResult[] = [];
    for (const [index, entry] of matrix.include.entries()) {
      const context = { ...common, matrix: entry, strategy: { 'job-index': index }, needs: { discover: { outputs: discover.outputs } } };
      legs.push(await runJob(workflow.jobs.reproduce!, { ...base, jobId: 'reproduce', workspace: await checkout(repo, 'repo'), context }));
    }
    // fail-on: never in the legs: a drifting record shows in the report job, not as a crashed leg.
    expect(legs.map((leg) => [leg.failed, leg.actionRuns[0]?.outputs.verdict])).toEqual([
      [false, 'drift'],
      [false, 'reproduced'],
    ]);
    expect([...artifacts.keys()].sort()).toEqual([`repro-gate-${key}-report-0`, `repro-gate-${key}-report-1`]);
    expect(standin.comments(OWNER, REPO, pullRequest.number)).toHaveLength(0);

    const needs = { discover: { outputs: discover.outputs, result: 'success' }, reproduce: { result: 'success' } };
    const report = await runJob(workflow.jobs.report!, { ...base, jobId: 'report', workspace: await mkdtemp(path.join(tmpdir(), 'repro-gate-workspace-')), context: { ...common, needs } });
    expect(report.failed).toBe(true);
    expect(report.outputs).toEqual({ verdict: 'drift', drifted: '["linear-drifted"]' });
    const comments = standin.comments(OWNER, REPO, pullRequest.number);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toContain('2 records: 1 reproduced, 1 drift');
    expect(comments[0]!.body).toMatch(/### ❌ linear-drifted: drift/);
    expect(comments[0]!.body).toMatch(/### ✅ linear: reproduced/);
    expect(JSON.parse(await readFile(path.join(artifacts.get(`repro-gate-report-${key}`)!, 'report.json'), 'utf8')).verdict).toBe('drift');

    // A leg that died before uploading its report turns the combined verdict into an error, not a pass.
    artifacts.delete(`repro-gate-${key}-report-0`);
    const partial = await runJob(workflow.jobs.report!, { ...base, jobId: 'report', workspace: await mkdtemp(path.join(tmpdir(), 'repro-gate-workspace-')), context: { ...common, needs } });
    expect(partial.outputs.verdict).toBe('error');
    expect(standin.comments(OWNER, REPO, pullRequest.number)).toHaveLength(1);
    expect(standin.comments(OWNER, REPO, pullRequest.number)[0]!.body).toContain('no report arrived for this record');
  });
});

describe('.github/workflows/reproduce.yml when no record matches', () => {
  it('fails discover and the report job, so the required check cannot pass by being skipped', async () => {
    const repo = await createRecordedRepo({ cacheRoot });
    const workflow = await workflowFile('.github/workflows/reproduce.yml');
    const pullRequest = await webhookExample('pull_request', (example) => example.action === 'opened');
    const common = { inputs: { records: 'models/**/run.yaml' }, job: {}, github: { event: pullRequest, token: standin.token } };
    const base = { artifacts: new Map<string, string>(), eventName: 'pull_request', payload: pullRequest, env: serviceEnv() };
    const discover = await runJob(workflow.jobs.discover!, { ...base, jobId: 'discover', workspace: await checkout(repo, 'repo'), context: common });
    expect(discover.failed).toBe(true);
    expect(discover.actionRuns[0]?.stdout).toMatch(/::error::input "records" matched no run record/);
    const needs = { discover: { outputs: discover.outputs, result: 'failure' }, reproduce: { result: 'skipped' } };
    const report = await runJob(workflow.jobs.report!, { ...base, jobId: 'report', workspace: await mkdtemp(path.join(tmpdir(), 'repro-gate-workspace-')), context: { ...common, needs } });
    expect(report.ran).toBe(true);
    expect(report.failed).toBe(true);
    expect(report.actionRuns).toHaveLength(0);
  });
});

describe('docs/workflows/fork-safe-*.yml, run as the two workflows of a fork PR', () => {
  it('checks with a read-only flow, then comments from workflow_run on the PR the event names, whatever the artifact claims', async () => {
    const repo = await createRecordedRepo({ cacheRoot });
    const check = await workflowFile('docs/workflows/fork-safe-check.yml');
    const comment = await workflowFile('docs/workflows/fork-safe-comment.yml');
    const pullRequest = await webhookExample('pull_request', (example) => example.action === 'opened');
    // The action compares the records with the PR's base, which must be in the clone.
    pullRequest.pull_request.base.sha = git(repo.root, 'rev-parse', 'HEAD').trim();
    const artifacts = new Map<string, string>();

    const checked = await runJob(check.jobs.reproduce!, {
      context: { github: { event: pullRequest, token: standin.token } },
      artifacts,
      eventName: 'pull_request',
      payload: pullRequest,
      env: serviceEnv(),
      jobId: 'reproduce',
      workspace: await checkout(repo),
    });
    expect(checked.failed).toBe(false);
    expect(standin.requests.filter((request) => request.path.includes('/comments'))).toHaveLength(0);

    // The fork's code wrote the report: it renames its record to ping people and link out.
    const reportFile = path.join(artifacts.get('repro-gate-report')!, 'report.json');
    const report = JSON.parse(await readFile(reportFile, 'utf8'));
    report.records[0].name = '@octocat see [this](https://evil.example)';
    await writeFile(reportFile, JSON.stringify(report));

    const headSha = pullRequest.pull_request.head.sha as string;
    // The example run's head is another repository (octo-org/octo-repo): a fork.
    const workflowRun = await webhookExample('workflow_run', (example) => example.action === 'completed');
    Object.assign(workflowRun.workflow_run, { event: 'pull_request', conclusion: 'success', head_sha: headSha, pull_requests: [] });
    const { head_branch: headBranch, head_repository: headRepository } = workflowRun.workflow_run;
    standin.seedPullRequest(OWNER, REPO, { number: pullRequest.number, headSha, headOwner: headRepository.owner.login, headBranch, fromFork: true });
    const runCommentJob = async (payload: Record<string, any>) =>
      runJob(comment.jobs.comment!, {
        context: { github: { event: payload, token: standin.token } },
        artifacts,
        eventName: 'workflow_run',
        payload,
        env: serviceEnv(),
        jobId: 'comment',
        workspace: await mkdtemp(path.join(tmpdir(), 'repro-gate-workspace-')),
      });
    const commented = await runCommentJob(workflowRun);
    expect(commented.ran).toBe(true);
    expect(commented.failed).toBe(false);
    const comments = standin.comments(OWNER, REPO, pullRequest.number);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toMatch(/✅ repro-gate: reproduced/);
    expect(comments[0]!.body).not.toMatch(/@octocat/);
    expect(comments[0]!.body).not.toContain('](https://evil');

    // A workflow_run of a push (not a PR) never comments.
    Object.assign(workflowRun.workflow_run, { event: 'push' });
    const skipped = await runCommentJob(workflowRun);
    expect(skipped.ran).toBe(false);
  });
});
