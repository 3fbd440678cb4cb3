import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { MAX_CODE_FILES } from '../constants.js';
import { sha256File } from '../hashing/sha256.js';
import { isUnderAny } from '../record/paths.js';
import type { ProbeTrace } from '../rerun/probe/read-trace.js';

// What a training actually read, as the probe saw it in the sandbox, turned into the record's `code.files`: the files
// of the user's repository (relative to its root) with their hashes. Declared inputs and the run's own outputs are
// left out: they are checked on their own.

/** Files hashed at once (the modules of a learned set are many and small). */
const PARALLEL_HASHES = 64;

export interface LearnedInputsRequest {
  /** The sandbox the run happened in: the probe's paths are inside it. */
  sandboxRoot: string;
  repoRoot: string;
  /** Real paths of the files the run's processes read (ProbeTrace.readFiles). */
  readFiles: string[];
  /** Repository-relative paths (files or folders) that are not learned: outputs, declared data and config, the record. */
  excluded: string[];
}

/** The learned set, sorted by path; files the run created itself (not in the checkout) are not inputs. */
export async function learnedInputs(request: LearnedInputsRequest): Promise<Array<{ path: string; sha256: string }>> {
  const root = await realpath(request.sandboxRoot);
  const candidates = [
    ...new Set(
      request.readFiles
        .map((file) => path.relative(root, file))
        .filter((relative) => relative && !relative.startsWith('..') && !path.isAbsolute(relative))
        .map((relative) => relative.split(path.sep).join('/')),
    ),
  ]
    .filter((file) => !file.startsWith('.git/') && !isUnderAny(file, request.excluded))
    .sort();
  const learned: Array<{ path: string; sha256: string }> = [];
  for (let start = 0; start < candidates.length; start += PARALLEL_HASHES) {
    const batch = await Promise.all(
      candidates.slice(start, start + PARALLEL_HASHES).map(async (file) => {
        const inCheckout = path.join(request.repoRoot, file);
        const stats = await lstat(inCheckout).catch(() => undefined);
        return stats?.isFile() ? { path: file, sha256: await sha256File(inCheckout, { noFollow: true }) } : undefined;
      }),
    );
    for (const entry of batch) if (entry) learned.push(entry);
  }
  return learned;
}

/**
 * A command the learned set can describe whole: one Python interpreter running a script or module, with plain words
 * as arguments (`python train.py configs/a.yaml`, `python -m pkg.train`). Anything a shell would interpret first (a
 * script of its own, pipes, variables, quoting) may read files that no probed process opens.
 */
const PLAIN_PYTHON_COMMAND = /^(?:[A-Za-z_][A-Za-z0-9_]*=[\w./:=,+-]*\s+)*(?:[\w./+-]*\/)?python[0-9.]*(?:\s+[\w./:=,+@%-]+)+\s*$/;

/** Why the files the run read are not the training's whole input set; undefined when they are. */
export function inputSetGap(command: string, trace: Pick<ProbeTrace, 'processes' | 'readFiles' | 'readTruncated' | 'unprobedChildren'>): string | undefined {
  if (!PLAIN_PYTHON_COMMAND.test(command)) return 'the command is not one plain Python invocation (python script.py …), so what a shell or another program reads is not seen';
  if (/\s-[A-Za-z]*[IES]/.test(command.split(/\s+/).slice(1, 3).join(' '))) return 'python -I, -E or -S skips the probe';
  if (trace.processes.length === 0) return 'no Python process of the command was seen by the probe';
  if (trace.readTruncated || trace.readFiles.length > MAX_CODE_FILES) return `the training read more than ${MAX_CODE_FILES} files outside its declared data`;
  if (trace.unprobedChildren.length > 0) return `it started ${trace.unprobedChildren[0]!.slice(0, 100)}, which the probe does not run in`;
  return undefined;
}
