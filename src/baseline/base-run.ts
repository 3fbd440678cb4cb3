import { UserError } from '../errors.js';
import type { GitHubClient } from '../publish/octokit.js';

export interface Repository {
  owner: string;
  repo: string;
}

export interface BaseRun {
  id: number;
  htmlUrl: string;
}

/** The pull request's base: the branch it merges into and, when the event names it, the commit it was compared with. */
export interface PullRequestBase {
  branch: string;
  commit?: string;
}

/** Successful push runs are listed newest first; the base commit's run is looked for among these only. */
const RUNS_LISTED = 30;

/**
 * The successful push run, on the base branch, of the workflow this run belongs to (looked up from the run itself: a
 * reusable workflow's jobs belong to the caller's workflow, which is the one that also runs on the base branch): the
 * run of the base commit when it is among the latest listed, else the latest.
 */
export async function baseBranchRun(octokit: GitHubClient, repository: Repository, currentRunId: number, base: PullRequestBase): Promise<BaseRun> {
  const { data: current } = await octokit.rest.actions.getWorkflowRun({ ...repository, run_id: currentRunId });
  // The branch filter matches a run's head branch by name, so a pull request whose head branch is named like the base
  // (a fork's own `main`) would be listed too, with evidence made by the pull request's code: only push runs count.
  const { data } = await octokit.rest.actions.listWorkflowRuns({
    ...repository,
    workflow_id: current.workflow_id,
    branch: base.branch,
    event: 'push',
    status: 'success',
    per_page: RUNS_LISTED,
  });
  // A push run's head is always this repository; checked anyway so a fork's evidence is never taken on the filter's word.
  const ownRuns = data.workflow_runs.filter((candidate) => candidate.head_repository?.id === candidate.repository.id);
  // The base commit's run holds what the pull request was built on; a later push to the base branch may not.
  const run = ownRuns.find((candidate) => base.commit !== undefined && candidate.head_sha === base.commit) ?? ownRuns[0];
  if (!run) {
    throw new UserError(
      `no successful run of workflow "${current.name ?? current.workflow_id}" on ${base.branch} yet`,
      `A pull request gets a baseline once this workflow has succeeded on ${base.branch} with upload-evidence: run it on push to ${base.branch} too.`,
    );
  }
  return { id: run.id, htmlUrl: run.html_url };
}
