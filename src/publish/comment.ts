import { createHash } from 'node:crypto';
import { COMMENT_MARKER_PREFIX } from '../constants.js';
import type { GitHubClient } from './octokit.js';
import { type Author, type CommentLog, isAuthor, tokenAuthor, warnFailedWrite } from './token-author.js';

// One sticky comment per workflow job and record set: found by its hidden marker among the token user's
// comments (all pages), updated in place. Modelled on actions/dependency-review-action's comment-pr.ts.

const PERMISSION_HINT =
  'Give the job `permissions: pull-requests: write`. Pull requests from forks only get a read-only token: use the fork-safe flow (docs/fork-prs.md).';


export interface StickyCommentRequest {
  octokit: GitHubClient;
  owner: string;
  repo: string;
  issueNumber: number;
  marker: string;
  body: string;
  /** false: only update an existing comment (`comment: on-drift` on a reproduced run). */
  createIfMissing: boolean;
  log: CommentLog;
}

/**
 * Identifies the job and what it checks where, so jobs (or matrix legs) never overwrite each other's comment (or
 * audit issue: `prefix`).
 */
export function stickyMarker(identity: { workflow: string; job: string; scope: string[] }, prefix = COMMENT_MARKER_PREFIX): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([identity.workflow, identity.job, [...identity.scope].sort()]))
    .digest('hex')
    .slice(0, 16);
  return `${prefix}:${digest} -->`;
}

async function findSticky(request: StickyCommentRequest, author: Author): Promise<number | undefined> {
  const { octokit, owner, repo, issueNumber, marker } = request;
  const pages = octokit.paginate.iterator(octokit.rest.issues.listComments, { owner, repo, issue_number: issueNumber, per_page: 100 });
  for await (const page of pages) {
    // Ours starts with the marker. A quote, or a log line that prints a marker, sits further in and never matches.
    const found = page.data.find((comment) => isAuthor(author, comment.user) && comment.body?.startsWith(`${marker}\n`));
    if (found) return found.id;
  }
  return undefined;
}

/** Creates or updates the sticky comment; returns its URL. A refused or failed write is a warning: the verdict decides the step. */
export async function upsertStickyComment(request: StickyCommentRequest): Promise<{ url?: string }> {
  const { octokit, owner, repo, issueNumber, marker, body, log } = request;
  const fullBody = `${marker}\n${body}`;
  try {
    const existing = await findSticky(request, await tokenAuthor(octokit));
    if (existing !== undefined) {
      const { data } = await octokit.rest.issues.updateComment({ owner, repo, comment_id: existing, body: fullBody });
      log.info(`Updated the repro-gate comment: ${data.html_url}`);
      return { url: data.html_url };
    }
    if (!request.createIfMissing) {
      log.info('Reproduced and no earlier repro-gate comment: nothing to comment (comment: on-drift).');
      return {};
    }
    const { data } = await octokit.rest.issues.createComment({ owner, repo, issue_number: issueNumber, body: fullBody });
    log.info(`Posted the repro-gate comment: ${data.html_url}`);
    return { url: data.html_url };
  } catch (error) {
    warnFailedWrite(log, `the PR comment on #${issueNumber}`, error, PERMISSION_HINT);
    return {};
  }
}
