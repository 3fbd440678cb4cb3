import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterEach } from 'vitest';

/** Pids whose command line contains `token` (pgrep never matches itself). */
export function pidsMatching(token: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', token], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Unique tokens to put in the command lines of processes a test starts. Whatever a test left running (by design where
 * it escapes, or after a failure) is killed by pid after each test, so no sleeper outlives the suite.
 */
export function daemonTokens(prefix: string): () => string {
  const tokens: string[] = [];
  afterEach(() => {
    for (const token of tokens.splice(0)) {
      for (const pid of pidsMatching(token)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
  });
  return () => {
    const token = `${prefix}-${randomUUID()}`;
    tokens.push(token);
    return token;
  };
}
