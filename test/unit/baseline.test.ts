import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { baseBranchOf, baseCommitOf } from '../../src/baseline/base-branch.js';
import { resolveBaselineFile } from '../../src/baseline/baseline-file.js';
import { webhookExample } from '../support/run-action.js';
import type { SeededWorkflowRun } from '../support/standin/github-rest.js';
import { type Standin, startStandin } from '../support/standin/index.js';
import type { UploadedArtifact } from '../support/standin/results-service.js';

// The baseline's two halves: finding the recorded artifact in a baseline folder (any layout, by hash only), and
// downloading the base branch's evidence through the REST API and blob storage of the GitHub stand-in.

const sha256 = (content: Buffer | string) => createHash('sha256').update(content).digest('hex');

async function writeFiles(root: string, files: Record<string, Buffer | string>): Promise<void> {
  for (const [relative, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, relative)), { recursive: true });
    await writeFile(path.join(root, relative), content);
  }
}

const folder = (label: string) => mkdtemp(path.join(tmpdir(), `repro-gate-baseline-${label}-`));

describe('resolveBaselineFile', () => {
  const weights = randomBytes(4096);
  const other = randomBytes(4096);
  const recorded = sha256(weights);

  it('finds the artifact in an unpacked evidence artifact, in a plain folder, and in one subfolder per artifact', async () => {
    const evidence = await folder('evidence');
    await writeFiles(evidence, { 'linear/outputs/out/model.bin': weights, 'report.json': '{}' });
    expect(await resolveBaselineFile(evidence, 'linear', 'out/model.bin', recorded)).toBe(path.join(evidence, 'linear/outputs/out/model.bin'));

    const plain = await folder('plain');
    await writeFiles(plain, { 'out/model.bin': weights });
    expect(await resolveBaselineFile(plain, 'linear', 'out/model.bin', recorded)).toBe(path.join(plain, 'out/model.bin'));

    // Two matrix legs' evidence: the hash picks the leg that produced the recorded bytes, whatever the order.
    const legs = await folder('legs');
    await writeFiles(legs, { 'a-leg/linear/outputs/out/model.bin': other, 'b-leg/linear/outputs/out/model.bin': weights });
    expect(await resolveBaselineFile(legs, 'linear', 'out/model.bin', recorded)).toBe(path.join(legs, 'b-leg/linear/outputs/out/model.bin'));
  });

  it('returns null for another hash, another record, a missing folder and a directory artifact', async () => {
    const evidence = await folder('mismatch');
    await writeFiles(evidence, { 'linear/outputs/out/model.bin': other, 'linear/outputs/out/shards/0.bin': weights });
    expect(await resolveBaselineFile(evidence, 'linear', 'out/model.bin', recorded)).toBeNull();
    expect(await resolveBaselineFile(evidence, 'linear', 'out/model.bin', sha256(other))).not.toBeNull();
    expect(await resolveBaselineFile(evidence, 'mlp', 'out/model.bin', sha256(other))).toBeNull();
    expect(await resolveBaselineFile(path.join(evidence, 'absent'), 'linear', 'out/model.bin', sha256(other))).toBeNull();
    expect(await resolveBaselineFile(evidence, 'linear', 'out/shards', recorded)).toBeNull();
  });

  it('never follows a link, nor leaves the folder by `..` or through a linked folder', async () => {
    const outside = await folder('outside');
    await writeFiles(outside, { 'out/model.bin': weights, 'linear/outputs/out/model.bin': weights });
    const baseline = await folder('links');
    await mkdir(path.join(baseline, 'linear', 'outputs', 'out'), { recursive: true });
    await symlink(path.join(outside, 'out', 'model.bin'), path.join(baseline, 'linear', 'outputs', 'out', 'model.bin'));
    await symlink(path.join(outside, 'out'), path.join(baseline, 'out'));
    await symlink(outside, path.join(baseline, 'leg'));
    expect(await resolveBaselineFile(baseline, 'linear', 'out/model.bin', recorded)).toBeNull();
    // `outside` is a sibling of `baseline`: both names below lead to its (matching) files.
    expect(await resolveBaselineFile(baseline, 'linear', `../${path.basename(outside)}/out/model.bin`, recorded)).toBeNull();
    expect(await resolveBaselineFile(baseline, `../${path.basename(outside)}/linear`, 'out/model.bin', recorded)).toBeNull();
    // The same file, reached without a link, is found: the refusals above are about the links.
    await writeFiles(baseline, { 'real/linear/outputs/out/model.bin': weights });
    expect(await resolveBaselineFile(baseline, 'linear', 'out/model.bin', recorded)).toBe(path.join(baseline, 'real/linear/outputs/out/model.bin'));
  });
});

describe('baseBranchOf and baseCommitOf', () => {
  it('are the base branch and commit of a pull_request (or pull_request_target) event, and nothing for other events', async () => {
    const pullRequest = await webhookExample('pull_request', (example) => example.action === 'opened');
    const push = await webhookExample('push', () => true);
    for (const eventName of ['pull_request', 'pull_request_target']) {
      expect(baseBranchOf(eventName, pullRequest)).toBe(pullRequest.pull_request.base.ref);
      expect(baseCommitOf(eventName, pullRequest)).toBe(pullRequest.pull_request.base.sha);
    }
    expect(baseBranchOf('push', push)).toBeUndefined();
    expect(baseCommitOf('push', push)).toBeUndefined();
    expect(baseBranchOf('pull_request', { pull_request: {} })).toBeUndefined();
  });

  it('keeps the base branch when the commit is missing or malformed', () => {
    for (const sha of [undefined, '', 42]) {
      const payload = { pull_request: { base: { ref: 'main', sha } } };
      expect(baseBranchOf('pull_request', payload)).toBe('main');
      expect(baseCommitOf('pull_request', payload)).toBeUndefined();
    }
  });
});

describe('downloadBaseline against the GitHub stand-in', () => {
  const OWNER = 'Codertocat';
  const CURRENT_RUN = 4242;
  const WORKFLOW = 77;
  const weights = randomBytes(64 * 1024);
  let standin: Standin;
  let downloadBaseline: typeof import('../../src/baseline/download-baseline.js').downloadBaseline;
  let evidence: UploadedArtifact;
  let reportOnly: UploadedArtifact;
  let repoCount = 0;
  const saved = { ...process.env };

  beforeAll(async () => {
    standin = await startStandin();
    // @actions/github reads the API URL when it is first imported, so the modules are imported after this.
    Object.assign(process.env, { GITHUB_API_URL: standin.apiUrl, ACTIONS_RESULTS_URL: standin.resultsUrl, ACTIONS_RUNTIME_TOKEN: standin.runtimeToken });
    ({ downloadBaseline } = await import('../../src/baseline/download-baseline.js'));
    const { DefaultArtifactClient } = await import('@actions/artifact');
    // The base branch's run uploads its evidence as the action does: the real client, the stand-in's results service.
    const root = await folder('upload');
    await writeFiles(root, { 'report.json': '{}', 'linear/rerun.log': 'loss=0.1\n', 'linear/outputs/out/model.bin': weights });
    const files = ['report.json', 'linear/rerun.log', 'linear/outputs/out/model.bin'].map((file) => path.join(root, file));
    await new DefaultArtifactClient().uploadArtifact('repro-gate-evidence-reproduce-linear-0a1b2c3d', files, root);
    await new DefaultArtifactClient().uploadArtifact('repro-gate-report', [path.join(root, 'report.json')], root);
    [evidence, reportOnly] = standin.artifacts as [UploadedArtifact, UploadedArtifact];
  });

  afterEach(() => {
    standin.setTokenPermissions({ actions: 'read' });
    expect(standin.validationErrors.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    process.env = saved;
    await standin.close();
  });

  /** A repository of its own per test, holding this run (a pull request's, in progress) and the given runs. */
  function repository(runs: Array<Partial<SeededWorkflowRun> & { id: number }>): string {
    const repo = `repo-${++repoCount}`;
    standin.seedWorkflowRun(OWNER, repo, { id: CURRENT_RUN, workflowId: WORKFLOW, headBranch: 'changes', event: 'pull_request', status: 'in_progress', conclusion: null });
    for (const run of runs) {
      standin.seedWorkflowRun(OWNER, repo, { workflowId: WORKFLOW, headBranch: 'master', event: 'push', status: 'completed', conclusion: 'success', ...run });
    }
    return repo;
  }

  async function download(repo: string, options: { token?: string; baseCommit?: string } = {}) {
    const log = { infos: [] as string[], warnings: [] as string[] };
    const requestsBefore = standin.requests.length;
    const dir = await downloadBaseline({
      token: options.token ?? standin.token,
      repository: { owner: OWNER, repo },
      runId: CURRENT_RUN,
      branch: 'master',
      baseCommit: options.baseCommit,
      tempRoot: await folder('runner-temp'),
      log: { info: (line) => log.infos.push(line), warning: (line) => log.warnings.push(line) },
    });
    return { dir, ...log, requests: standin.requests.slice(requestsBefore).map((request) => `${request.method} ${request.path} ${request.status}`) };
  }

  it("downloads the evidence of the base branch's latest successful push run of this workflow, and only that", async () => {
    const forkEvidence = { ...evidence, id: 9_001, name: 'repro-gate-evidence-reproduce-linear-f0f0f0f0' };
    const expired = { ...evidence, id: 9_002, name: 'repro-gate-evidence-nightly-linear-00000000', expired: true };
    const repo = repository([
      { id: 1001, artifacts: [evidence, reportOnly, expired] },
      { id: 1002, conclusion: 'failure', artifacts: [forkEvidence] },
      { id: 1003, workflowId: WORKFLOW + 1, artifacts: [forkEvidence] },
      // Pull requests whose head branch is named `master` (a fork's own, or this repository's, into another base): their
      // runs carry `master` as head branch, but ran the pull request's code, not the base branch's.
      { id: 1004, event: 'pull_request', fromFork: true, artifacts: [forkEvidence] },
      { id: 1005, event: 'pull_request', artifacts: [forkEvidence] },
    ]);
    const result = await download(repo);
    expect(result.warnings).toEqual([]);
    expect(result.dir).toBeDefined();
    expect(result.requests).toEqual([
      `GET /repos/${OWNER}/${repo}/actions/runs/${CURRENT_RUN} 200`,
      `GET /repos/${OWNER}/${repo}/actions/workflows/${WORKFLOW}/runs?branch=master&event=push&status=success&per_page=30 200`,
      `GET /repos/${OWNER}/${repo}/actions/runs/1001/artifacts?per_page=100 200`,
      `GET /repos/${OWNER}/${repo}/actions/artifacts/${evidence.id}/zip 302`,
      expect.stringMatching(/^GET \/blob\/devstoreaccount1\/artifacts\/\d+\?sv=[^ ]+ 200$/),
    ]);
    expect(await readdir(result.dir!)).toEqual([evidence.name]);
    expect(result.infos.join('\n')).toContain(`runs/1001 (master) in ${result.dir}`);

    const found = await resolveBaselineFile(result.dir!, 'linear', 'out/model.bin', sha256(weights));
    expect(found).not.toBeNull();
    expect(Buffer.compare(await readFile(found!), weights)).toBe(0);
    expect(await resolveBaselineFile(result.dir!, 'linear', 'out/model.bin', sha256(randomBytes(16)))).toBeNull();
  });

  it("prefers the push run of the pull request's base commit to the latest, and falls back to the latest", async () => {
    const [baseCommit, laterCommit, unknownCommit] = Array.from({ length: 3 }, () => randomBytes(20).toString('hex'));
    const repo = repository([
      { id: 8001, headSha: baseCommit, artifacts: [evidence] },
      { id: 8002, headSha: laterCommit, artifacts: [evidence] },
      // A pull request's run on the base commit (its head branch named like the base): never the baseline.
      { id: 8003, headSha: baseCommit, event: 'pull_request', artifacts: [evidence] },
    ]);
    const chosenRun = async (commit: string | undefined) => {
      const result = await download(repo, { baseCommit: commit });
      expect(result.warnings).toEqual([]);
      return result.requests.filter((request) => /\/runs\/\d+\/artifacts/.test(request)).map((request) => /\/runs\/(\d+)\//.exec(request)?.[1]);
    };
    expect(await chosenRun(baseCommit)).toEqual(['8001']);
    expect(await chosenRun(unknownCommit)).toEqual(['8002']);
    expect(await chosenRun(undefined)).toEqual(['8002']);
  });

  it('reads every page of a long artifact listing', async () => {
    const others = Array.from({ length: 120 }, (_, i) => ({ ...reportOnly, id: 10_000 + i, name: `coverage-${i}` }));
    const repo = repository([{ id: 2001, artifacts: [...others, evidence] }]);
    const result = await download(repo);
    expect(result.warnings).toEqual([]);
    expect(result.requests.filter((request) => request.includes('/runs/2001/artifacts'))).toHaveLength(2);
    expect(await resolveBaselineFile(result.dir!, 'linear', 'out/model.bin', sha256(weights))).not.toBeNull();
  });

  it('warns with the permission to grant when the token may not read Actions (403), and goes on without', async () => {
    const repo = repository([{ id: 3001, artifacts: [evidence] }]);
    standin.setTokenPermissions({ actions: 'none' });
    const result = await download(repo);
    expect(result.dir).toBeUndefined();
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toMatch(/^No baseline from master: .*\(403: Resource not accessible by integration.*\).*Grant `actions: read`/);
    expect(result.requests).toEqual([`GET /repos/${OWNER}/${repo}/actions/runs/${CURRENT_RUN} 403`]);
  });

  it('warns when the base branch has no successful run, or its run no evidence', async () => {
    const none = await download(repository([{ id: 4001, conclusion: 'failure', artifacts: [evidence] }]));
    expect(none.dir).toBeUndefined();
    expect(none.warnings).toEqual([expect.stringMatching(/^No baseline from master: no successful run of workflow "[^"]+" on master yet\. .*run it on push to master/)]);
    expect(none.requests.some((request) => request.includes('/artifacts'))).toBe(false);

    const withoutEvidence = await download(repository([{ id: 4002, artifacts: [reportOnly, { ...evidence, expired: true }] }]));
    expect(withoutEvidence.dir).toBeUndefined();
    expect(withoutEvidence.warnings).toEqual([expect.stringMatching(/runs\/4002, the successful run on master taken as baseline, has no repro-gate evidence artifact/)]);
    expect(withoutEvidence.requests.some((request) => request.includes('/zip'))).toBe(false);
  });

  it('downloads nothing past REPRO_GATE_BASELINE_MAX_SIZE, and says which limit to raise', async () => {
    const repo = repository([{ id: 5001, artifacts: [evidence] }]);
    process.env.REPRO_GATE_BASELINE_MAX_SIZE = `${evidence.size - 1}`;
    try {
      const result = await download(repo);
      expect(result.dir).toBeUndefined();
      expect(result.warnings).toEqual([expect.stringMatching(/over the .* limit \(REPRO_GATE_BASELINE_MAX_SIZE\)\. Raise it with REPRO_GATE_BASELINE_MAX_SIZE/)]);
      expect(result.requests.some((request) => request.includes('/zip'))).toBe(false);
    } finally {
      delete process.env.REPRO_GATE_BASELINE_MAX_SIZE;
    }
  });

  it('drops an artifact whose bytes are not the digest GitHub recorded', async () => {
    const tampered = { ...evidence, digest: `sha256:${sha256('something else')}` };
    const result = await download(repository([{ id: 6001, artifacts: [tampered] }]));
    expect(result.dir).toBeUndefined();
    expect(result.warnings).toEqual([expect.stringMatching(/artifact repro-gate-evidence-\S+ of \S+runs\/6001 is not what was uploaded/)]);
  });

  it('makes no request at all without a token', async () => {
    const result = await download(repository([{ id: 7001, artifacts: [evidence] }]), { token: '' });
    expect(result.dir).toBeUndefined();
    expect(result.warnings).toEqual([expect.stringMatching(/^No baseline: input "github-token" is empty/)]);
    expect(result.requests).toEqual([]);
  });
});
