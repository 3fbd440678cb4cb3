import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createRecordedRepo, type FixtureRepo, git, PROJECT_ROOT, recordingCacheRoot, runCli } from '../support/fixture-repo.js';
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
  // The recordings' venv cache: these tests are about what the jobs pass each other, not about building venvs.
  cacheRoot = await recordingCacheRoot();
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

/** The fixture's record as a record in models/<folder>/, running the same training from the repository root. */
async function recordInSubfolder(repo: FixtureRepo, folder: string): Promise<Record<string, any>> {
  const record = parse(await repo.read('run.yaml'));
  const up = (entry: { path: string }) => ({ ...entry, path: `../../${entry.path}` });
  await mkdir(path.join(repo.root, 'models', folder), { recursive: true });
  return {
    ...record,
    workdir: '../..',
    environment: { ...record.environment, requirements: `../../${record.environment.requirements}` },
    config: record.config.map(up),
    data: record.data.map((entry: { path: string; manifest?: string }) => ({ ...up(entry), manifest: `../../${entry.manifest}` })),
    artifacts: record.artifacts.map(up),
    metrics: { ...record.metrics, path: `../../${record.metrics.path}` },
  };
}

/** A second record beside the fixture's, reusing its training from a subfolder, with a recorded loss that no rerun gives. */
async function addDriftingRecord(repo: FixtureRepo): Promise<void> {
  const copy = await recordInSubfolder(repo, 'drifted');
  copy.name = 'linear-drifted';
  copy.metrics.values = { ...copy.metrics.values, loss: copy.metrics.values.loss * 2 };
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

/**
 * A second record, models/other/run.yaml: the fixture's training on its own copy of the config, so a change to that
 * copy affects it alone. Both records' code.commit then already hold every file of the repository (a file added since
 * a record's commit makes it affected): the copy's is set to the commit that adds it, and the fixture's record is
 * recorded again. Returns the commit that holds both: the pull requests' base.
 */
async function addRecordWithItsOwnConfig(repo: FixtureRepo): Promise<string> {
  const copy = await recordInSubfolder(repo, 'other');
  copy.name = 'linear-other';
  copy.command = copy.command.replace('config.json', 'models/other/config.json');
  copy.config = [{ ...copy.config[0], path: 'config.json' }];
  await writeFile(path.join(repo.root, 'models', 'other', 'config.json'), await repo.read('config.json'));
  await writeFile(path.join(repo.root, 'models', 'other', 'run.yaml'), stringify(copy));
  await repo.write('README.md', 'two linear models\n');
  git(repo.root, 'add', '.');
  git(repo.root, 'commit', '-qm', 'a second record with its own config');
  copy.code = { ...copy.code, commit: git(repo.root, 'rev-parse', 'HEAD').trim() };
  await writeFile(path.join(repo.root, 'models', 'other', 'run.yaml'), stringify(copy));
  git(repo.root, 'commit', '-qam', 'its commit');
  const updated = await runCli(['record', '--update', 'run.yaml'], { cwd: repo.root, env: repo.env });
  expect(updated.status, updated.stderr).toBe(0);
  git(repo.root, 'commit', '-qam', 're-record');
  return git(repo.root, 'rev-parse', 'HEAD').trim();
}

describe('.github/workflows/reproduce.yml with rerun: affected', () => {
  it('gives only the affected record a leg, shows the other as unaffected, and skips the reproduce job when none is affected', async () => {
    const repo = await createRecordedRepo({ cacheRoot });
    const baseSha = await addRecordWithItsOwnConfig(repo);
    const workflow = await workflowFile('.github/workflows/reproduce.yml');
    const inputs = { records: '**/run.yaml', 'runs-on': '"ubuntu-latest"', 'python-version': '', 'fail-on': 'drift', comment: 'always', cache: true, runs: 1, rerun: 'affected', 'timeout-minutes': 60 };

    /** The whole workflow on a pull request whose head is the repository's HEAD: discover, the legs it asks for, report. */
    async function runWorkflow() {
      const pullRequest = await webhookExample('pull_request', (example) => example.action === 'opened');
      pullRequest.pull_request.base.sha = baseSha;
      const artifacts = new Map<string, string>();
      const base = { context: {}, artifacts, eventName: 'pull_request', payload: pullRequest, env: serviceEnv() };
      const common = { inputs, job: { workflow_repository: 'repro-gate/repro-gate', workflow_sha: 'f00d' }, github: { event: pullRequest, token: standin.token } };
      const discover = await runJob(workflow.jobs.discover!, { ...base, jobId: 'discover', workspace: await checkout(repo, 'repo'), context: common });
      expect(discover.failed).toBe(false);
      const matrix = JSON.parse(discover.outputs.matrix!) as { include: Array<Record<string, string>> };
      const legs: JobResult[] = [];
      for (const [index, entry] of matrix.include.entries()) {
        const context = { ...common, matrix: entry, strategy: { 'job-index': index }, needs: { discover: { outputs: discover.outputs } } };
        legs.push(await runJob(workflow.jobs.reproduce!, { ...base, jobId: 'reproduce', workspace: await checkout(repo, 'repo'), context }));
      }
      // The reproduce job as GitHub decides it: its `if` reads discover's outputs.
      const reproduceRan = (await runJob({ if: workflow.jobs.reproduce!.if }, { ...base, jobId: 'reproduce', workspace: await checkout(repo, 'repo'), context: { ...common, needs: { discover: { outputs: discover.outputs } } } })).ran;
      const needs = { discover: { outputs: discover.outputs, result: 'success' }, reproduce: { result: reproduceRan ? 'success' : 'skipped' } };
      const report = await runJob(workflow.jobs.report!, { ...base, jobId: 'report', workspace: await mkdtemp(path.join(tmpdir(), 'repro-gate-workspace-')), context: { ...common, needs } });
      const comments = standin.comments(OWNER, REPO, pullRequest.number);
      return { discover, matrix, legs, reproduceRan, report, comment: comments.at(-1)?.body ?? '', key: discover.outputs.key!, artifacts };
    }

    // A pull request that changes nothing either training reads: no leg, the reproduce job skipped, a passing check.
    await repo.write('README.md', 'two linear models, documented\n');
    git(repo.root, 'commit', '-qam', 'docs only');
    const untouched = await runWorkflow();
    expect(untouched.matrix.include).toEqual([]);
    expect(untouched.discover.outputs.reruns).toBe('0');
    expect(untouched.discover.outputs.records).toBe('models/other/run.yaml\nrun.yaml');
    expect(untouched.reproduceRan).toBe(false);
    expect([...untouched.artifacts.keys()]).toContain(`repro-gate-${untouched.key}-report-unaffected`);
    expect(untouched.report.failed).toBe(false);
    expect(untouched.report.outputs.verdict).toBe('unaffected');
    expect(untouched.comment).toMatch(/2 records not rerun: none of their inputs changed/);

    // A pull request that changes the second record's own config: that record alone is rerun.
    await repo.write('models/other/config.json', `${(await repo.read('models/other/config.json')).trim()}\n\n`);
    git(repo.root, 'commit', '-qam', 'reformat the second config');
    const one = await runWorkflow();
    expect(one.matrix.include.map((entry) => entry.record)).toEqual(['models/other/run.yaml']);
    expect(one.discover.outputs.reruns).toBe('1');
    expect(one.reproduceRan).toBe(true);
    expect(one.legs).toHaveLength(1);
    const leg = one.legs[0]!.actionRuns[0]!;
    expect(leg.outputs.verdict).not.toBe('unaffected');
    expect([...one.artifacts.keys()].sort()).toEqual([`repro-gate-${one.key}-report-0`, `repro-gate-${one.key}-report-unaffected`, `repro-gate-report-${one.key}`]);
    expect(one.report.outputs.verdict).toBe(leg.outputs.verdict);
    expect(one.comment).toMatch(/### .* linear-other: /);
    expect(one.comment).toMatch(/1 record not rerun: none of its inputs changed since it was recorded/);
    expect(one.comment).toMatch(/linear \(\d+ inputs?\)/);
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

describe('docs/workflows/audit.yml, run on a schedule', () => {
  it('opens one issue when a record drifts at its recorded commit, updates it, warns without issues: write, and closes it once green in a rebuilt venv', async () => {
    const repo = await createRecordedRepo({ cacheRoot });
    const audit = await workflowFile('docs/workflows/audit.yml');
    // Someone else's issue carrying our marker's prefix, and a pull request (the issue list holds both): neither is ours.
    standin.seedIssues(OWNER, REPO, [
      { title: 'quoting the audit', login: 'octocat', body: '<!-- repro-gate:audit:0000 -->\nnot ours' },
      { title: 'a pull request', login: 'octocat', pullRequest: true },
    ]);
    const seeded = standin.issues(OWNER, REPO).length;
    const payload = { schedule: '17 4 * * 1' };
    const runAudit = async () =>
      runJob(audit.jobs.audit!, {
        context: { github: { event: payload, token: standin.token } },
        artifacts: new Map(),
        eventName: 'schedule',
        payload,
        env: serviceEnv(),
        jobId: 'audit',
        workspace: await checkout(repo),
      });
    const ours = () => standin.issues(OWNER, REPO).slice(seeded);
    const reportOf = async (job: JobResult) => JSON.parse(await readFile(job.actionRuns[0]!.outputs['report-json']!, 'utf8'));

    const data = await repo.read('data/points.csv');
    await repo.write('data/points.csv', `${data.trimEnd()}\n9.9,9.9\n`);
    git(repo.root, 'commit', '-qam', 'the data changed under the same name');
    const first = await runAudit();
    expect(first.failed).toBe(true);
    expect(first.actionRuns[0]!.outputs.verdict).toBe('drift');
    expect(ours()).toHaveLength(1);
    const [issue] = ours();
    expect(issue).toMatchObject({ state: 'open', title: 'repro-gate audit: records no longer reproduce at their recorded commits', user: expect.objectContaining({ login: 'github-actions[bot]' }) });
    expect(issue!.body).toMatch(/^<!-- repro-gate:audit:[0-9a-f]{16} -->\n/);
    expect(issue!.body).toContain('data/points.csv');
    expect(first.actionRuns[0]!.outputs['issue-url']).toBe(issue!.html_url);

    const second = await runAudit();
    expect(second.failed).toBe(true);
    expect(ours()).toHaveLength(1);
    expect(standin.requests.filter((request) => request.method === 'PATCH' && request.path.endsWith(`/issues/${issue!.number}`))).toHaveLength(1);

    standin.setTokenPermissions({ issues: 'read' });
    const refused = await runAudit();
    expect(refused.actionRuns[0]!.stdout).toMatch(/::warning::Could not write the audit issue \(HTTP 403: .*issues: write/);
    expect(refused.actionRuns[0]!.outputs.verdict).toBe('drift');
    standin.setTokenPermissions({});

    await repo.write('data/points.csv', data);
    git(repo.root, 'commit', '-qam', 'the data restored');
    const healed = await runAudit();
    expect(healed.failed).toBe(false);
    const report = await reportOf(healed);
    expect(report.records[0].code.ranAt).toBe(git(repo.root, 'rev-parse', parse(await repo.read('run.yaml')).code.commit).trim());
    // Rebuilt from scratch, although the venv is in the shared cache the action would otherwise restore from.
    expect(report.records[0].environment.venv.source).toBe('built');
    expect(ours()).toEqual([expect.objectContaining({ number: issue!.number, state: 'closed', state_reason: 'completed' })]);
    const closing = standin.comments(OWNER, REPO, issue!.number);
    expect(closing).toHaveLength(1);
    expect(closing[0]!.body).toMatch(/^Every record reproduces again at its recorded commit: closing\./);
    expect(standin.issues(OWNER, REPO).slice(0, seeded).map((seededIssue) => seededIssue.body)).toEqual(['<!-- repro-gate:audit:0000 -->\nnot ours', null]);
  });
});

describe('docs/workflows/attest.yml', () => {
  it('on a push to the default branch, signs the reproduced model with the statement repro-gate wrote; on a pull request, signs nothing', async () => {
    const repo = await createRecordedRepo({ cacheRoot });
    const workflow = await workflowFile('docs/workflows/attest.yml');
    const push = await webhookExample('push', () => true);
    Object.assign(push, { ref: 'refs/heads/main' });
    push.repository.default_branch = 'main';
    const artifacts = new Map<string, string>();
    const github = { event_name: 'push', ref: 'refs/heads/main', event: push, token: standin.token };
    const base = { artifacts, eventName: 'push', payload: push, env: serviceEnv() };

    const checked = await runJob(workflow.jobs.reproduce!, { ...base, context: { github }, jobId: 'reproduce', workspace: await checkout(repo) });
    expect(checked.failed).toBe(false);
    expect(checked.actionRuns[0]!.outputs.provenance).toMatch(/provenance\.json$/);
    const signed = await runJob(workflow.jobs.attest!, { ...base, context: { github }, jobId: 'attest', workspace: await mkdtemp(path.join(tmpdir(), 'repro-gate-workspace-')) });
    expect(signed.ran).toBe(true);
    expect(signed.failed).toBe(false);
    expect(signed.attestations).toHaveLength(1);
    const [attestation] = signed.attestations;
    const model = execFileSync('sha256sum', ['out/model.json'], { cwd: repo.root, encoding: 'utf8' }).split(' ')[0];
    expect(attestation!.checksums).toBe(`${model}  out/model.json\n`);
    expect(attestation!.inputs['predicate-type']).toBe('https://slsa.dev/verification_summary/v1');
    const predicate = JSON.parse(attestation!.predicate);
    expect(predicate).toMatchObject({ verificationResult: 'PASSED', policy: { uri: 'run.yaml' } });
    expect(predicate.resourceUri).toBe(`git+https://github.com/${push.repository.full_name}@${git(repo.root, 'rev-parse', 'HEAD').trim()}`);

    const pullRequest = await webhookExample('pull_request', (example) => example.action === 'opened');
    const onPullRequest = await runJob(workflow.jobs.attest!, {
      ...base,
      eventName: 'pull_request',
      payload: pullRequest,
      context: { github: { event_name: 'pull_request', ref: 'refs/pull/2/merge', event: pullRequest, token: standin.token } },
      jobId: 'attest',
      workspace: await mkdtemp(path.join(tmpdir(), 'repro-gate-workspace-')),
    });
    expect(onPullRequest.ran).toBe(false);
  });
});
