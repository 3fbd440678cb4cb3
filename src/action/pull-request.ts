import { z } from 'zod';

// Which pull request a report belongs to comes only from the event GitHub delivered, never from a report:
// in the fork-safe flow the report is an artifact the fork's code wrote, and it could claim any PR.

const PullRequestEvent = z.object({ pull_request: z.object({ number: z.number().int().positive() }) });
const WorkflowRunEvent = z.object({
  workflow_run: z.object({
    event: z.string(),
    head_sha: z.string(),
    pull_requests: z.array(z.object({ number: z.number().int().positive(), head: z.object({ sha: z.string() }) })).default([]),
  }),
});

export interface PullRequestLookup {
  /** PRs whose head is this commit (`GET /repos/{owner}/{repo}/commits/{sha}/pulls`). */
  pullRequestsForCommit(sha: string): Promise<Array<{ number: number; state: string; head: { sha: string } }>>;
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
  // Pull requests from forks are not listed in the event; the head commit leads to them.
  const candidates = await lookup.pullRequestsForCommit(run.head_sha);
  return candidates.find((pr) => pr.state === 'open' && pr.head.sha === run.head_sha)?.number;
}
