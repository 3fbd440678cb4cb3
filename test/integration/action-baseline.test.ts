import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { resolveBaselineFile } from '../../src/baseline/baseline-file.js';
import { createRecordedRepo, type FixtureRepo, git, recordingCacheRoot } from '../support/fixture-repo.js';
import { runAction, webhookExample } from '../support/run-action.js';
import { actionServiceEnv, type Standin, startStandin } from '../support/standin/index.js';

// `baseline: auto` in the bundled action: a pull request's run fetches the evidence that the base branch's latest
// successful run of the same workflow uploaded, through the REST API and blob storage of the GitHub stand-in.

const OWNER = 'Codertocat';
const REPO = 'Hello-World';
const WORKFLOW = 77;
const BASE_RUN = 1001;
const PR_RUN = 4242;

let pullRequestEvent: Record<string, any>;
let pushEvent: Record<string, any>;
let standin: Standin;
let cacheRoot: string;
let repo: FixtureRepo;

beforeAll(async () => {
  pullRequestEvent = await webhookExample('pull_request', (example) => example.action === 'opened');
  pushEvent = await webhookExample('push', () => true);
  cacheRoot = await recordingCacheRoot();
  repo = await createRecordedRepo({ cacheRoot });
  // The action compares the records with the PR's base, which must be in the clone.
  pullRequestEvent.pull_request.base.sha = git(repo.root, 'rev-parse', 'HEAD').trim();
});

beforeEach(async () => {
  standin = await startStandin();
});

afterEach(async () => {
  expect(standin.validationErrors).toEqual([]);
  await standin.close();
});

const baseBranch = () => pullRequestEvent.pull_request.base.ref as string;

function action(options: { eventName?: string; payload?: Record<string, any>; inputs?: Record<string, string>; runId?: number } = {}) {
  return runAction({
    cwd: repo.root,
    eventName: options.eventName ?? 'pull_request',
    payload: options.payload ?? pullRequestEvent,
    inputs: { 'github-token': standin.token, records: 'run.yaml', comment: 'never', ...options.inputs },
    env: { ...actionServiceEnv(standin, cacheRoot), GITHUB_RUN_ID: String(options.runId ?? PR_RUN) },
  });
}

/** The base branch's push run of the workflow, which verified and uploaded its evidence, and this pull request's run. */
async function seedBaseBranchRun(): Promise<void> {
  const base = await action({ eventName: 'push', payload: pushEvent, runId: BASE_RUN });
  expect(base.outputs.verdict).toBe('reproduced');
  expect(standin.artifacts.map((artifact) => artifact.name)).toEqual([expect.stringMatching(/^repro-gate-evidence-/)]);
  standin.seedWorkflowRun(OWNER, REPO, {
    id: BASE_RUN,
    workflowId: WORKFLOW,
    headBranch: baseBranch(),
    headSha: pullRequestEvent.pull_request.base.sha,
    event: 'push',
    status: 'completed',
    conclusion: 'success',
    artifacts: [...standin.artifacts],
  });
  standin.seedWorkflowRun(OWNER, REPO, { id: PR_RUN, workflowId: WORKFLOW, headBranch: 'changes', event: 'pull_request', status: 'in_progress', conclusion: null });
}

/** Calls to the Actions API, and artifact downloads from blob storage (evidence uploads are PUTs). */
const actionsRequests = (from: number) =>
  standin.requests.slice(from).filter((request) => request.path.includes('/actions/') || (request.method === 'GET' && request.path.startsWith('/blob/devstoreaccount1/artifacts/')));

describe('the bundled action with baseline: auto', () => {
  it("downloads the base branch's evidence on a pull request, where the recorded artifact is found by its sha256", async () => {
    await seedBaseBranchRun();
    const before = standin.requests.length;
    const run = await action();
    expect(run.status).toBe(0);
    expect(run.outputs.verdict).toBe('reproduced');
    expect(run.stdout).toContain(`::group::baseline from ${baseBranch()}`);
    expect(run.stdout).not.toMatch(/::warning::.*[Bb]aseline/);
    const [artifact] = standin.artifacts;
    expect(actionsRequests(before).map((request) => `${request.method} ${request.path.split('?')[0]} ${request.status}`)).toEqual([
      `GET /repos/${OWNER}/${REPO}/actions/runs/${PR_RUN} 200`,
      `GET /repos/${OWNER}/${REPO}/actions/workflows/${WORKFLOW}/runs 200`,
      `GET /repos/${OWNER}/${REPO}/actions/runs/${BASE_RUN}/artifacts 200`,
      `GET /repos/${OWNER}/${REPO}/actions/artifacts/${artifact!.id}/zip 302`,
      expect.stringMatching(/^GET \/blob\/\S+ 200$/),
    ]);

    const folder = /Baseline: 1 evidence artifact\(s\) of \S+ \(\S+\) in (\S+)/.exec(run.stdout)?.[1];
    expect(folder).toBeDefined();
    const recorded = parse(await repo.read('run.yaml')).artifacts[0] as { path: string; sha256: string };
    const found = await resolveBaselineFile(folder!, 'linear', recorded.path, recorded.sha256);
    expect(found).toContain(`/linear/outputs/${recorded.path}`);
    expect(await resolveBaselineFile(folder!, 'linear', recorded.path, '0'.repeat(64))).toBeNull();
  });

  it('warns that `actions: read` is missing when the token may not read Actions, and the verdict still decides', async () => {
    await seedBaseBranchRun();
    standin.setTokenPermissions({ actions: 'none' });
    const run = await action();
    expect(run.status).toBe(0);
    expect(run.outputs.verdict).toBe('reproduced');
    expect(run.stdout).toMatch(/::warning::No baseline from \S+: the token may not read this repository's workflow runs \(403[^\n]*Grant `actions: read`/);
  });

  it('warns when the base branch has no successful run of the workflow yet', async () => {
    standin.seedWorkflowRun(OWNER, REPO, { id: PR_RUN, workflowId: WORKFLOW, headBranch: 'changes', event: 'pull_request', status: 'in_progress', conclusion: null });
    const run = await action();
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`::warning::No baseline from ${baseBranch()}: no successful run of workflow "[^"]+" on ${baseBranch()} yet`));
  });

  it('makes no Actions API call with baseline: none, nor on an event that is not a pull request', async () => {
    await seedBaseBranchRun();
    const before = standin.requests.length;
    const none = await action({ inputs: { baseline: 'none' } });
    expect(none.outputs.verdict).toBe('reproduced');
    const push = await action({ eventName: 'push', payload: pushEvent, runId: BASE_RUN + 1 });
    expect(push.outputs.verdict).toBe('reproduced');
    expect(actionsRequests(before)).toEqual([]);
    for (const run of [none, push]) expect(run.stdout).not.toMatch(/::group::baseline|No baseline/);
  });

  it('fails with a message naming the input for a bad baseline value', async () => {
    const run = await action({ inputs: { baseline: 'latest' } });
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/::error::input "baseline" must be one of auto, none \(got "latest"\)/);
  });
});
