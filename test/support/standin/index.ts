import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ACTIONS_BOT,
  GitHubRestStandin,
  type InjectedFailure,
  type IssueComment,
  type RepositoryIssue,
  type SeededIssue,
  type SeededPullRequest,
  type SeededWorkflowRun,
  type TokenPermissions,
} from './github-rest.js';
import { type LoggedRequest, readBody, sendJson } from './http.js';
import { OpenApiValidator } from './openapi.js';
import { type CacheEntry, ResultsServiceStandin, type UploadedArtifact } from './results-service.js';

// A local stand-in for the GitHub services the bundled action talks to: the REST API (validated against
// GitHub's OpenAPI description), the results service's Twirp endpoints, and blob storage.

export interface Standin {
  apiUrl: string;
  resultsUrl: string;
  /** A workflow token (an installation token, `ghs_…`): it comments as github-actions[bot]. */
  token: string;
  runtimeToken: string;
  botLogin: string;
  requests: LoggedRequest[];
  /** Every way a request or response broke GitHub's API contract; a test expects it to stay empty. */
  validationErrors: string[];
  caches: Map<string, CacheEntry>;
  artifacts: UploadedArtifact[];
  comments(owner: string, repo: string, issueNumber: number): IssueComment[];
  seedComments(owner: string, repo: string, issueNumber: number, comments: Array<{ body: string; login: string }>): void;
  /** The repository's issues (and pull requests seeded as issues) as GitHub would answer them, live, in creation order. */
  issues(owner: string, repo: string): RepositoryIssue[];
  /** Issues, or pull requests as the issues endpoints list them, by any author in any state; returns them as stored. */
  seedIssues(owner: string, repo: string, issues: SeededIssue[]): RepositoryIssue[];
  seedPullRequest(owner: string, repo: string, pull: SeededPullRequest): void;
  /** A run of a workflow, e.g. the base branch's, carrying artifacts an earlier action run uploaded (`artifacts`). */
  seedWorkflowRun(owner: string, repo: string, run: SeededWorkflowRun): void;
  /** A permission left out has its default: `actions: read`, `issues: write`. */
  setTokenPermissions(permissions: TokenPermissions): void;
  failNext(failure: InjectedFailure): void;
  close(): Promise<void>;
}

/** The environment the runner gives an action step, pointed at the stand-in; the venv cache goes to `cacheRoot`. */
export function actionServiceEnv(standin: Standin, cacheRoot: string): NodeJS.ProcessEnv {
  return {
    GITHUB_API_URL: standin.apiUrl,
    ACTIONS_RESULTS_URL: standin.resultsUrl,
    ACTIONS_RUNTIME_TOKEN: standin.runtimeToken,
    ACTIONS_CACHE_SERVICE_V2: 'true',
    REPRO_GATE_CACHE_DIR: cacheRoot,
  };
}

export async function startStandin(): Promise<Standin> {
  let origin = '';
  const validationErrors: string[] = [];
  const requests: LoggedRequest[] = [];
  const token = `ghs_${randomBytes(18).toString('base64url')}`;
  const report = (problem: string) => validationErrors.push(problem);
  const results = new ResultsServiceStandin({ baseUrl: () => origin, report });
  const artifactDownloadUrl = (artifact: UploadedArtifact) => results.signedReadUrl(artifact.blob);
  const rest = new GitHubRestStandin({ apiUrl: () => origin, token, validator: new OpenApiValidator(), report, artifactDownloadUrl });

  const server = createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? '/', origin);
      let status = 500;
      try {
        const body = await readBody(request);
        status = results.handles(url) ? results.handle(request, response, url, body) : rest.handle(request, response, url, body);
      } catch (error) {
        report(`stand-in crashed on ${request.method} ${url.pathname}: ${(error as Error).stack}`);
        sendJson(response, 500, { message: 'stand-in error' });
      }
      requests.push({ method: request.method ?? 'GET', path: url.pathname + url.search, status });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    apiUrl: origin,
    resultsUrl: `${origin}/`,
    token,
    runtimeToken: results.runtimeToken,
    botLogin: ACTIONS_BOT.login,
    requests,
    validationErrors,
    caches: results.caches,
    artifacts: results.artifacts,
    comments: (owner, repo, issueNumber) => rest.comments(owner, repo, issueNumber),
    seedComments: (owner, repo, issueNumber, comments) => rest.seedComments(owner, repo, issueNumber, comments),
    issues: (owner, repo) => rest.issues(owner, repo),
    seedIssues: (owner, repo, issues) => rest.seedIssues(owner, repo, issues),
    seedPullRequest: (owner, repo, pull) => rest.seedPullRequest(owner, repo, pull),
    seedWorkflowRun: (owner, repo, run) => rest.seedWorkflowRun(owner, repo, run),
    setTokenPermissions: (permissions) => rest.setTokenPermissions(permissions),
    failNext: (failure) => rest.failNext(failure),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
