import { describe, expect, it } from 'vitest';
import { pullRequestFor } from '../../src/action/pull-request.js';
import { COMMENT_MARKER_PREFIX } from '../../src/constants.js';
import { annotationsFor } from '../../src/publish/annotations.js';
import { stickyMarker } from '../../src/publish/comment.js';
import { driftRecord, recordReport, report, withinToleranceRecord } from '../support/report-fixtures.js';

describe('annotationsFor', () => {
  it('pins each finding to its line in the record file', () => {
    const annotations = annotationsFor(report([recordReport(), withinToleranceRecord(), driftRecord()], 'drift'));
    expect(annotations.map(({ level, file, line, title }) => [level, file, line, title])).toEqual([
      ['error', 'models/wine/run.yaml', 30, 'repro-gate wine-mlp: artifact drift'],
      ['error', 'models/wine/run.yaml', 34, 'repro-gate wine-mlp: metric drift'],
      ['warning', 'models/wine/run.yaml', 9, 'repro-gate wine-mlp: requirements changed'],
      ['notice', 'models/iris/run.yaml', 34, 'repro-gate iris-sgd: metric within tolerance'],
    ]);
    expect(annotations[1]!.message).toBe('accuracy: recorded 0.9356, rerun 0.91 (Δ -0.0256, tolerance ±0.005)');
  });

  it('annotates errors, changed data, missing metrics and failed thresholds', () => {
    const record = recordReport({
      verdict: 'drift',
      error: undefined,
      inputs: [{ kind: 'data', path: 'data/x.csv', recorded: 'a'.repeat(64), actual: 'c'.repeat(64), status: 'mismatch', line: 20 }],
      metrics: [{ name: 'f1', recorded: 0.5, rerun: null, delta: null, tolerance: { abs: 0, rel: 0 }, status: 'missing', line: 40 }],
      thresholds: [{ metric: 'accuracy', min: 0.95, value: 0.9356, status: 'fail', line: 44 }],
    });
    const failed = recordReport({ verdict: 'error', error: { message: 'command exited 1', field: 'command', line: 3 }, recordPath: 'b/run.yaml' });
    const messages = annotationsFor(report([record, failed], 'error')).map((annotation) => `${annotation.level}@${annotation.line}: ${annotation.message}`);
    expect(messages).toEqual([
      'error@20: data data/x.csv has sha256 cccccccccccc, recorded aaaaaaaaaaaa',
      'error@40: f1 is missing from the rerun\'s metrics',
      'error@44: accuracy: rerun 0.9356, required min 0.95',
      'error@3: command exited 1',
    ]);
  });

  it('emits nothing for a reproduced report and at most 10 per level', () => {
    expect(annotationsFor(report([recordReport()]))).toEqual([]);
    const many = recordReport({
      verdict: 'drift',
      metrics: Array.from({ length: 30 }, (_, i) => ({ name: `m${i}`, recorded: 1, rerun: 2, delta: 1, tolerance: { abs: 0, rel: 0 }, status: 'beyond' as const })),
    });
    expect(annotationsFor(report([many], 'drift'))).toHaveLength(10);
  });
});

describe('stickyMarker', () => {
  const base = { workflow: 'repro', job: 'reproduce', scope: ['a/run.yaml', 'b/run.yaml'] };

  it('is a hidden HTML comment with the marker prefix', () => {
    expect(stickyMarker(base)).toMatch(new RegExp(`^${COMMENT_MARKER_PREFIX}:[0-9a-f]{16} -->$`));
  });

  it('is the same for the same job and record set, in any order', () => {
    expect(stickyMarker({ ...base, scope: ['b/run.yaml', 'a/run.yaml'] })).toBe(stickyMarker(base));
  });

  it('differs between jobs, workflows and record sets, so they never overwrite each other', () => {
    const markers = new Set([
      stickyMarker(base),
      stickyMarker({ ...base, job: 'other' }),
      stickyMarker({ ...base, workflow: 'nightly' }),
      stickyMarker({ ...base, scope: ['a/run.yaml'] }),
    ]);
    expect(markers.size).toBe(4);
  });
});

describe('pullRequestFor: the PR comes from the trusted event only', () => {
  type Pull = { number: number; state: string; head: { sha: string } };
  const noLookup = { pullRequestsForCommit: async () => [], openPullRequestsFrom: async () => [] };
  const sha = 'c0ffee'.padEnd(40, '0');
  const workflowRun = (event: string, pullRequests: Array<{ number: number; head: { sha: string } }>) => ({
    workflow_run: { event, head_sha: sha, head_branch: 'feature', head_repository: { owner: { login: 'forker' } }, pull_requests: pullRequests },
  });

  it('reads pull_request and pull_request_target events', async () => {
    expect(await pullRequestFor('pull_request', { pull_request: { number: 7 } }, noLookup)).toBe(7);
    expect(await pullRequestFor('pull_request_target', { pull_request: { number: 8 } }, noLookup)).toBe(8);
  });

  it('ignores events that are not about a pull request', async () => {
    expect(await pullRequestFor('push', { pull_request: { number: 7 } }, noLookup)).toBeUndefined();
    expect(await pullRequestFor('workflow_run', workflowRun('push', [{ number: 3, head: { sha } }]), noLookup)).toBeUndefined();
  });

  it('takes a workflow_run PR whose head is the run head', async () => {
    expect(await pullRequestFor('workflow_run', workflowRun('pull_request', [{ number: 5, head: { sha: 'other' } }, { number: 6, head: { sha } }]), noLookup)).toBe(6);
  });

  it('looks a fork PR up by head commit and only accepts an open PR with that head', async () => {
    const lookup = (pulls: Pull[]) => ({ ...noLookup, pullRequestsForCommit: async () => pulls });
    expect(await pullRequestFor('workflow_run', workflowRun('pull_request', []), lookup([{ number: 9, state: 'open', head: { sha } }]))).toBe(9);
    expect(await pullRequestFor('workflow_run', workflowRun('pull_request', []), lookup([{ number: 9, state: 'closed', head: { sha } }]))).toBeUndefined();
    expect(await pullRequestFor('workflow_run', workflowRun('pull_request', []), lookup([{ number: 9, state: 'open', head: { sha: 'moved' } }]))).toBeUndefined();
  });

  it('falls back to the fork\'s branch when the commit lookup does not know the fork\'s commit', async () => {
    const asked: string[] = [];
    const fromBranch = (pulls: Pull[]) => ({
      pullRequestsForCommit: async () => [],
      openPullRequestsFrom: async (owner: string, branch: string) => (asked.push(`${owner}:${branch}`), pulls),
    });
    expect(await pullRequestFor('workflow_run', workflowRun('pull_request', []), fromBranch([{ number: 11, state: 'open', head: { sha } }]))).toBe(11);
    expect(asked).toEqual(['forker:feature']);
    // The branch moved on since the run: its PR is not the one this report is about.
    expect(await pullRequestFor('workflow_run', workflowRun('pull_request', []), fromBranch([{ number: 11, state: 'open', head: { sha: 'newer' } }]))).toBeUndefined();
  });
});
