import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { PROJECT_ROOT } from '../fixture-repo.js';
import { sendJson } from './http.js';
import type { OpenApiValidator } from './openapi.js';
import type { UploadedArtifact } from './results-service.js';

// The REST endpoints the action calls, with GitHub's behaviour where it matters: pagination with Link
// headers, GET /user refused to an installation token, comments authored by the token's bot user, the Actions
// endpoints refused to a token without `actions: read`, the repository's issues (pull requests among them, as the
// issues endpoints list them) refused to a token without `issues: write` (or `read`), and artifact downloads
// redirected to blob storage.
// Objects are built from the OpenAPI description's own examples, so their shape is GitHub's.

const EXAMPLES = (
  JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'test', 'fixtures', 'github-openapi-subset.json'), 'utf8')) as {
    components: { examples: Record<string, { value: any }> };
  }
).components.examples;

/** The workflow token comments as this bot; `GET /user` is "not accessible by integration" for it. */
export const ACTIONS_BOT = { login: 'github-actions[bot]', id: 41898282 };
const DOCS = 'https://docs.github.com/rest';

export interface IssueComment {
  id: number;
  body: string;
  html_url: string;
  user: { login: string };
  [field: string]: unknown;
}

export type IssueState = 'open' | 'closed';
export type IssueStateReason = 'completed' | 'reopened' | 'not_planned' | 'duplicate';

/** An issue of the repository as GitHub answers it; a pull request as the issues endpoints list it has `pull_request`. */
export interface RepositoryIssue {
  number: number;
  title: string;
  body: string | null;
  state: IssueState;
  state_reason: IssueStateReason | null;
  user: { login: string };
  /** How many comments it has, as on GitHub; the comments themselves are `comments(owner, repo, number)`. */
  comments: number;
  pull_request?: { url: string; html_url: string; diff_url: string; patch_url: string; merged_at: string | null };
  [field: string]: unknown;
}

/** An issue, or a pull request as the issues endpoints list it (`pullRequest`), by any author in any state. */
export interface SeededIssue {
  /** After the repository's existing issue and pull request numbers when not given. */
  number?: number;
  title: string;
  body?: string | null;
  login: string;
  /** `open` when not given. */
  state?: IssueState;
  /** `completed` for a closed issue and null for an open one when not given. */
  stateReason?: IssueStateReason | null;
  pullRequest?: boolean;
}

/** A PR from a fork (`fromFork`) is, as on GitHub, not always found by `commits/{sha}/pulls`; its branch finds it. */
export interface SeededPullRequest {
  number: number;
  headSha: string;
  headOwner?: string;
  headBranch?: string;
  fromFork?: boolean;
}

/** A workflow run of the repository; its artifacts are ones the results service received (an earlier action run's). */
export interface SeededWorkflowRun {
  id: number;
  workflowId: number;
  headBranch: string;
  /** The commit the run ran on; the description's example commit when not given. */
  headSha?: string;
  event: string;
  status: 'completed' | 'in_progress';
  conclusion: 'success' | 'failure' | null;
  /** A pull request's run from a fork: its head repository is the fork, whatever its branch is called. */
  fromFork?: boolean;
  artifacts?: Array<UploadedArtifact & { expired?: boolean }>;
}

/**
 * What the workflow token may do; a permission left out has its default (`actions: read`, `issues: write`). GitHub
 * answers 403 to an Actions endpoint when `actions` is `none`, and to a write to an issue (creating or updating it,
 * commenting on it) without `issues: write`, or a read of it with `issues: none`. Comments on a pull request are not
 * an issue's, so they are not refused.
 */
export interface TokenPermissions {
  actions?: 'read' | 'none';
  issues?: 'write' | 'read' | 'none';
}

const DEFAULT_PERMISSIONS: Required<TokenPermissions> = { actions: 'read', issues: 'write' };

/** The fields of the request bodies the stand-in reads. */
interface RequestFields {
  body?: string | null;
  title?: string | number | null;
  state?: IssueState;
  state_reason?: IssueStateReason | null;
}

const timestamp = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export interface InjectedFailure {
  method: string;
  path: RegExp;
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  times?: number;
}

function simpleUser(login: string, id: number): Record<string, unknown> {
  const template = EXAMPLES['issue-comment']!.value.user as Record<string, unknown>;
  // URLs carry the login percent-encoded, as GitHub's do (`github-actions%5Bbot%5D`).
  const user = Object.fromEntries(
    Object.entries(template).map(([key, value]) => [key, typeof value === 'string' ? value.replaceAll('octocat', encodeURIComponent(login)) : value]),
  );
  const bot = login.endsWith('[bot]');
  return { ...user, login, id, node_id: Buffer.from(`04:${bot ? 'Bot' : 'User'}${id}`).toString('base64'), type: bot ? 'Bot' : 'User' };
}

/** The repository the stand-in serves, as the examples' `minimal-repository`, renamed; a fork keeps the example's other repository. */
function repositoryOf(owner: string, repo: string, fork: boolean): Record<string, unknown> {
  const template = EXAMPLES['workflow-run']!.value as Record<string, any>;
  if (fork) return template.head_repository as Record<string, unknown>;
  return { ...template.repository, name: repo, full_name: `${owner}/${repo}`, owner: { ...template.repository.owner, login: owner } };
}

function workflowRunObject(api: string, owner: string, repo: string, run: SeededWorkflowRun): Record<string, unknown> {
  const template = EXAMPLES['workflow-run']!.value as Record<string, any>;
  const url = `${api}/repos/${owner}/${repo}/actions/runs/${run.id}`;
  return {
    ...template,
    id: run.id,
    workflow_id: run.workflowId,
    head_branch: run.headBranch,
    head_sha: run.headSha ?? template.head_sha,
    event: run.event,
    status: run.status,
    conclusion: run.conclusion,
    url,
    html_url: `https://github.com/${owner}/${repo}/actions/runs/${run.id}`,
    artifacts_url: `${url}/artifacts`,
    workflow_url: `${api}/repos/${owner}/${repo}/actions/workflows/${run.workflowId}`,
    repository: repositoryOf(owner, repo, false),
    head_repository: repositoryOf(owner, repo, run.fromFork ?? false),
  };
}

function artifactObject(api: string, owner: string, repo: string, run: SeededWorkflowRun, artifact: UploadedArtifact & { expired?: boolean }): Record<string, unknown> {
  const template = EXAMPLES['artifact-paginated']!.value.artifacts[0] as Record<string, any>;
  const url = `${api}/repos/${owner}/${repo}/actions/artifacts/${artifact.id}`;
  return {
    ...template,
    id: artifact.id,
    node_id: Buffer.from(`011:Artifact${artifact.id}`).toString('base64'),
    name: artifact.name,
    size_in_bytes: artifact.size,
    url,
    archive_download_url: `${url}/zip`,
    expired: artifact.expired ?? false,
    digest: artifact.digest,
    workflow_run: { ...template.workflow_run, id: run.id, head_branch: run.headBranch },
  };
}

function pullRequestSimple(pull: SeededPullRequest): Record<string, unknown> {
  const template = EXAMPLES['pull-request-simple-items']!.value[0] as Record<string, any>;
  // The description's own example lacks the now-required `requested_teams[].type`; GitHub's answers carry it.
  return { ...template, number: pull.number, state: 'open', requested_teams: [], head: { ...template.head, sha: pull.headSha, ref: pull.headBranch ?? template.head.ref } };
}

export class GitHubRestStandin {
  private readonly issueComments = new Map<string, IssueComment[]>();
  private readonly pullRequests = new Map<string, SeededPullRequest[]>();
  private readonly failures: InjectedFailure[] = [];
  private readonly workflowRuns = new Map<string, SeededWorkflowRun[]>();
  private readonly repositoryIssues = new Map<string, RepositoryIssue[]>();
  private permissions: Required<TokenPermissions> = DEFAULT_PERMISSIONS;
  private nextCommentId = 1_000_001;
  private nextIssueId = 2_000_001;
  private readonly userIds = new Map<string, number>([[ACTIONS_BOT.login, ACTIONS_BOT.id]]);

  constructor(
    private readonly options: {
      apiUrl: () => string;
      token: string;
      validator: OpenApiValidator;
      report: (problem: string) => void;
      /** The signed blob-storage URL an artifact download redirects to. */
      artifactDownloadUrl: (artifact: UploadedArtifact) => string;
    },
  ) {}

  comments(owner: string, repo: string, issueNumber: number): IssueComment[] {
    return this.issueComments.get(`${owner}/${repo}#${issueNumber}`) ?? [];
  }

  seedComments(owner: string, repo: string, issueNumber: number, comments: Array<{ body: string; login: string }>): void {
    for (const comment of comments) this.addComment(owner, repo, issueNumber, comment.body, comment.login);
  }

  /** The repository's issues and the pull requests seeded as issues, in the order they were seeded or created. */
  issues(owner: string, repo: string): RepositoryIssue[] {
    return this.repositoryIssues.get(`${owner}/${repo}`) ?? [];
  }

  seedIssues(owner: string, repo: string, issues: SeededIssue[]): RepositoryIssue[] {
    return issues.map((issue) => {
      const number = issue.number ?? this.nextIssueNumber(owner, repo);
      if (this.issue(owner, repo, number)) throw new Error(`${owner}/${repo}#${number} is already an issue`);
      const state = issue.state ?? 'open';
      const stateReason = issue.stateReason === undefined ? (state === 'closed' ? 'completed' : null) : issue.stateReason;
      return this.addIssue(owner, repo, { number, title: issue.title, body: issue.body ?? null, login: issue.login, state, stateReason, pullRequest: issue.pullRequest ?? false });
    });
  }

  seedPullRequest(owner: string, repo: string, pull: SeededPullRequest): void {
    const key = `${owner}/${repo}`;
    this.pullRequests.set(key, [...(this.pullRequests.get(key) ?? []), pull]);
  }

  seedWorkflowRun(owner: string, repo: string, run: SeededWorkflowRun): void {
    const key = `${owner}/${repo}`;
    this.workflowRuns.set(key, [...(this.workflowRuns.get(key) ?? []), run]);
  }

  setTokenPermissions(permissions: TokenPermissions): void {
    this.permissions = { ...DEFAULT_PERMISSIONS, ...permissions };
  }

  failNext(failure: InjectedFailure): void {
    this.failures.push({ times: 1, ...failure });
  }

  private userFor(login: string): Record<string, unknown> {
    if (!this.userIds.has(login)) this.userIds.set(login, 5_000 + this.userIds.size);
    return simpleUser(login, this.userIds.get(login)!);
  }

  private issue(owner: string, repo: string, issueNumber: number): RepositoryIssue | undefined {
    return this.issues(owner, repo).find((issue) => issue.number === issueNumber);
  }

  /** Whether the number is an issue's rather than a pull request's (seeded or not: a PR's comments need no seeding). */
  private isIssue(owner: string, repo: string, issueNumber: number): boolean {
    const issue = this.issue(owner, repo, issueNumber);
    return issue !== undefined && !issue.pull_request;
  }

  /** Issues and pull requests share one sequence of numbers; a number with comments is taken by one of them. */
  private nextIssueNumber(owner: string, repo: string): number {
    const key = `${owner}/${repo}`;
    const taken = [
      ...this.issues(owner, repo).map((issue) => issue.number),
      ...(this.pullRequests.get(key) ?? []).map((pull) => pull.number),
      ...[...this.issueComments.keys()].filter((commented) => commented.startsWith(`${key}#`)).map((commented) => Number(commented.slice(key.length + 1))),
    ];
    return taken.reduce((highest, number) => Math.max(highest, number), 0) + 1;
  }

  private addIssue(
    owner: string,
    repo: string,
    issue: { number: number; title: string; body: string | null; login: string; state: IssueState; stateReason: IssueStateReason | null; pullRequest: boolean },
  ): RepositoryIssue {
    const id = this.nextIssueId++;
    const now = timestamp();
    const api = this.options.apiUrl();
    const url = `${api}/repos/${owner}/${repo}/issues/${issue.number}`;
    const web = `https://github.com/${owner}/${repo}`;
    const created: RepositoryIssue = {
      ...(EXAMPLES['issue']!.value as object),
      id,
      // A pull request listed as an issue carries the pull request's node ID.
      node_id: Buffer.from(issue.pullRequest ? `011:PullRequest${id}` : `05:Issue${id}`).toString('base64'),
      url,
      repository_url: `${api}/repos/${owner}/${repo}`,
      labels_url: `${url}/labels{/name}`,
      comments_url: `${url}/comments`,
      events_url: `${url}/events`,
      html_url: `${web}/${issue.pullRequest ? 'pull' : 'issues'}/${issue.number}`,
      number: issue.number,
      state: issue.state,
      state_reason: issue.stateReason,
      title: issue.title,
      body: issue.body,
      user: this.userFor(issue.login) as RepositoryIssue['user'],
      labels: [],
      assignee: null,
      assignees: [],
      milestone: null,
      locked: false,
      active_lock_reason: null,
      comments: this.comments(owner, repo, issue.number).length,
      closed_at: issue.state === 'closed' ? now : null,
      closed_by: null,
      created_at: now,
      updated_at: now,
      author_association: issue.login === ACTIONS_BOT.login ? 'NONE' : 'CONTRIBUTOR',
    };
    if (issue.pullRequest) {
      const pull = `${web}/pull/${issue.number}`;
      created.pull_request = { url: `${api}/repos/${owner}/${repo}/pulls/${issue.number}`, html_url: pull, diff_url: `${pull}.diff`, patch_url: `${pull}.patch`, merged_at: null };
      created.draft = false;
    } else delete created.pull_request;
    this.repositoryIssues.set(`${owner}/${repo}`, [...this.issues(owner, repo), created]);
    return created;
  }

  /** As GitHub: `state_reason` counts only with a change of `state`, which defaults it (`completed`, `reopened`). */
  private updateIssue(issue: RepositoryIssue, fields: RequestFields): void {
    const now = timestamp();
    if (fields.title !== undefined && fields.title !== null) issue.title = String(fields.title);
    if (fields.body !== undefined) issue.body = fields.body;
    if (fields.state !== undefined && fields.state !== issue.state) {
      issue.state = fields.state;
      const closed = fields.state === 'closed';
      issue.state_reason = fields.state_reason ?? (closed ? 'completed' : 'reopened');
      issue.closed_at = closed ? now : null;
      issue.closed_by = closed ? this.userFor(ACTIONS_BOT.login) : null;
    }
    issue.updated_at = now;
  }

  /** The `issues` access an operation needs of the token, if any: comments on a pull request need none of it. */
  private issuesAccessNeeded(operationId: string, params: Record<string, string>): 'read' | 'write' | undefined {
    const { owner = '', repo = '' } = params;
    switch (operationId) {
      case 'issues/list-for-repo':
        return 'read';
      case 'issues/create':
      case 'issues/update':
        return 'write';
      case 'issues/list-comments':
        return this.isIssue(owner, repo, Number(params.issue_number)) ? 'read' : undefined;
      case 'issues/create-comment':
        return this.isIssue(owner, repo, Number(params.issue_number)) ? 'write' : undefined;
      case 'issues/update-comment': {
        const comment = this.comment(Number(params.comment_id));
        return comment && this.isIssue(owner, repo, Number(String(comment.issue_url).split('/').at(-1))) ? 'write' : undefined;
      }
      default:
        return undefined;
    }
  }

  private comment(commentId: number): IssueComment | undefined {
    return [...this.issueComments.values()].flat().find((candidate) => candidate.id === commentId);
  }

  private addComment(owner: string, repo: string, issueNumber: number, body: string, login: string): IssueComment {
    const id = this.nextCommentId++;
    const now = timestamp();
    const api = this.options.apiUrl();
    const comment: IssueComment = {
      ...(EXAMPLES['issue-comment']!.value as object),
      id,
      node_id: Buffer.from(`012:IssueComment${id}`).toString('base64'),
      url: `${api}/repos/${owner}/${repo}/issues/comments/${id}`,
      html_url: `https://github.com/${owner}/${repo}/${this.isIssue(owner, repo, issueNumber) ? 'issues' : 'pull'}/${issueNumber}#issuecomment-${id}`,
      issue_url: `${api}/repos/${owner}/${repo}/issues/${issueNumber}`,
      body,
      user: this.userFor(login) as IssueComment['user'],
      author_association: login === ACTIONS_BOT.login ? 'NONE' : 'CONTRIBUTOR',
      created_at: now,
      updated_at: now,
    };
    const key = `${owner}/${repo}#${issueNumber}`;
    this.issueComments.set(key, [...(this.issueComments.get(key) ?? []), comment]);
    const issue = this.issue(owner, repo, issueNumber);
    if (issue) issue.comments = this.comments(owner, repo, issueNumber).length;
    return comment;
  }

  private takeFailure(method: string, url: URL): InjectedFailure | undefined {
    const failure = this.failures.find((candidate) => candidate.method === method && candidate.path.test(url.pathname + url.search));
    if (failure && --failure.times! <= 0) this.failures.splice(this.failures.indexOf(failure), 1);
    return failure;
  }

  private authorized(request: IncomingMessage): boolean {
    const [scheme, credential] = (request.headers.authorization ?? '').split(' ');
    return /^(token|bearer)$/i.test(scheme ?? '') && credential === this.options.token;
  }

  /** Answers one REST request; returns the status it sent. */
  handle(request: IncomingMessage, response: ServerResponse, url: URL, rawBody: Buffer): number {
    const method = request.method ?? 'GET';
    const operation = this.options.validator.match(method, url);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}, crossCutting = false) => {
      // Gateway errors and rate limits come from GitHub's edge, not the endpoint, so the description leaves them out.
      if (operation && !crossCutting) {
        for (const problem of operation.validateResponse(status, body)) this.options.report(`${operation.operationId}: ${problem}`);
      }
      sendJson(response, status, body, headers);
      return status;
    };
    if (!operation) {
      this.options.report(`${method} ${url.pathname} is not an operation the action should call`);
      return send(404, { message: 'Not Found', documentation_url: DOCS });
    }
    let body: unknown;
    try {
      body = rawBody.length > 0 ? JSON.parse(rawBody.toString('utf8')) : undefined;
    } catch {
      this.options.report(`${operation.operationId}: the request body is not JSON`);
    }
    for (const problem of operation.validateRequest(body)) this.options.report(`${operation.operationId}: ${problem}`);
    if (!this.authorized(request)) return send(401, { message: 'Bad credentials', documentation_url: DOCS, status: '401' });
    if (operation.operationId.startsWith('actions/') && this.permissions.actions === 'none') {
      // The permission check answers before the endpoint does, so the description does not list it.
      const documentation_url = `${DOCS}/actions`;
      return send(403, { message: 'Resource not accessible by integration', documentation_url, status: '403' }, {}, true);
    }
    const issuesAccess = this.issuesAccessNeeded(operation.operationId, operation.pathParams);
    if (issuesAccess && (this.permissions.issues === 'none' || (issuesAccess === 'write' && this.permissions.issues === 'read'))) {
      // Where the description leaves the refusal out (the reads), it is, as above, the permission check's.
      const body = { message: 'Resource not accessible by integration', documentation_url: operation.documentationUrl ?? DOCS, status: '403' };
      return send(403, body, {}, !operation.documents(403));
    }
    const failure = this.takeFailure(method, url);
    if (failure) {
      const body = failure.body ?? { message: 'Server Error', documentation_url: DOCS, status: String(failure.status) };
      const crossCutting = failure.status >= 500 || failure.status === 429 || failure.headers?.['x-ratelimit-remaining'] === '0';
      return send(failure.status, body, failure.headers, crossCutting);
    }
    const redirect = (location: string) => {
      response.writeHead(302, { location, 'content-length': 0 });
      response.end();
      return 302;
    };
    return this.answer(operation.operationId, operation.pathParams, url, body as RequestFields | undefined, send, redirect);
  }

  private answer(
    operationId: string,
    params: Record<string, string>,
    url: URL,
    body: RequestFields | undefined,
    send: Send,
    redirect: (location: string) => number,
  ): number {
    const { owner = '', repo = '' } = params;
    switch (operationId) {
      case 'users/get-authenticated':
        return send(403, { message: 'Resource not accessible by integration', documentation_url: `${DOCS}/users/users#get-the-authenticated-user`, status: '403' });
      case 'issues/list-for-repo': {
        // Newest first unless `direction=asc`; a number is the order of creation.
        const state = url.searchParams.get('state') ?? 'open';
        const ascending = url.searchParams.get('direction') === 'asc';
        const issues = this.issues(owner, repo)
          .filter((issue) => state === 'all' || issue.state === state)
          .sort((a, b) => (ascending ? a.number - b.number : b.number - a.number));
        const { items, headers } = paginate(url, issues);
        return send(200, items, headers);
      }
      case 'issues/create': {
        const number = this.nextIssueNumber(owner, repo);
        const fields = { title: String(body?.title ?? ''), body: body?.body ?? null, login: ACTIONS_BOT.login, state: 'open' as const, stateReason: null };
        const issue = this.addIssue(owner, repo, { number, ...fields, pullRequest: false });
        return send(201, issue, { location: String(issue.url) });
      }
      case 'issues/update': {
        const issue = this.issue(owner, repo, Number(params.issue_number));
        if (!issue) return send(404, { message: 'Not Found', documentation_url: DOCS, status: '404' });
        this.updateIssue(issue, body ?? {});
        return send(200, issue);
      }
      case 'issues/list-comments':
        return this.listComments(owner, repo, Number(params.issue_number), url, send);
      case 'issues/create-comment': {
        const comment = this.addComment(owner, repo, Number(params.issue_number), body?.body ?? '', ACTIONS_BOT.login);
        return send(201, comment, { location: String(comment.url) });
      }
      case 'issues/update-comment': {
        const comment = this.comment(Number(params.comment_id));
        if (!comment) return send(404, { message: 'Not Found', documentation_url: DOCS, status: '404' });
        comment.body = body?.body ?? '';
        comment.updated_at = timestamp();
        return send(200, comment);
      }
      case 'repos/list-pull-requests-associated-with-commit': {
        const pulls = (this.pullRequests.get(`${owner}/${repo}`) ?? []).filter((pull) => pull.headSha === params.commit_sha && !pull.fromFork);
        return send(200, pulls.map(pullRequestSimple));
      }
      case 'pulls/list': {
        const head = url.searchParams.get('head');
        const pulls = (this.pullRequests.get(`${owner}/${repo}`) ?? []).filter((pull) => !head || `${pull.headOwner}:${pull.headBranch}` === head);
        return send(200, pulls.map(pullRequestSimple));
      }
      case 'actions/get-workflow-run': {
        const run = this.runsOf(owner, repo).find((candidate) => candidate.id === Number(params.run_id));
        return run ? send(200, workflowRunObject(this.options.apiUrl(), owner, repo, run)) : notFound(send);
      }
      case 'actions/list-workflow-runs': {
        const branch = url.searchParams.get('branch');
        const event = url.searchParams.get('event');
        const status = url.searchParams.get('status');
        const runs = this.runsOf(owner, repo)
          .filter((run) => String(run.workflowId) === params.workflow_id)
          .filter((run) => !branch || run.headBranch === branch)
          .filter((run) => !event || run.event === event)
          // `status` takes a status or a conclusion (`success`).
          .filter((run) => !status || run.status === status || run.conclusion === status)
          .sort((a, b) => b.id - a.id);
        const { items, headers } = paginate(url, runs);
        const api = this.options.apiUrl();
        return send(200, { total_count: runs.length, workflow_runs: items.map((run) => workflowRunObject(api, owner, repo, run)) }, headers);
      }
      case 'actions/list-workflow-run-artifacts': {
        const run = this.runsOf(owner, repo).find((candidate) => candidate.id === Number(params.run_id));
        if (!run) return notFound(send);
        const artifacts = run.artifacts ?? [];
        const { items, headers } = paginate(url, artifacts);
        const api = this.options.apiUrl();
        return send(200, { total_count: artifacts.length, artifacts: items.map((artifact) => artifactObject(api, owner, repo, run, artifact)) }, headers);
      }
      case 'actions/download-artifact': {
        const artifact = this.runsOf(owner, repo)
          .flatMap((run) => run.artifacts ?? [])
          .find((candidate) => candidate.id === Number(params.artifact_id));
        if (!artifact || params.archive_format !== 'zip') return notFound(send);
        if (artifact.expired) return send(410, { message: 'Artifact has expired', documentation_url: DOCS, status: '410' });
        return redirect(this.options.artifactDownloadUrl(artifact));
      }
      default:
        return send(404, { message: 'Not Found', documentation_url: DOCS, status: '404' });
    }
  }

  private runsOf(owner: string, repo: string): SeededWorkflowRun[] {
    return this.workflowRuns.get(`${owner}/${repo}`) ?? [];
  }

  private listComments(owner: string, repo: string, issueNumber: number, url: URL, send: Send): number {
    const { items, headers } = paginate(url, this.comments(owner, repo, issueNumber));
    return send(200, items, headers);
  }
}

type Send = (status: number, body: unknown, headers?: Record<string, string>, crossCutting?: boolean) => number;

/** GitHub answers 404 for anything that does not exist or that the token cannot see; most operations leave it out. */
function notFound(send: Send): number {
  return send(404, { message: 'Not Found', documentation_url: DOCS, status: '404' }, {}, true);
}

/** One page of `all`, with GitHub's Link header (`per_page` at most 100, default 30). */
function paginate<T>(url: URL, all: T[]): { items: T[]; headers: Record<string, string> } {
  const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 30), 100);
  const page = Number(url.searchParams.get('page') ?? 1);
  const last = Math.max(1, Math.ceil(all.length / perPage));
  const link = (target: number, rel: string) => {
    const next = new URL(url);
    next.searchParams.set('per_page', String(perPage));
    next.searchParams.set('page', String(target));
    return `<${next.href}>; rel="${rel}"`;
  };
  const links = [page < last && link(page + 1, 'next'), page < last && link(last, 'last'), page > 1 && link(1, 'first'), page > 1 && link(page - 1, 'prev')].filter(Boolean);
  return { items: all.slice((page - 1) * perPage, page * perPage), headers: links.length > 0 ? { link: links.join(', ') } : {} };
}
