import { originUrl } from '../git.js';

// The statement's resourceUri: the repository and the commit whose code ran, as a `git+` URI (SPDX's download
// location form, used by SLSA provenance).

/** A clone URL as a URI without credentials: `git@host:path` becomes `ssh://git@host/path`; a password, or an https URL's token, is dropped. */
export function cloneUri(url: string): string {
  const scp = /^([^@/:]+@)?([^/:]+):(?!\/\/)(.*)$/.exec(url);
  if (scp) return `ssh://${scp[1] ?? ''}${scp[2]}/${scp[3]}`;
  try {
    const parsed = new URL(url);
    parsed.password = '';
    // An https user is a token's name (`x-access-token`); an ssh user (`git@`) is part of the address.
    if (parsed.protocol === 'https:' || parsed.protocol === 'http:') parsed.username = '';
    return parsed.toString();
  } catch {
    return url;
  }
}

/** On GitHub Actions, the workflow's repository; else the clone's origin, else the folder itself. */
export async function resourceUri(repoRoot: string, options: { isGitRepo: boolean; commit?: string; env?: NodeJS.ProcessEnv }): Promise<string> {
  const env = options.env ?? process.env;
  const at = options.commit ? `@${options.commit}` : '';
  if (env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY) return `git+${env.GITHUB_SERVER_URL.replace(/\/+$/, '')}/${env.GITHUB_REPOSITORY}${at}`;
  if (!options.isGitRepo) return new URL(`file://${repoRoot}`).toString();
  const origin = await originUrl(repoRoot);
  return `git+${origin ? cloneUri(origin) : new URL(`file://${repoRoot}`).toString()}${at}`;
}
