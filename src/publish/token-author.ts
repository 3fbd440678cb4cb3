import type { GitHubClient } from './octokit.js';

// Who the workflow token writes as, so the sticky comment and the audit issue are only ever found among our own.

export interface CommentLog {
  info(message: string): void;
  warning(message: string): void;
}

/**
 * Whose comments (or issues) can be ours. `GET /user` names a personal token's user; it is refused to installation
 * tokens (the workflow's GITHUB_TOKEN, GitHub Apps), which write as a bot: then any bot's that starts with our marker.
 */
export type Author = { login: string } | { anyBot: true };

export function httpStatus(error: unknown): number | undefined {
  const status = (error as { status?: unknown }).status;
  return typeof status === 'number' ? status : undefined;
}

export async function tokenAuthor(octokit: GitHubClient): Promise<Author> {
  try {
    return { login: (await octokit.rest.users.getAuthenticated()).data.login };
  } catch (error) {
    if (httpStatus(error) === 403) return { anyBot: true };
    throw error;
  }
}

export function isAuthor(author: Author, user: { login: string; type: string } | null | undefined): boolean {
  return 'login' in author ? user?.login === author.login : user?.type === 'Bot';
}

/** A refused or failed write is a warning, never the step's failure: `what` was not written, and why. */
export function warnFailedWrite(log: CommentLog, what: string, error: unknown, permissionHint: string): void {
  const status = httpStatus(error);
  const reason = (error as Error).message;
  if (status === 403 || status === 404) log.warning(`Could not write ${what} (HTTP ${status}: ${reason}). ${permissionHint}`);
  else log.warning(`Could not write ${what}${status ? ` (HTTP ${status})` : ''}: ${reason}`);
}
