import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ReportSchema } from '../../src/report/schema.js';
import { git } from '../support/fixture-repo.js';
import { type RunActionOptions, runAction, webhookExample } from '../support/run-action.js';
import { actionServiceEnv, type Standin, startStandin } from '../support/standin/index.js';
import { snapshotTree } from '../support/tree-snapshot.js';

// The bundled action on a pull request that loosened its run record: the comment says so whatever the verdict,
// and `fail-on-loosened: true` fails the step. The records need no Python: the command writes its own outputs.

const OWNER = 'Codertocat';
const REPO = 'Hello-World';
const COMMAND = `mkdir -p out && echo hi > out/a.txt && echo '{"acc": 0.9}' > out/m.json`;
const HI_SHA256 = createHash('sha256').update('hi\n').digest('hex');

const runRecord = (name: string, overrides: Record<string, unknown> = {}) => ({
  version: 1,
  name,
  command: COMMAND,
  artifacts: [{ path: 'out/a.txt', sha256: HI_SHA256 }],
  metrics: { path: 'out/m.json', values: { acc: 0.9 } },
  thresholds: { acc: { min: 0.8 } },
  ...overrides,
});

let pullRequestEvent: Record<string, any>;
let standin: Standin;
let cacheRoot: string;

beforeAll(async () => {
  pullRequestEvent = await webhookExample('pull_request', (example) => example.action === 'opened');
});

beforeEach(async () => {
  standin = await startStandin();
  cacheRoot = await mkdtemp(path.join(tmpdir(), 'repro-gate-action-cache-'));
});

afterEach(async () => {
  expect(standin.validationErrors).toEqual([]);
  await standin.close();
});

interface Repo {
  root: string;
  base: string;
}

/** A repository whose base commit holds the records, and a second commit (the PR) that applies `change`. */
async function pullRequestRepo(records: Record<string, object>, change: (root: string) => Promise<void>): Promise<Repo> {
  const root = await mkdtemp(path.join(tmpdir(), 'repro-gate-loosening-action-'));
  const commit = (message: string) => {
    git(root, 'add', '-A');
    git(root, 'commit', '-qm', message);
    return git(root, 'rev-parse', 'HEAD').trim();
  };
  await writeFile(path.join(root, '.gitignore'), 'out/\n');
  for (const [relative, record] of Object.entries(records)) {
    await mkdir(path.dirname(path.join(root, relative)), { recursive: true });
    await writeFile(path.join(root, relative), stringify(record));
  }
  git(root, 'init', '-q');
  const base = commit('base');
  await change(root);
  commit('the pull request');
  return { root, base };
}

/** The opened pull_request event, its base pointing at `base`. */
function pullRequestOn(base: string): Record<string, any> {
  const event = structuredClone(pullRequestEvent);
  event.pull_request.base.sha = base;
  return event;
}

async function action(repo: Repo, options: Partial<RunActionOptions> & { inputs?: Record<string, string> } = {}) {
  const before = await snapshotTree(repo.root);
  const run = await runAction({
    cwd: repo.root,
    eventName: 'pull_request',
    payload: pullRequestOn(repo.base),
    ...options,
    inputs: { 'github-token': standin.token, records: 'run.yaml', 'upload-evidence': 'false', cache: 'false', ...options.inputs },
    env: { ...actionServiceEnv(standin, cacheRoot), ...options.env },
  });
  expect(await snapshotTree(repo.root)).toEqual(before);
  return { ...run, report: run.outputs['report-json'] ? ReportSchema.parse(JSON.parse(readFileSync(run.outputs['report-json'], 'utf8'))) : undefined };
}

const prComments = () => standin.comments(OWNER, REPO, pullRequestEvent.number);

const widenTolerance = (root: string) => writeFile(path.join(root, 'run.yaml'), stringify(runRecord('tiny', { tolerance: { default: { abs: 0.05 } } })));

describe('the bundled action on a pull request that loosened its record', () => {
  it('lists the loosening in the comment under the headline, and passes on the verdict by default', async () => {
    const repo = await pullRequestRepo({ 'run.yaml': runRecord('tiny') }, widenTolerance);
    const run = await action(repo);
    expect(run.status).toBe(0);
    expect(run.outputs.verdict).toBe('reproduced');
    expect(run.report?.base).toEqual({ ref: 'master', commit: repo.base });
    expect(run.report?.loosened).toEqual([{ recordPath: 'run.yaml', kind: 'tolerance-widened', subject: 'acc', before: 'exact', after: '±0.05' }]);
    const body = prComments()[0]!.body;
    expect(body).toMatch(/## ✅ repro-gate: reproduced\n\n1 record: 1 reproduced\n\n### ⚠️ The record was loosened\n/);
    expect(body).toContain(`Compared with base master (${repo.base.slice(0, 12)})`);
    expect(body).toContain('- run.yaml: tolerance of acc widened: exact → ±0.05\n');
    expect(run.summary).toContain('### ⚠️ The record was loosened');
    expect(run.stdout).not.toMatch(/::error::/);
  });

  it('with fail-on-loosened: true, fails the step naming the loosening while the verdict stays reproduced', async () => {
    const repo = await pullRequestRepo({ 'run.yaml': runRecord('tiny') }, widenTolerance);
    const run = await action(repo, { inputs: { 'fail-on-loosened': 'true' } });
    expect(run.status).toBe(1);
    expect(run.outputs.verdict).toBe('reproduced');
    expect(run.stdout).toContain('::error::repro-gate: the record was loosened (fail-on-loosened is true): run.yaml: tolerance of acc widened: exact → ±0.05');
    expect(prComments()[0]!.body).toContain('### ⚠️ The record was loosened');
  });

  it('with fail-on-loosened: true, passes a pull request that only re-recorded or tightened', async () => {
    const repo = await pullRequestRepo({ 'run.yaml': runRecord('tiny', { metrics: { path: 'out/m.json', values: { acc: 0.8 } } }) }, (root) =>
      writeFile(path.join(root, 'run.yaml'), stringify(runRecord('tiny', { thresholds: { acc: { min: 0.85 } } }))),
    );
    const run = await action(repo, { inputs: { 'fail-on-loosened': 'true' } });
    expect(run.status).toBe(0);
    expect(run.report?.loosened).toEqual([]);
    expect(run.report?.rerecorded).toEqual([{ recordPath: 'run.yaml', changes: [{ kind: 'metric-value', count: 1 }] }]);
    const body = prComments()[0]!.body;
    expect(body).not.toContain('The record was loosened');
    expect(body).toContain('Re-recorded (new hashes and values, not a loosening): run.yaml: metric value');
  });

  it('finds records the pull request deleted among those the records input matches, also when none is left', async () => {
    const records = { 'models/a/run.yaml': runRecord('alpha'), 'models/b/run.yaml': runRecord('beta'), 'other/run.yaml': runRecord('other') };
    const repo = await pullRequestRepo(records, (root) => rm(path.join(root, 'models', 'b'), { recursive: true }));
    const run = await action(repo, { inputs: { records: 'models/**/run.yaml', 'fail-on-loosened': 'true' } });
    expect(run.status).toBe(1);
    expect(run.outputs.verdict).toBe('reproduced');
    expect(run.report?.records.map((record) => record.name)).toEqual(['alpha']);
    expect(run.report?.loosened).toEqual([{ recordPath: 'models/b/run.yaml', kind: 'record-deleted', subject: 'models/b/run.yaml', before: 'beta', after: null }]);
    expect(prComments()[0]!.body).toContain('- models/b/run.yaml: record deleted (beta): nothing of it is checked');

    const emptied = await pullRequestRepo(records, (root) => rm(path.join(root, 'models'), { recursive: true }));
    const none = await action(emptied, { inputs: { records: 'models/**/run.yaml' } });
    // Nothing was verified, which is an error as always; the comment says why.
    expect(none.outputs.verdict).toBe('error');
    expect(none.report?.loosened?.map((finding) => finding.subject)).toEqual(['models/a/run.yaml', 'models/b/run.yaml']);
    expect(prComments().at(-1)!.body).toContain('No record was checked.');
  });

  it('compares nothing on a push, which has no base', async () => {
    const repo = await pullRequestRepo({ 'run.yaml': runRecord('tiny') }, widenTolerance);
    const push = await webhookExample('push', () => true);
    const run = await action(repo, { eventName: 'push', payload: push, inputs: { 'fail-on-loosened': 'true' } });
    expect(run.status).toBe(0);
    expect(run.report?.base).toBeUndefined();
    expect(run.report?.loosened).toBeUndefined();
    expect(run.summary).not.toContain('loosened');
  });

  it('fails with one clear message when the base commit is not in the clone (a shallow checkout)', async () => {
    const repo = await pullRequestRepo({ 'run.yaml': runRecord('tiny') }, widenTolerance);
    const missing = 'f95f852bd8fca8fcc58a9a2d6c842781e32a215e';
    const run = await action(repo, { payload: pullRequestOn(missing) });
    expect(run.status).toBe(1);
    expect(run.outputs.verdict).toBe('error');
    expect(run.stdout).toContain(`::error::the base ${missing} to compare the run records with is not a commit in this clone`);
    expect(run.stdout).toMatch(/fetch-depth: 0/);
  });
});
