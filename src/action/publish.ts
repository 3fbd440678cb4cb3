import { randomBytes } from 'node:crypto';
import * as core from '@actions/core';
import * as github from '@actions/github';
import { AUDIT_ISSUE_TITLE, AUDIT_MARKER_PREFIX, COMMENT_MAX_CHARS, EVIDENCE_ARTIFACT_PREFIX, SUMMARY_MAX_BYTES } from '../constants.js';
import { syncAuditIssue } from '../publish/audit-issue.js';
import { annotationsFor, emitAnnotations } from '../publish/annotations.js';
import { stickyMarker, upsertStickyComment } from '../publish/comment.js';
import { uploadEvidence } from '../publish/evidence.js';
import { createOctokit } from '../publish/octokit.js';
import { writeJobSummary } from '../publish/summary.js';
import { fitBytes, fitMarkdown } from '../report/fit.js';
import type { Report, Verdict } from '../report/schema.js';
import type { ActionInputs } from './inputs.js';
import { loosenedFailure } from './loosening.js';
import { pullRequestFor } from './pull-request.js';

interface PublishedFiles {
  evidenceDir: string;
  json: string;
  markdown: string;
  /** The verification statement and its subjects, when one was written. */
  attestation?: { statement: string; predicate: string; checksums: string };
}

/**
 * Unique within the workflow run: matrix legs of one job share GITHUB_JOB and may check the same records (a matrix
 * over OS or Python), so a random part keeps them apart. The records checked make it readable.
 */
export function evidenceArtifactName(label: string): string {
  const job = process.env.GITHUB_JOB ?? 'job';
  return `${EVIDENCE_ARTIFACT_PREFIX}-${job}-${label}-${randomBytes(4).toString('hex')}`.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 200);
}

function evidenceName(report: Report): string {
  const names = report.records.map((record) => record.name);
  return evidenceArtifactName(names.length > 1 ? `${names[0]}-and-${names.length - 1}-more` : (names[0] ?? 'none'));
}

/**
 * What the step was asked to check, not what it found (adding a record to the PR keeps the same comment), and
 * where: matrix legs over OS, architecture or interpreter each keep their own comment.
 */
function commentScope(inputs: ActionInputs): string[] {
  // The reusable workflow downloads each call's reports into a folder named by the call's key.
  if (inputs.mode === 'comment') return [`reports:${inputs.reports}`];
  if (inputs.mode === 'registry') return [`registry:${inputs.registry}`];
  return [...inputs.records, `runner:${process.env.RUNNER_OS ?? ''}/${process.env.RUNNER_ARCH ?? ''}`, `python:${inputs.python}`];
}

function shouldFail(verdict: Verdict, failOn: ActionInputs['fail-on']): boolean {
  if (failOn === 'never') return false;
  if (failOn === 'error') return verdict === 'error';
  return verdict === 'drift' || verdict === 'error';
}

/**
 * The step's sticky comment on its pull request, with the body `render` fits into the characters left beside the
 * marker; `createIfMissing` false only updates a comment that exists.
 */
export async function publishStickyComment(inputs: ActionInputs, render: (maxChars: number) => string, createIfMissing: boolean): Promise<string | undefined> {
  if (inputs.comment === 'never') return undefined;
  if (!inputs['github-token']) {
    core.warning('No PR comment: input "github-token" is empty. Leave it at its default (`${{ github.token }}`) or pass a token with `pull-requests: write`.');
    return undefined;
  }
  const octokit = createOctokit(inputs['github-token']);
  const { owner, repo } = github.context.repo;
  const issueNumber = await pullRequestFor(github.context.eventName, github.context.payload, {
    pullRequestsForCommit: async (sha) =>
      (await octokit.rest.repos.listPullRequestsAssociatedWithCommit({ owner, repo, commit_sha: sha })).data,
    openPullRequestsFrom: async (headOwner, branch) =>
      (await octokit.rest.pulls.list({ owner, repo, state: 'open', head: `${headOwner}:${branch}`, per_page: 100 })).data,
  }).catch((error: unknown) => {
    // Like every comment failure, a failed lookup is a warning: the verdict decides the step.
    core.warning(`No PR comment: could not find the pull request of this ${github.context.eventName} event: ${(error as Error).message}`);
    return undefined;
  });
  if (issueNumber === undefined) {
    core.info(`No pull request for a ${github.context.eventName} event: the report is in the job summary only.`);
    return undefined;
  }
  const marker = stickyMarker({
    workflow: process.env.GITHUB_WORKFLOW ?? '',
    job: process.env.GITHUB_JOB ?? '',
    scope: commentScope(inputs),
  });
  const body = render(COMMENT_MAX_CHARS - marker.length - 1);
  const result = await upsertStickyComment({ octokit, owner, repo, issueNumber, marker, body, createIfMissing, log: core });
  return result.url;
}

function publishComment(report: Report, inputs: ActionInputs, fullReportHint: string): Promise<string | undefined> {
  // on-drift still updates an existing comment, so a PR that was fixed turns green.
  // on-drift: a pull request whose records all reproduced, or were not rerun, gets no new comment.
  const createIfMissing = inputs.comment === 'always' || (report.verdict !== 'reproduced' && report.verdict !== 'unaffected');
  return publishStickyComment(inputs, (maxChars) => fitMarkdown(report, maxChars, { fullReportHint }), createIfMissing);
}

/** `mode: audit`: the one issue that says which records no longer reproduce at their recorded commit, closed once they do. */
async function publishAuditIssue(report: Report, inputs: ActionInputs, fullReportHint: string): Promise<string | undefined> {
  if (!inputs['github-token']) {
    core.warning('No audit issue: input "github-token" is empty. Leave it at its default (`${{ github.token }}`) with `permissions: issues: write`.');
    return undefined;
  }
  const marker = stickyMarker({ workflow: process.env.GITHUB_WORKFLOW ?? '', job: process.env.GITHUB_JOB ?? '', scope: inputs.records }, AUDIT_MARKER_PREFIX);
  const server = process.env.GITHUB_SERVER_URL ?? 'https://github.com';
  const run = `${server}/${github.context.repo.owner}/${github.context.repo.repo}/actions/runs/${github.context.runId}`;
  const hint = `${fullReportHint} Audit run: ${run}`;
  const outcome = await syncAuditIssue({
    octokit: createOctokit(inputs['github-token']),
    ...github.context.repo,
    marker,
    title: AUDIT_ISSUE_TITLE,
    body: fitMarkdown(report, COMMENT_MAX_CHARS - marker.length - 1, { fullReportHint: hint }),
    failing: report.verdict === 'drift' || report.verdict === 'error',
    log: core,
  });
  return 'url' in outcome ? outcome.url : undefined;
}

/** The publish stage: evidence, job summary, annotations, sticky comment, outputs, and the step's result. */
export async function publishReport(report: Report, inputs: ActionInputs, files: PublishedFiles): Promise<void> {
  // Evidence goes first, so the summary and the comment only point at an artifact that exists.
  const artifactName = evidenceName(report);
  const uploaded = inputs.mode !== 'comment' && inputs['upload-evidence'] && (await uploadEvidence({ name: artifactName, rootDirectory: files.evidenceDir }));
  const fullReportHint = `Full report: this run's job summary${uploaded ? ` and the \`${artifactName}\` artifact` : ''}.`;
  const footer = uploaded ? `\n<sub>Evidence (report.json, report.md, rerun logs, produced artifacts): the \`${artifactName}\` artifact of this run.</sub>\n` : '';
  await writeJobSummary(fitBytes(report, SUMMARY_MAX_BYTES - Buffer.byteLength(footer), { fullReportHint }) + footer);
  emitAnnotations(annotationsFor(report));
  const audit = inputs.mode === 'audit';
  const commentUrl = audit ? undefined : await publishComment(report, inputs, fullReportHint);
  const issueUrl = audit ? await publishAuditIssue(report, inputs, fullReportHint) : undefined;
  const drifted = report.records.filter((record) => record.verdict === 'drift').map((record) => record.name);
  core.setOutput('verdict', report.verdict);
  core.setOutput('report-json', files.json);
  core.setOutput('report-markdown', files.markdown);
  core.setOutput('comment-url', commentUrl ?? '');
  core.setOutput('issue-url', issueUrl ?? '');
  core.setOutput('provenance', files.attestation?.statement ?? '');
  core.setOutput('predicate', files.attestation?.predicate ?? '');
  core.setOutput('subject-checksums', files.attestation?.checksums ?? '');
  core.setOutput('drifted', JSON.stringify(drifted));
  if (shouldFail(report.verdict, inputs['fail-on'])) {
    const names = report.records.filter((record) => record.verdict === report.verdict).map((record) => record.name);
    core.setFailed(`repro-gate: ${report.verdict} in ${names.join(', ')}`);
  }
  // Independent of the verdict: a loosened record can reproduce perfectly under its new, weaker rules.
  const loosened = inputs['fail-on-loosened'] ? loosenedFailure(report) : undefined;
  if (loosened) core.setFailed(loosened);
}
