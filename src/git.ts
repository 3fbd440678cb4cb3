import { execFile, spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { copyFile, mkdir, mkdtemp, open, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { withoutSecrets } from './child-env.js';

const execFileAsync = promisify(execFile);

// Read-only git queries. None of them writes to the repository (no index refresh: --no-optional-locks).
// A pull request's training can write into .git (a `core.fsmonitor` command, a hook) before these run: git must
// never run a program the repository names, never read the machine's system config, and never see a secret.
const NO_REPOSITORY_PROGRAMS = [
  ...['-c', 'core.fsmonitor=', '-c', 'core.hooksPath=/dev/null', '-c', 'core.attributesFile=/dev/null'],
  // The global config is not read (below), so actions/checkout's safe.directory entry is not either: these are
  // read-only queries of the repository being verified, whoever owns its folder.
  ...['-c', 'safe.directory=*'],
];
// The rerun can write the user's global config (a clean filter runs during `git status`): only the repository's
// own config is read, and the working-tree guard checks that one before git runs again.
const NO_OUTSIDE_CONFIG = { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_ATTR_NOSYSTEM: '1' };

async function git(cwd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync('git', ['--no-optional-locks', ...NO_REPOSITORY_PROGRAMS, ...args], {
      cwd,
      env: { ...withoutSecrets(env), ...NO_OUTSIDE_CONFIG },
      maxBuffer: 256 * 1024 * 1024,
      encoding: 'utf8',
    });
    return stdout;
  } catch {
    return undefined;
  }
}

/** The repository's top level, or undefined outside git. */
export async function findRepoRoot(dir: string): Promise<string | undefined> {
  return (await git(dir, ['rev-parse', '--show-toplevel']))?.trim() || undefined;
}

export async function headCommit(repoRoot: string): Promise<string | undefined> {
  return (await git(repoRoot, ['rev-parse', 'HEAD']))?.trim() || undefined;
}

/**
 * Files a rerun must see: tracked files as they are in the working tree (uncommitted changes included)
 * plus untracked files that are not ignored. Deleted tracked files are left out. Paths use `/`.
 */
export async function listWorkingTreeFiles(repoRoot: string): Promise<string[]> {
  const out = await git(repoRoot, ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--deduplicate']);
  if (out === undefined) throw new Error(`git ls-files failed in ${repoRoot}`);
  const deleted = new Set(
    ((await git(repoRoot, ['ls-files', '-z', '--deleted'])) ?? '').split('\0').filter(Boolean),
  );
  return [...new Set(out.split('\0').filter((file) => file && !deleted.has(file)))];
}

/** Tracked files (paths with `/`), whatever their state in the working tree. */
export async function listTrackedFiles(repoRoot: string): Promise<string[]> {
  const out = await git(repoRoot, ['ls-files', '-z', '--cached', '--deduplicate']);
  if (out === undefined) throw new Error(`git ls-files failed in ${repoRoot}`);
  return out.split('\0').filter(Boolean);
}

/**
 * `git diff` refreshes and rewrites .git/index even with --no-optional-locks (git 2.39), which would modify the
 * user's checkout. It gets a throwaway copy of the index instead.
 */
async function withPrivateIndex<T>(repoRoot: string, run: (env: NodeJS.ProcessEnv) => Promise<T>): Promise<T | undefined> {
  const index = (await git(repoRoot, ['rev-parse', '--path-format=absolute', '--git-path', 'index']))?.trim();
  if (!index) return undefined;
  const dir = await mkdtemp(path.join(tmpdir(), 'repro-gate-index-'));
  try {
    const copy = path.join(dir, 'index');
    await copyFile(index, copy).catch(() => undefined);
    return await run({ ...process.env, GIT_INDEX_FILE: copy });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One difference between a commit and the working tree, as `git diff --raw` gives it (untracked files have status `?`). */
export interface RawChange {
  path: string;
  /** A added, D deleted, M modified, R renamed, C copied, T type changed, ? untracked. */
  status: string;
  oldMode: string;
  newMode: string;
  /** The path it had at the commit, for a rename or copy. */
  from?: string;
}

/** Every difference between `commit` and the working tree, untracked files included; undefined when the commit is not in the clone. */
export async function rawChangesSince(repoRoot: string, commit: string): Promise<RawChange[] | undefined> {
  if ((await git(repoRoot, ['cat-file', '-e', `${commit}^{commit}`])) === undefined) return undefined;
  const out = await withPrivateIndex(repoRoot, (env) => git(repoRoot, ['diff', '--raw', '-z', '-M', commit, '--'], env));
  if (out === undefined) return undefined;
  const fields = out.split('\0');
  const changes: RawChange[] = [];
  for (let i = 0; i < fields.length; i++) {
    const header = fields[i];
    if (!header?.startsWith(':')) continue;
    const [oldMode = '', newMode = '', , , status = ''] = header.slice(1).split(' ');
    const renamed = status.startsWith('R') || status.startsWith('C');
    const from = renamed ? fields[(i += 1)] : undefined;
    const file = fields[(i += 1)];
    if (file) changes.push({ path: file, status: status[0] ?? '', oldMode, newMode, ...(from ? { from } : {}) });
  }
  const untracked = (await git(repoRoot, ['ls-files', '-z', '--others', '--exclude-standard'])) ?? '';
  for (const file of untracked.split('\0').filter(Boolean)) changes.push({ path: file, status: '?', oldMode: '000000', newMode: '100644' });
  return changes;
}

/**
 * Every path `git status` has something to say about (modified, untracked, ignored: each file listed) with its status
 * code; on a private index copy, since a status refresh would rewrite .git/index.
 */
export async function statusEntries(repoRoot: string): Promise<Map<string, string> | undefined> {
  const out = await withPrivateIndex(repoRoot, (env) => git(repoRoot, ['status', '--porcelain=v1', '-z', '--untracked-files=all', '--ignored=traditional'], env));
  if (out === undefined) return undefined;
  const entries = new Map<string, string>();
  const fields = out.split('\0');
  for (let i = 0; i < fields.length; i += 1) {
    const field = fields[i]!;
    if (field.length < 4) continue;
    entries.set(field.slice(3), field.slice(0, 2));
    // A rename or copy carries its source path in the next field.
    if (field[0] === 'R' || field[0] === 'C') i += 1;
  }
  return entries;
}


/** The full commit hash a ref names, or undefined when the clone does not have it (a shallow clone, an unfetched branch). */
export async function resolveCommit(repoRoot: string, ref: string): Promise<string | undefined> {
  const out = await git(repoRoot, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`]);
  return out?.trim() || undefined;
}

/** A file's text at a commit (`git show COMMIT:PATH`), or undefined when the file does not exist there. */
export async function readFileAtCommit(repoRoot: string, commit: string, repoRelative: string): Promise<string | undefined> {
  const object = `${commit}:${repoRelative}`;
  if ((await git(repoRoot, ['cat-file', '-e', object])) === undefined) return undefined;
  const text = await git(repoRoot, ['show', object]);
  if (text === undefined) throw new Error(`git show ${object} failed in ${repoRoot}`);
  return text;
}

/** Every file in a commit's tree (`git ls-tree -r --name-only`), paths with `/`. */
export async function listFilesAtCommit(repoRoot: string, commit: string): Promise<string[]> {
  const out = await git(repoRoot, ['ls-tree', '-r', '-z', '--name-only', commit]);
  if (out === undefined) throw new Error(`git ls-tree ${commit} failed in ${repoRoot}`);
  return out.split('\0').filter(Boolean);
}

/** The folders of the tree at `commit` ('.' for the root); undefined when the commit is not in the clone. */
export async function foldersAtCommit(repoRoot: string, commit: string): Promise<Set<string> | undefined> {
  const out = await git(repoRoot, ['ls-tree', '-r', '-d', '-z', '--name-only', commit]);
  return out === undefined ? undefined : new Set(['.', ...out.split('\0').filter(Boolean)]);
}

/** The URL of the `origin` remote, or undefined when there is none. */
export async function originUrl(repoRoot: string): Promise<string | undefined> {
  return (await git(repoRoot, ['remote', 'get-url', 'origin']))?.trim() || undefined;
}

/** Reads a byte stream as lines and counted runs of bytes (the framing of `git cat-file --batch`). */
class FramedReader {
  private buffer: Buffer = Buffer.alloc(0);

  constructor(private readonly chunks: AsyncIterator<Buffer>) {}

  private async fill(): Promise<void> {
    const next = await this.chunks.next();
    if (next.done) throw new Error('git cat-file --batch ended early');
    this.buffer = this.buffer.length > 0 ? Buffer.concat([this.buffer, next.value]) : next.value;
  }

  async line(): Promise<string> {
    for (;;) {
      const end = this.buffer.indexOf(10);
      if (end >= 0) {
        const line = this.buffer.subarray(0, end).toString('utf8');
        this.buffer = this.buffer.subarray(end + 1);
        return line;
      }
      await this.fill();
    }
  }

  async *bytes(count: number): AsyncGenerator<Buffer> {
    for (let left = count; left > 0; ) {
      if (this.buffer.length === 0) await this.fill();
      const taken = this.buffer.subarray(0, Math.min(left, this.buffer.length));
      this.buffer = this.buffer.subarray(taken.length);
      left -= taken.length;
      yield taken;
    }
  }
}

/** A path of a tree that can be written under a folder: relative, with no empty, `.`, `..` or `.git` part. */
const isPlainTreePath = (file: string) => !file.startsWith('/') && file.split('/').every((part) => part !== '' && part !== '.' && part !== '..' && part.toLowerCase() !== '.git');

/**
 * Writes the files of `commit`'s tree into the empty folder `dir`, byte for byte as the commit stores them: blobs
 * read with `git cat-file --batch`, so no filter, `export-subst` or line-ending conversion (which `git archive` and
 * a checkout apply, running programs the repository's config names) changes the code. Symlinks are written as links;
 * submodules are left out. Touches neither the working tree, the index nor .git. Throws when git fails.
 */
export async function exportCommitTree(repoRoot: string, commit: string, dir: string): Promise<void> {
  const listing = await git(repoRoot, ['ls-tree', '-r', '-z', '--full-tree', commit]);
  if (listing === undefined) throw new Error(`git ls-tree ${commit} failed`);
  const blobs = listing
    .split('\0')
    .filter(Boolean)
    .map((entry) => {
      const tab = entry.indexOf('\t');
      const [mode = '', type = '', oid = ''] = entry.slice(0, tab).split(' ');
      return { mode, type, oid, file: entry.slice(tab + 1) };
    })
    .filter((entry) => entry.type === 'blob');
  const unsafe = blobs.find((entry) => !isPlainTreePath(entry.file));
  if (unsafe) throw new Error(`the commit holds a path that cannot be written inside a folder: ${JSON.stringify(unsafe.file)}`);
  const reader = spawn('git', ['--no-optional-locks', ...NO_REPOSITORY_PROGRAMS, 'cat-file', '--batch'], {
    cwd: repoRoot,
    env: { ...withoutSecrets(process.env), ...NO_OUTSIDE_CONFIG },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  reader.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2_000)));
  const exited = new Promise<number | null>((resolve, reject) => {
    reader.on('error', reject);
    reader.on('close', resolve);
  });
  reader.stdin.end(blobs.map((entry) => `${entry.oid}\n`).join(''));
  const frames = new FramedReader(reader.stdout[Symbol.asyncIterator]());
  try {
    for (const entry of blobs) {
      const [, type, size] = (await frames.line()).split(' ');
      if (type !== 'blob') throw new Error(`git cat-file found no blob ${entry.oid} for ${entry.file}`);
      const target = path.join(dir, entry.file);
      await mkdir(path.dirname(target), { recursive: true });
      if (entry.mode === '120000') {
        const parts: Buffer[] = [];
        for await (const part of frames.bytes(Number(size))) parts.push(Buffer.from(part));
        await symlink(Buffer.concat(parts).toString('utf8'), target);
      } else {
        const handle = await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, entry.mode === '100755' ? 0o755 : 0o644);
        try {
          for await (const part of frames.bytes(Number(size))) await handle.write(part);
        } finally {
          await handle.close();
        }
      }
      await frames.line();
    }
  } catch (error) {
    reader.kill();
    throw error;
  }
  const status = await exited;
  if (status !== 0) throw new Error(`git cat-file --batch exited with ${status}: ${stderr.trim()}`);
}
