// The code each hashing thread runs, and the main thread for a few small files (a thread takes ~60 ms to start). Its
// threads start from its own source text (`hashWorkerSource`), so it reaches Node's modules through
// process.getBuiltinModule, never an import a bundler would rewrite, and uses nothing defined outside its functions.
// Reads are synchronous: a thread does nothing else, and a blocking read costs no promise.

/** One file to hash; with `copyTo`, copied there in the same pass, so the digest is of exactly the bytes copied. */
export interface HashTask {
  file: string;
  copyTo?: string;
  /** Only copy (a working tree's code): no digest, the kernel's copy or a clone. */
  copyOnly?: boolean;
}

export type HashOutcome =
  | { sha256: string; bytes: number }
  | { bytes: number; copied: true }
  /** `mode`: the file type bits of what was opened, when it was not a regular file. */
  | { error: { message: string; code?: string; mode?: number } }
  /** Larger than the caller's limit: nothing was read or written. */
  | { deferred: true };

/** Messages from a thread: a batch's outcomes in task order, or bytes read so far inside a large file. */
export type WorkerMessage = { batch: number; outcomes: HashOutcome[] } | { progressBytes: number };

/** Runs tasks synchronously; a file over `maxBytes` (when given) is left alone, `deferred`. */
export type TaskRunner = (task: HashTask, maxBytes?: number) => HashOutcome;

/** A task runner with its own buffer; `onProgress` hears of bytes read inside a large file, every 64 MiB. */
export function createTaskRunner(onProgress: (bytes: number) => void): TaskRunner {
  const fs = process.getBuiltinModule('node:fs');
  const { createHash } = process.getBuiltinModule('node:crypto');
  const { O_RDONLY, O_NONBLOCK, O_NOFOLLOW, O_WRONLY, O_CREAT, O_EXCL, COPYFILE_EXCL, COPYFILE_FICLONE, COPYFILE_FICLONE_FORCE } = fs.constants;
  // One buffer for every file of this thread: memory stays flat, and a small file costs no allocation.
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  const PROGRESS_EVERY = 64 * 1024 * 1024;
  const KERNEL_COPY_BYTES = 16 * 1024 * 1024;
  // A descriptor's path: a clone or a kernel copy of exactly the file that was checked, with no window to swap it.
  const byDescriptor = fs.existsSync('/proc/self/fd') ? (fd: number) => `/proc/self/fd/${fd}` : undefined;
  let clones = byDescriptor !== undefined;

  const readAll = (fd: number, each: (chunk: Buffer) => void): number => {
    let total = 0;
    let reported = 0;
    for (;;) {
      const read = fs.readSync(fd, buffer, 0, buffer.length, null);
      if (read === 0) return total;
      each(buffer.subarray(0, read));
      total += read;
      if (total - reported >= PROGRESS_EVERY) {
        onProgress(total - reported);
        reported = total;
      }
    }
  };

  const writeAll = (fd: number, chunk: Buffer): void => {
    for (let written = 0; written < chunk.length; ) written += fs.writeSync(fd, chunk, written, chunk.length - written);
  };

  /**
   * A clone of the open file at `to` (copy-on-write file systems), or for a large file the kernel's copy, with the
   * file's mode, hashed from the copy: what the command reads. Undefined where neither is made here.
   */
  const copyAndHash = (fd: number, to: string, size: number): { sha256: string; bytes: number } | undefined => {
    const kernelCopy = size >= KERNEL_COPY_BYTES;
    if (!byDescriptor || (!clones && !kernelCopy)) return undefined;
    try {
      // A large file is copied by the kernel, as cp does, and then read once to hash: faster than through this thread.
      fs.copyFileSync(byDescriptor(fd), to, COPYFILE_EXCL | (kernelCopy ? COPYFILE_FICLONE : COPYFILE_FICLONE_FORCE));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (kernelCopy || code === 'EEXIST' || code === 'ENOENT' || code === 'EACCES') throw error;
      clones = false;
      return undefined;
    }
    const cloned = fs.openSync(to, O_RDONLY | O_NOFOLLOW);
    try {
      const hash = createHash('sha256');
      const bytes = readAll(cloned, (chunk) => hash.update(chunk));
      return { sha256: hash.digest('hex'), bytes };
    } finally {
      fs.closeSync(cloned);
    }
  };

  const run = (task: HashTask, maxBytes: number): HashOutcome => {
    // O_NONBLOCK: opening a FIFO does not wait for a writer; it is refused below, before any read.
    const fd = fs.openSync(task.file, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
    try {
      const opened = fs.fstatSync(fd);
      if (!opened.isFile()) return { error: { message: 'not a regular file', mode: opened.mode } };
      if (opened.size > maxBytes) return { deferred: true };
      if (task.copyTo === undefined) {
        const hash = createHash('sha256');
        const bytes = readAll(fd, (chunk) => hash.update(chunk));
        return { sha256: hash.digest('hex'), bytes };
      }
      if (task.copyOnly && byDescriptor) {
        // The kernel copies (or clones) without bringing the bytes into this thread; the copy gets the file's mode.
        fs.copyFileSync(byDescriptor(fd), task.copyTo, COPYFILE_EXCL | COPYFILE_FICLONE);
        return { bytes: opened.size, copied: true };
      }
      const cloned = task.copyOnly ? undefined : copyAndHash(fd, task.copyTo, opened.size);
      if (cloned) return cloned;
      // O_EXCL and O_NOFOLLOW: never writes through a link or into a file that something else put there.
      const out = fs.openSync(task.copyTo, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      try {
        const hash = createHash('sha256');
        const bytes = readAll(fd, (chunk) => {
          if (!task.copyOnly) hash.update(chunk);
          writeAll(out, chunk);
        });
        fs.fchmodSync(out, opened.mode & 0o7777);
        return task.copyOnly ? { bytes, copied: true } : { sha256: hash.digest('hex'), bytes };
      } finally {
        fs.closeSync(out);
      }
    } finally {
      fs.closeSync(fd);
    }
  };

  return (task, maxBytes = Number.POSITIVE_INFINITY) => {
    try {
      return run(task, maxBytes);
    } catch (error) {
      const { message, code } = error as NodeJS.ErrnoException;
      return { error: { message, code } };
    }
  };
}

/** A thread's program: batches in, their outcomes out, in task order. */
function hashWorkerMain(newRunner: typeof createTaskRunner): void {
  const { parentPort } = process.getBuiltinModule('node:worker_threads');
  const run = newRunner((progressBytes) => parentPort!.postMessage({ progressBytes } satisfies WorkerMessage));
  parentPort!.on('message', ({ batch, tasks }: { batch: number; tasks: HashTask[] }) => {
    parentPort!.postMessage({ batch, outcomes: tasks.map((task) => run(task)) } satisfies WorkerMessage);
  });
}

/** The thread's program as source: both functions above, the runner handed to the main. */
export const hashWorkerSource = `(${hashWorkerMain.toString()})(${createTaskRunner.toString()})`;
