import { z } from 'zod';

const PULL_REQUEST_EVENTS = new Set(['pull_request', 'pull_request_target']);

// The commit is optional (and dropped when malformed) so that the branch, which alone decides whether there is a
// baseline at all, never depends on it.
const PullRequestEvent = z.object({
  pull_request: z.object({ base: z.object({ ref: z.string().min(1), sha: z.string().min(1).optional().catch(undefined) }) }),
});

function pullRequestBase(eventName: string, payload: unknown): { ref: string; sha?: string } | undefined {
  if (!PULL_REQUEST_EVENTS.has(eventName)) return undefined;
  return PullRequestEvent.safeParse(payload).data?.pull_request.base;
}

/** The branch a pull request merges into, from the event GitHub delivered; undefined for any other event. */
export function baseBranchOf(eventName: string, payload: unknown): string | undefined {
  return pullRequestBase(eventName, payload)?.ref;
}

/** The commit of the base branch the pull request was compared with when the event was delivered. */
export function baseCommitOf(eventName: string, payload: unknown): string | undefined {
  return pullRequestBase(eventName, payload)?.sha;
}
