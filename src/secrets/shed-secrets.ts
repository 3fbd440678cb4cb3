import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isSecretVariable } from '../child-env.js';
import { SECRETS_HANDOFF_ENV } from '../constants.js';

// A process's initial environment stays readable in /proc/<pid>/environ for as long as it lives, and the rerun's
// code can read its ancestors' (same user). So before anything runs, a process holding a token replaces itself
// (process.execve, same pid, stdio kept) with one started without any secret in its environment block; the secrets
// travel through a private file that the new image reads and deletes first, and then live only in memory
// (process.env assignments do not write into the initial environment block).

type Execve = (file: string, args: string[], env: NodeJS.ProcessEnv) => never;

/** Call first thing in an entry point. Returns only in the process that holds no secret in its environment block. */
export function shedSecretsFromEnvironment(): void {
  const handoff = process.env[SECRETS_HANDOFF_ENV];
  if (handoff) {
    delete process.env[SECRETS_HANDOFF_ENV];
    try {
      Object.assign(process.env, JSON.parse(readFileSync(handoff, 'utf8')) as Record<string, string>);
    } catch {
      // Without its secrets the action still verifies; publishing then warns that it has no token.
    }
    rmSync(path.dirname(handoff), { recursive: true, force: true });
    return;
  }
  const secrets = Object.fromEntries(Object.entries(process.env).filter(([name, value]) => isSecretVariable(name) && value !== undefined));
  const execve = (process as unknown as { execve?: Execve }).execve;
  // Node < 23.11 (the CLI on an older Node) cannot re-exec; the rerun's own environment is still an allowlist.
  if (Object.keys(secrets).length === 0 || typeof execve !== 'function') return;
  const dir = mkdtempSync(path.join(process.env.RUNNER_TEMP || tmpdir(), 'repro-gate-handoff-'));
  const file = path.join(dir, 'secrets.json');
  writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !(name in secrets)));
  execve.call(process, process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], { ...clean, [SECRETS_HANDOFF_ENV]: file });
}
