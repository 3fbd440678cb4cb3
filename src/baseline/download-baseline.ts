import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { DefaultArtifactClient } from '@actions/artifact';
import { formatSize } from '../environment/cache/size-notation.js';
import { UserError } from '../errors.js';
import { createOctokit } from '../publish/octokit.js';
import { type BaseRun, baseBranchRun, type Repository } from './base-run.js';
import { type EvidenceArtifact, evidenceArtifactsOf } from './evidence-artifacts.js';
import { BASELINE_MAX_SIZE_ENV, baselineSizeCap } from './size-cap.js';

// A baseline is a bonus (element-by-element comparison of numeric artifacts), so like the Actions cache, every way
// of not getting one is a warning and the check goes on without it.

export interface BaselineLog {
  info(line: string): void;
  warning(line: string): void;
}

export interface BaselineRequest {
  token: string;
  repository: Repository;
  /** This workflow run (GITHUB_RUN_ID): its workflow is the one whose base-branch run holds the baseline. */
  runId: number;
  /** The pull request's base branch. */
  branch: string;
  /** The base commit the pull request was compared with (`pull_request.base.sha`): its run is preferred to the latest. */
  baseCommit?: string;
  /** The folder to create the baseline folder in (the runner's temporary folder). */
  tempRoot: string;
  log: BaselineLog;
}

const PERMISSION_HINT = 'Grant `actions: read` to the job (`permissions:` in the workflow), or set `baseline: none`.';

function withinCap(artifacts: EvidenceArtifact[], run: BaseRun): void {
  const total = artifacts.reduce((sum, artifact) => sum + artifact.sizeInBytes, 0);
  const cap = baselineSizeCap();
  if (total <= cap.bytes) return;
  throw new UserError(
    `the evidence of ${run.htmlUrl} is ${formatSize(total)} in ${artifacts.length} artifact(s), over the ${formatSize(cap.bytes)} limit (${cap.source})`,
    `Raise it with ${BASELINE_MAX_SIZE_ENV} (e.g. ${BASELINE_MAX_SIZE_ENV}=8GiB), or set \`baseline: none\`.`,
  );
}

/** Unpacks one artifact into `<folder>/<artifact name>`; a failed or corrupted download leaves nothing behind. */
async function unpack(request: BaselineRequest, run: BaseRun, artifact: EvidenceArtifact, folder: string): Promise<boolean> {
  const target = path.join(folder, artifact.name);
  try {
    const { digestMismatch } = await new DefaultArtifactClient().downloadArtifact(artifact.id, {
      path: target,
      expectedHash: artifact.digest,
      findBy: { token: request.token, workflowRunId: run.id, repositoryOwner: request.repository.owner, repositoryName: request.repository.repo },
    });
    if (!digestMismatch) return true;
    request.log.warning(`Baseline: artifact ${artifact.name} of ${run.htmlUrl} is not what was uploaded (its sha256 differs from the recorded digest); it is not used.`);
  } catch (error) {
    request.log.warning(`Baseline: artifact ${artifact.name} of ${run.htmlUrl} could not be downloaded: ${(error as Error).message}`);
  }
  await rm(target, { recursive: true, force: true });
  return false;
}

async function download(request: BaselineRequest): Promise<string | undefined> {
  const octokit = createOctokit(request.token);
  const run = await baseBranchRun(octokit, request.repository, request.runId, { branch: request.branch, commit: request.baseCommit });
  const artifacts = await evidenceArtifactsOf(octokit, request.repository, run.id);
  if (artifacts.length === 0) {
    throw new UserError(
      `${run.htmlUrl}, the successful run on ${request.branch} taken as baseline, has no repro-gate evidence artifact (or it expired)`,
      'The base branch\'s run must verify with `upload-evidence: true` (the default).',
    );
  }
  withinCap(artifacts, run);
  const folder = await mkdtemp(path.join(request.tempRoot, 'repro-gate-baseline-'));
  let unpacked = 0;
  // One at a time: each may be gigabytes of model weights.
  for (const artifact of artifacts) {
    if (await unpack(request, run, artifact, folder)) unpacked += 1;
  }
  if (unpacked === 0) {
    await rm(folder, { recursive: true, force: true });
    return undefined;
  }
  request.log.info(`Baseline: ${unpacked} evidence artifact(s) of ${run.htmlUrl} (${request.branch}) in ${folder}`);
  return folder;
}

function reason(error: unknown): string {
  if (error instanceof UserError) return `${error.message}. ${error.hint ?? ''}`.trim();
  const message = error instanceof Error ? error.message : String(error);
  const status = (error as { status?: unknown }).status;
  // The workflow token answers 403 without `actions: read`; a private repository's API answers 404 instead.
  if (status === 403 || status === 404) return `the token may not read this repository's workflow runs (${status}: ${message}). ${PERMISSION_HINT}`;
  return `could not fetch the base branch's evidence: ${message}`;
}

/**
 * Downloads the evidence of this workflow's successful push run on the pull request's base branch (see baseBranchRun) and
 * returns the folder holding it (one subfolder per artifact), or undefined after a warning saying why not.
 */
export async function downloadBaseline(request: BaselineRequest): Promise<string | undefined> {
  if (!request.token) {
    request.log.warning('No baseline: input "github-token" is empty. Leave it at its default (`${{ github.token }}`), or set `baseline: none`.');
    return undefined;
  }
  try {
    return await download(request);
  } catch (error) {
    request.log.warning(`No baseline from ${request.branch}: ${reason(error)}`);
    return undefined;
  }
}
