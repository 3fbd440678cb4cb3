import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { MAX_CODE_FILES } from '../../constants.js';
import { sha256RegularFile } from '../../hashing/small-files.js';
import { mapConcurrently } from '../../map-concurrently.js';
import { isUnderAny, leadsOutside } from '../../record/paths.js';
import type { ProbeTrace } from '../../rerun/probe/read-trace.js';

// What a training actually read, as the probe saw it in the sandbox, turned into the record's `code.files`: the files
// of the user's repository (relative to its root) with their hashes. Declared inputs and the run's own outputs are
// left out: they are checked on their own.

export interface LearnedInputsRequest {
  repoRoot: string;
  /** Repository-relative paths (files or folders) that are not learned: outputs, declared data and config, the record. */
  excluded: string[];
  /** The record is a uv project's (`environment.lockfile`): only there does `uv run` run the rebuilt venv as it is. */
  uvProject: boolean;
}

/** The sandbox's real paths as repository-relative ones ('.' for the root), once each, sorted; those outside it left out. */
function inSandbox(root: string, realPaths: string[]): string[] {
  const relative = realPaths
    .map((file) => path.relative(root, file))
    .filter((file) => !leadsOutside(file))
    .map((file) => (file === '' ? '.' : file.split(path.sep).join('/')))
    .filter((file) => file !== '.git' && !file.startsWith('.git/'));
  return [...new Set(relative)].sort();
}

/** The learned set, sorted by path; files the run created itself (not in the checkout) are not inputs. */
async function learnedInputs(root: string, readFiles: string[], request: LearnedInputsRequest): Promise<Array<{ path: string; sha256: string }>> {
  const candidates = inSandbox(root, readFiles).filter((file) => file !== '.' && !isUnderAny(file, request.excluded));
  const hashed = await mapConcurrently(candidates, async (file) => {
    const inCheckout = path.join(request.repoRoot, file);
    const stats = await lstat(inCheckout).catch(() => undefined);
    return stats?.isFile() ? { path: file, sha256: await sha256RegularFile(inCheckout, stats.size) } : undefined;
  });
  return hashed.filter((entry) => entry !== undefined);
}

/**
 * The repository folders the run listed (`code.listed`), sorted: a file added later matters to it only there. Undefined
 * when the probe could not place every listing: any new file may then matter.
 */
function learnedFolders(root: string, trace: Pick<ProbeTrace, 'listedFolders' | 'listedTruncated' | 'readFiles' | 'missingFiles'>): string[] | undefined {
  if (trace.listedTruncated) return undefined;
  // A folder the training read from, or tried to, is one it may look into with a check no audit event shows
  // (`os.path.exists("configs/local.yaml")`, a package's __init__.py): a file added there counts too.
  const around = [...trace.readFiles, ...trace.missingFiles].map((file) => path.dirname(file));
  const folders = inSandbox(root, [...trace.listedFolders, ...around]);
  return folders.length > MAX_CODE_FILES ? undefined : folders;
}

/** What a run taught the record about its inputs: `code.files` and, when every listing was placed, `code.listed`. */
export interface LearnedSet {
  files: Array<{ path: string; sha256: string }>;
  listed?: string[];
}

/**
 * The learned set of a run of `command` in `sandboxRoot`, or why there is none: an incomplete set is never written
 * (the record is then always rerun).
 */
export async function learnedSet(command: string, sandboxRoot: string, trace: ProbeTrace, request: LearnedInputsRequest): Promise<{ set: LearnedSet } | { gap: string }> {
  const gap = inputSetGap(command, trace, request.uvProject);
  if (gap) return { gap };
  // The probe's paths are real paths: the sandbox's own is resolved once for both.
  const root = await realpath(sandboxRoot);
  const listed = learnedFolders(root, trace);
  return { set: { files: await learnedInputs(root, trace.readFiles, request), ...(listed ? { listed } : {}) } };
}

/**
 * A command the learned set can describe whole: one Python interpreter running a script or module, with plain words
 * as arguments (`python train.py configs/a.yaml`, `python -m pkg.train`), perhaps through a bare `uv run` (which, in
 * a rerun, runs the rebuilt venv's interpreter as it is: see src/environment/managers/uv-project.ts). Anything a
 * shell would interpret first (a script of its own, pipes, variables, quoting) may read files that no probed process opens.
 */
const PLAIN_PYTHON_COMMAND = /^(?:[A-Za-z_][A-Za-z0-9_]*=[\w./:=,+-]*\s+)*(?:uv\s+run\s+)?(?:[\w./+-]*\/)?python[0-9.]*(?:\s+[\w./:=,+@%-]+)+\s*$/;

/** Why the files the run read are not the training's whole input set; undefined when they are. */
export function inputSetGap(command: string, trace: Pick<ProbeTrace, 'processes' | 'readFiles' | 'readTruncated' | 'unprobedChildren'>, uvProject = false): string | undefined {
  if (!PLAIN_PYTHON_COMMAND.test(command)) return 'the command is not one plain Python invocation (python script.py …), so what a shell or another program reads is not seen';
  if (!uvProject && /(?:^|\s)uv\s+run\s/.test(command)) return '`uv run` outside a uv project\'s record (environment.lockfile) syncs an environment of its own, from files the probe does not see';
  if (/^(?:\S+=\S*\s+)*UV_\w*=/.test(command.trim())) return 'the command sets uv variables (UV_…), which can make uv read files (an env file, a config) that no probed process opens';
  const words = command.trim().split(/\s+/);
  const python = words.findIndex((word) => /(?:^|\/)python[0-9.]*$/.test(word));
  // The interpreter's own options come before the script or module; what follows them is the program's.
  const options = words.slice(python + 1);
  const program = options.findIndex((word) => !word.startsWith('-'));
  const interpreterOptions = program === -1 ? options : options.slice(0, program);
  if (interpreterOptions.some((word) => /^-[A-Za-z]*[IES]/.test(word))) return 'python -I, -E or -S skips the probe';
  if (trace.processes.length === 0) return 'no Python process of the command was seen by the probe';
  if (trace.readTruncated || trace.readFiles.length > MAX_CODE_FILES) return `the training read more than ${MAX_CODE_FILES} files outside its declared data`;
  if (trace.unprobedChildren.length > 0) return `it started ${trace.unprobedChildren[0]!.slice(0, 100)}, which the probe does not run in`;
  return undefined;
}
