import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { HASH_THREADS_ENV } from '../../constants.js';
import { UserError } from '../../errors.js';
import { createTaskRunner, type HashOutcome, type HashTask, hashWorkerSource, type TaskRunner, type WorkerMessage } from './hash-worker.js';

// Hashing and copying on every core: files go to threads in batches (one message per batch, not per file), each
// thread reads with one reused buffer. A thread holds the process open only while it has work.

/** Files per batch at most; fewer when the queue is short, so two large files go to two threads. */
const BATCH_FILES = 64;
/** Batches queued at a thread: the next is there when one ends, so a thread never waits for the main thread. */
const BATCHES_PER_THREAD = 2;
const MAX_THREADS = 64;
/**
 * Tasks of a process run on the main thread while no thread was started, as long as a burst of them fits in what is
 * left of this many, and each file is at most INLINE_MAX_BYTES: a verify of a small repository starts no thread.
 */
const INLINE_TASKS = 256;
const INLINE_MAX_BYTES = 256 * 1024;
/** A thread holds a buffer and a batch's outcomes: a small heap keeps each thread's memory to a few MB. */
const THREAD_HEAP = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 48 };
/** By default: past 8 threads a disk, not SHA-256, sets the pace, and each thread costs memory (RSS target: 200 MB). */
const DEFAULT_MAX_THREADS = 8;

/** What the pool has done since it started; progress lines are differences of two readings. */
export interface PoolCounters {
  submitted: number;
  completed: number;
  bytes: number;
}

interface Pending {
  task: HashTask;
  resolve: (outcome: HashOutcome) => void;
  reject: (error: Error) => void;
}

interface Thread {
  worker: Worker;
  batches: Map<number, Pending[]>;
  /** Bytes of the batch under way already counted through progress messages. */
  counted: number;
}

export class HashPool {
  readonly counters: PoolCounters = { submitted: 0, completed: 0, bytes: 0 };
  private readonly queue: Pending[] = [];
  private readonly threads: Thread[] = [];
  private nextBatch = 0;
  private dispatchQueued = false;
  private inline?: TaskRunner;
  private inlineLeft: number;

  /** `inlineTasks`: how many small files may be hashed on the main thread before threads take every task. */
  constructor(
    readonly size: number,
    options: { inlineTasks?: number } = {},
  ) {
    this.inlineLeft = options.inlineTasks ?? INLINE_TASKS;
  }

  /**
   * Tasks worth having submitted at once: every thread's batches full (the next batch is already there when one
   * ends). More would only wait in the queue long enough to survive garbage collections: 10,000 artifacts hashed
   * through a window twice this size took 190 ms instead of 150 ms.
   */
  get tasksToKeepBusy(): number {
    return this.size * BATCH_FILES * BATCHES_PER_THREAD;
  }

  /** Threads started so far (none for a small verify). */
  get threadCount(): number {
    return this.threads.length;
  }

  run(task: HashTask): Promise<HashOutcome> {
    this.counters.submitted += 1;
    return new Promise((resolve, reject) => {
      this.queue.push({ task, resolve, reject });
      // Tasks submitted together (a folder's files) are batched together.
      if (!this.dispatchQueued) {
        this.dispatchQueued = true;
        queueMicrotask(() => {
          this.dispatchQueued = false;
          this.dispatch();
        });
      }
    });
  }

  private dispatch(): void {
    if (this.threads.length === 0 && this.queue.length <= this.inlineLeft) this.runInline();
    while (this.queue.length > 0) {
      const thread = this.leastBusy();
      if (!thread) return;
      const take = Math.max(1, Math.min(BATCH_FILES, Math.ceil(this.queue.length / this.size)));
      const batch = this.queue.splice(0, take);
      const id = this.nextBatch++;
      thread.batches.set(id, batch);
      thread.worker.ref();
      thread.worker.postMessage({ batch: id, tasks: batch.map((pending) => pending.task) });
    }
  }

  /** Runs the queue here; a file found larger than INLINE_MAX_BYTES goes back to the queue, for a thread. */
  private runInline(): void {
    this.inline ??= createTaskRunner((bytes) => (this.counters.bytes += bytes));
    const deferred: Pending[] = [];
    for (const pending of this.queue.splice(0)) {
      this.inlineLeft -= 1;
      const outcome = this.inline(pending.task, INLINE_MAX_BYTES);
      if ('deferred' in outcome) {
        deferred.push(pending);
        continue;
      }
      this.counters.completed += 1;
      if ('bytes' in outcome) this.counters.bytes += outcome.bytes;
      pending.resolve(outcome);
    }
    this.queue.push(...deferred);
  }

  /** The thread with the fewest batches, started when there are fewer than `size`; undefined when all are full. */
  private leastBusy(): Thread | undefined {
    const idle = this.threads.find((thread) => thread.batches.size === 0);
    if (idle) return idle;
    if (this.threads.length < this.size) return this.start();
    const least = this.threads.reduce((a, b) => (b.batches.size < a.batches.size ? b : a));
    return least.batches.size < BATCHES_PER_THREAD ? least : undefined;
  }

  private start(): Thread {
    const thread: Thread = { worker: new Worker(hashWorkerSource, { eval: true, resourceLimits: THREAD_HEAP }), batches: new Map(), counted: 0 };
    thread.worker.on('message', (message: WorkerMessage) => this.receive(thread, message));
    const fail = (error: Error) => this.lose(thread, error);
    thread.worker.on('error', fail);
    thread.worker.on('exit', (code) => fail(new Error(`a hashing thread stopped (exit ${code})`)));
    thread.worker.unref();
    this.threads.push(thread);
    return thread;
  }

  private receive(thread: Thread, message: WorkerMessage): void {
    if ('progressBytes' in message) {
      this.counters.bytes += message.progressBytes;
      thread.counted += message.progressBytes;
      return;
    }
    const batch = thread.batches.get(message.batch) ?? [];
    thread.batches.delete(message.batch);
    const bytes = message.outcomes.reduce((sum, outcome) => sum + ('bytes' in outcome ? outcome.bytes : 0), 0);
    this.counters.bytes += bytes - thread.counted;
    this.counters.completed += batch.length;
    thread.counted = 0;
    batch.forEach((pending, i) => pending.resolve(message.outcomes[i]!));
    if (thread.batches.size === 0) thread.worker.unref();
    this.dispatch();
  }

  /** A thread that died fails its batches (a bug, never a file's fault); later work starts a new one. */
  private lose(thread: Thread, error: Error): void {
    const index = this.threads.indexOf(thread);
    if (index === -1) return;
    this.threads.splice(index, 1);
    for (const batch of thread.batches.values()) for (const pending of batch) pending.reject(error);
    thread.batches.clear();
    void thread.worker.terminate();
    this.dispatch();
  }

  /** Stops every thread (tests); the pool starts new ones for later work. */
  async close(): Promise<void> {
    const threads = this.threads.splice(0);
    for (const thread of threads) for (const batch of thread.batches.values()) for (const pending of batch) pending.reject(new Error('the hash pool was closed'));
    await Promise.all(threads.map((thread) => thread.worker.terminate()));
  }
}

/** Threads for hashing: one per core up to DEFAULT_MAX_THREADS, or `REPRO_GATE_HASH_THREADS`. */
export function hashThreadCount(env: NodeJS.ProcessEnv = process.env): number {
  const given = env[HASH_THREADS_ENV];
  if (given === undefined || given === '') return Math.min(DEFAULT_MAX_THREADS, availableParallelism());
  const count = Number(given);
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_THREADS) {
    throw new UserError(`${HASH_THREADS_ENV}=${given} is not a whole number from 1 to ${MAX_THREADS}`, `Unset it to use one thread per core (${availableParallelism()} here).`);
  }
  return count;
}

let shared: HashPool | undefined;

/** The process's one pool, started on first use. */
export function hashPool(): HashPool {
  shared ??= new HashPool(hashThreadCount());
  return shared;
}
