import { getOctokit } from '@actions/github';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Standin, startStandin } from '../support/standin/index.js';

// The stand-in's repository issues, driven by a real octokit as the action's client is: the listing (pull requests
// among the issues, paged with Link headers), creating, closing and commenting as the token's bot, and GitHub's 403
// to a token without `issues: write`.

const OWNER = 'octo-org';
const NOT_ACCESSIBLE = 'Resource not accessible by integration';

describe('GitHub stand-in: repository issues', () => {
  let standin: Standin;
  let octokit: ReturnType<typeof getOctokit>;
  let repoCount = 0;
  /** A repository of its own per test. */
  const newRepo = () => `issues-${++repoCount}`;

  beforeAll(async () => {
    standin = await startStandin();
    octokit = getOctokit(standin.token, { baseUrl: standin.apiUrl });
  });

  afterEach(() => {
    standin.setTokenPermissions({});
    expect(standin.validationErrors.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    await standin.close();
  });

  it('pages the listing with Link headers, pull requests included, open by default, by state when asked', async () => {
    const repo = newRepo();
    standin.seedIssues(OWNER, repo, [
      { title: 'one', body: 'first', login: 'alice' },
      { title: 'two', login: 'bob' },
      { title: 'gone', login: 'alice', state: 'closed', stateReason: 'not_planned' },
      { title: 'a pull request', body: 'fixes #1', login: 'carol', pullRequest: true },
      { title: 'three', login: 'alice' },
      { title: 'done', login: 'bob', state: 'closed' },
      { title: 'four', login: 'dave' },
      { title: 'five', login: 'alice' },
    ]);
    const before = standin.requests.length;

    const open = await octokit.paginate(octokit.rest.issues.listForRepo, { owner: OWNER, repo, per_page: 2 });
    // Newest first: 8, 7, 5, 4 (the pull request), 2, 1; closed 3 and 6 are left out.
    expect(open.map((issue) => issue.number)).toEqual([8, 7, 5, 4, 2, 1]);
    expect(open.map((issue) => issue.title)).toEqual(['five', 'four', 'three', 'a pull request', 'two', 'one']);
    expect(open.filter((issue) => issue.pull_request).map((issue) => [issue.number, issue.pull_request!.html_url])).toEqual([
      [4, `https://github.com/${OWNER}/${repo}/pull/4`],
    ]);
    expect(open.find((issue) => issue.number === 1)).toMatchObject({ body: 'first', state: 'open', state_reason: null, user: { login: 'alice' }, comments: 0 });
    expect(open.find((issue) => issue.number === 2)!.body).toBeNull();
    const pages = standin.requests.slice(before).map((request) => [request.method, request.path, request.status]);
    expect(pages).toEqual([1, 2, 3].map((page) => ['GET', `/repos/${OWNER}/${repo}/issues?per_page=2${page > 1 ? `&page=${page}` : ''}`, 200]));

    const first = await octokit.rest.issues.listForRepo({ owner: OWNER, repo, per_page: 4 });
    expect(first.data).toHaveLength(4);
    expect(first.headers.link).toContain(`page=2>; rel="next"`);
    expect(first.headers.link).toContain(`page=2>; rel="last"`);
    const second = await octokit.rest.issues.listForRepo({ owner: OWNER, repo, per_page: 4, page: 2 });
    expect(second.data.map((issue) => issue.number)).toEqual([2, 1]);
    expect(second.headers.link).toContain('rel="prev"');
    expect(second.headers.link).not.toContain('rel="next"');

    const closed = await octokit.paginate(octokit.rest.issues.listForRepo, { owner: OWNER, repo, state: 'closed' });
    expect(closed.map((issue) => [issue.number, issue.state, issue.state_reason])).toEqual([
      [6, 'closed', 'completed'],
      [3, 'closed', 'not_planned'],
    ]);
    const all = await octokit.paginate(octokit.rest.issues.listForRepo, { owner: OWNER, repo, state: 'all', per_page: 3 });
    expect(all.map((issue) => issue.number)).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
  });

  it('creates an issue as the bot after the numbers taken, closes it as completed and comments on it', async () => {
    const repo = newRepo();
    standin.seedIssues(OWNER, repo, [{ title: 'old', login: 'alice' }, { number: 12, title: 'a pull request', login: 'bob', pullRequest: true }]);
    standin.seedPullRequest(OWNER, repo, { number: 20, headSha: 'a'.repeat(40) });
    standin.seedComments(OWNER, repo, 25, [{ body: 'on a pull request no test seeded', login: 'carol' }]);

    const created = await octokit.rest.issues.create({ owner: OWNER, repo, title: 'Reproducibility drift on main', body: 'wine-mlp drifted' });
    expect(created.status).toBe(201);
    expect(created.data).toMatchObject({ number: 26, title: 'Reproducibility drift on main', body: 'wine-mlp drifted', state: 'open', user: { login: standin.botLogin } });
    expect(created.headers.location).toBe(`${standin.apiUrl}/repos/${OWNER}/${repo}/issues/26`);
    expect(created.data.pull_request).toBeUndefined();

    const commented = await octokit.rest.issues.createComment({ owner: OWNER, repo, issue_number: 26, body: 'still drifting' });
    expect(commented.status).toBe(201);
    expect(commented.data.html_url).toBe(`https://github.com/${OWNER}/${repo}/issues/26#issuecomment-${commented.data.id}`);
    const listed = await octokit.paginate(octokit.rest.issues.listComments, { owner: OWNER, repo, issue_number: 26 });
    expect(listed.map((comment) => [comment.user!.login, comment.body])).toEqual([[standin.botLogin, 'still drifting']]);

    const closed = await octokit.rest.issues.update({ owner: OWNER, repo, issue_number: 26, title: 'Drift fixed', state: 'closed', state_reason: 'completed' });
    expect(closed.data).toMatchObject({ number: 26, title: 'Drift fixed', body: 'wine-mlp drifted', state: 'closed', state_reason: 'completed', comments: 1 });
    expect(closed.data.closed_at).not.toBeNull();
    expect(closed.data.closed_by?.login).toBe(standin.botLogin);

    const stored = standin.issues(OWNER, repo).find((issue) => issue.number === 26)!;
    expect([stored.title, stored.body, stored.state, stored.state_reason, stored.user.login, stored.comments]).toEqual([
      'Drift fixed',
      'wine-mlp drifted',
      'closed',
      'completed',
      standin.botLogin,
      1,
    ]);
    expect(standin.comments(OWNER, repo, 26).map((comment) => comment.body)).toEqual(['still drifting']);
    expect(standin.issues(OWNER, repo).map((issue) => issue.number)).toEqual([1, 12, 26]);

    // Reopening defaults the reason; an unknown number is GitHub's 404.
    const reopened = await octokit.rest.issues.update({ owner: OWNER, repo, issue_number: 26, state: 'open' });
    expect([reopened.data.state, reopened.data.state_reason, reopened.data.closed_at]).toEqual(['open', 'reopened', null]);
    await expect(octokit.rest.issues.update({ owner: OWNER, repo, issue_number: 99, state: 'closed' })).rejects.toMatchObject({ status: 404 });
  });

  it('refuses writes to issues without issues: write, and everything with issues: none, as GitHub does', async () => {
    const repo = newRepo();
    const [issue, pull] = standin.seedIssues(OWNER, repo, [
      { title: 'an issue', login: 'alice' },
      { title: 'a pull request', login: 'bob', pullRequest: true },
    ]);
    standin.seedComments(OWNER, repo, issue!.number, [{ body: 'seen it', login: 'bob' }]);
    standin.setTokenPermissions({ issues: 'read' });

    const refused = { status: 403, response: { data: { message: NOT_ACCESSIBLE, documentation_url: 'https://docs.github.com/rest/issues/issues#create-an-issue' } } };
    await expect(octokit.rest.issues.create({ owner: OWNER, repo, title: 'not allowed' })).rejects.toMatchObject(refused);
    await expect(octokit.rest.issues.update({ owner: OWNER, repo, issue_number: issue!.number, state: 'closed' })).rejects.toMatchObject({ status: 403 });
    await expect(octokit.rest.issues.createComment({ owner: OWNER, repo, issue_number: issue!.number, body: 'no' })).rejects.toMatchObject({
      status: 403,
      response: { data: { message: NOT_ACCESSIBLE } },
    });
    const [seen] = standin.comments(OWNER, repo, issue!.number);
    await expect(octokit.rest.issues.updateComment({ owner: OWNER, repo, comment_id: seen!.id, body: 'edited' })).rejects.toMatchObject({ status: 403 });
    expect(standin.issues(OWNER, repo).map((stored) => [stored.number, stored.state])).toEqual([
      [1, 'open'],
      [2, 'open'],
    ]);
    expect(standin.comments(OWNER, repo, issue!.number).map((comment) => comment.body)).toEqual(['seen it']);

    // Reading is allowed, and a pull request's comments are not an issue's.
    expect((await octokit.rest.issues.listForRepo({ owner: OWNER, repo })).data).toHaveLength(2);
    expect((await octokit.rest.issues.listComments({ owner: OWNER, repo, issue_number: issue!.number })).data).toHaveLength(1);
    await octokit.rest.issues.createComment({ owner: OWNER, repo, issue_number: pull!.number, body: 'report' });
    expect(standin.comments(OWNER, repo, pull!.number).map((comment) => comment.body)).toEqual(['report']);

    standin.setTokenPermissions({ issues: 'none' });
    await expect(octokit.rest.issues.listForRepo({ owner: OWNER, repo })).rejects.toMatchObject({ status: 403, response: { data: { message: NOT_ACCESSIBLE } } });
    await expect(octokit.rest.issues.listComments({ owner: OWNER, repo, issue_number: issue!.number })).rejects.toMatchObject({ status: 403 });

    // The Actions permission alone, as the existing tests set it, leaves issues writable.
    standin.setTokenPermissions({ actions: 'none' });
    expect((await octokit.rest.issues.create({ owner: OWNER, repo, title: 'allowed' })).data.number).toBe(3);
  });
});
