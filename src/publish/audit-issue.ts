import type { GitHubClient } from './octokit.js';
import { type Author, type CommentLog, isAuthor, tokenAuthor, warnFailedWrite } from './token-author.js';

// A scheduled audit's one sticky issue: found by its hidden marker among the open issues the token opened (all
// pages; pull requests, which the issue list includes, are skipped), opened or updated on drift, closed when green.

const PERMISSION_HINT = 'Give the audit job `permissions: issues: write` (and nothing else).';

export interface AuditIssueRequest {
  octokit: GitHubClient;
  owner: string;
  repo: string;
  marker: string;
  title: string;
  /** The report, in markdown. */
  body: string;
  /** Whether the audit found drift or errors: the issue is opened or updated; otherwise an open one is closed. */
  failing: boolean;
  log: CommentLog;
}

export type AuditIssueOutcome = { action: 'created' | 'updated' | 'closed'; url: string } | { action: 'none' };

async function findAuditIssue(request: AuditIssueRequest, author: Author): Promise<{ number: number; url: string } | undefined> {
  const { octokit, owner, repo, marker } = request;
  const pages = octokit.paginate.iterator(octokit.rest.issues.listForRepo, { owner, repo, state: 'open', per_page: 100 });
  for await (const page of pages) {
    // An edit in the web UI saves the body with CRLF line ends.
    const found = page.data.find((issue) => !issue.pull_request && isAuthor(author, issue.user) && /^\r?\n/.test(issue.body?.slice(marker.length) ?? '') && issue.body?.startsWith(marker));
    if (found) return { number: found.number, url: found.html_url };
  }
  return undefined;
}

async function writeAuditIssue(request: AuditIssueRequest): Promise<AuditIssueOutcome> {
  const { octokit, owner, repo, marker, title, body, failing, log } = request;
  const existing = await findAuditIssue(request, await tokenAuthor(octokit));
  const fullBody = `${marker}\n${body}`;
  if (failing && existing) {
    await octokit.rest.issues.update({ owner, repo, issue_number: existing.number, title, body: fullBody });
    log.info(`Updated the audit issue: ${existing.url}`);
    return { action: 'updated', url: existing.url };
  }
  if (failing) {
    const { data } = await octokit.rest.issues.create({ owner, repo, title, body: fullBody });
    log.info(`Opened the audit issue: ${data.html_url}`);
    return { action: 'created', url: data.html_url };
  }
  if (!existing) {
    log.info('Every record reproduced at its recorded commit, and no audit issue is open: nothing to do.');
    return { action: 'none' };
  }
  await octokit.rest.issues.createComment({ owner, repo, issue_number: existing.number, body: `Every record reproduces again at its recorded commit: closing.\n\n${body}` });
  await octokit.rest.issues.update({ owner, repo, issue_number: existing.number, state: 'closed', state_reason: 'completed' });
  log.info(`Closed the audit issue: ${existing.url}`);
  return { action: 'closed', url: existing.url };
}

/** Opens, updates or closes the audit issue. A refused or failed write is a warning: the verdict decides the job. */
export async function syncAuditIssue(request: AuditIssueRequest): Promise<AuditIssueOutcome> {
  try {
    return await writeAuditIssue(request);
  } catch (error) {
    warnFailedWrite(request.log, 'the audit issue', error, PERMISSION_HINT);
    return { action: 'none' };
  }
}
