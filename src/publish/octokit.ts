import * as core from '@actions/core';
import { getOctokit } from '@actions/github';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';

export type GitHubClient = ReturnType<typeof getOctokit>;

const RATE_LIMIT_RETRIES = 3;

/** Server errors are retried with backoff (plugin-retry); rate limits wait for their reset (plugin-throttling). */
export function createOctokit(token: string): GitHubClient {
  return getOctokit(
    token,
    {
      throttle: {
        onRateLimit: (retryAfter: number, options: { method: string; url: string }, _octokit: unknown, retryCount: number) => {
          core.warning(`GitHub rate limit hit on ${options.method} ${options.url}; retrying in ${retryAfter} s`);
          return retryCount < RATE_LIMIT_RETRIES;
        },
        onSecondaryRateLimit: (retryAfter: number, options: { method: string; url: string }, _octokit: unknown, retryCount: number) => {
          core.warning(`GitHub secondary rate limit hit on ${options.method} ${options.url}; retrying in ${retryAfter} s`);
          return retryCount < RATE_LIMIT_RETRIES;
        },
      },
    },
    retry,
    throttling,
  );
}
