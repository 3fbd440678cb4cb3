import { z } from 'zod';

// Which pull request a report belongs to comes only from the event GitHub delivered, never from a report:
// in the fork-safe flow the report is an artifact the fork's code wrote, and it could claim any PR.

const PullRequestEvent = z.object({ pull_request: z.object({ number: z.number().int().positive() }) });
const WorkflowRunEvent = z.object({
  workflow_run: z.object({
    event: z.string(),
    head_sha: z.string(),
    head_branch: z.string().nullable().default(null),
    head_repository: z.object({ owner: z.object({ login: z.string() }) }).nullable().default(null),
    pull_requests: z.array(z.object({ number: z.number().int().positive(), head: z.object({ sha: z.string() }) })).default([]),
  }),
});

type PullRequest = { number: number; state: string; head: { sha: string } };

export interface PullRequestLookup {
  /** PRs whose head is this commit (`GET /repos/{owner}/{repo}/commits/{sha}/pulls`). */
  pullRequestsForCommit(sha: string): Promise<PullRequest[]>;
  /** Open PRs into this repository from `owner:branch` (`GET /repos/{owner}/{repo}/pulls?head=`). */
  openPullRequestsFrom(owner: string, branch: string): Promise<PullRequest[]>;
}

/** The PR to comment on, or undefined when the event is not about one (then only the job summary is written). */
export async function pullRequestFor(eventName: string, payload: unknown, lookup: PullRequestLookup): Promise<number | undefined> {
  if (eventName === 'pull_request' || eventName === 'pull_request_target') {
    return PullRequestEvent.safeParse(payload).data?.pull_request.number;
  }
  if (eventName !== 'workflow_run') return undefined;
  const run = WorkflowRunEvent.safeParse(payload).data?.workflow_run;
  if (!run || (run.event !== 'pull_request' && run.event !== 'pull_request_target')) return undefined;
  const direct = run.pull_requests.find((pr) => pr.head.sha === run.head_sha);
  if (direct) return direct.number;
  // Pull requests from forks are not listed in the event. The head commit may lead to them; when the commit
  // lookup knows nothing of a fork's commit, the fork's branch does. Either way the PR's head must be this commit.
  const matching = (candidates: PullRequest[]) => candidates.find((pr) => pr.state === 'open' && pr.head.sha === run.head_sha)?.number;
  const byCommit = matching(await lookup.pullRequestsForCommit(run.head_sha));
  if (byCommit !== undefined || !run.head_branch || !run.head_repository) return byCommit;
  return matching(await lookup.openPullRequestsFrom(run.head_repository.owner.login, run.head_branch));
}
