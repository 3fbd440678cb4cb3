// How many records rerun at once (`verify --jobs N`, default 1): each rerun is a CPU-bound training that would only
// slow the others down and interleave their live output. Everything before it (loading, copying and hashing the
// data) runs for every record at once.

export class RerunSlots {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly size: number) {
    this.free = size;
  }

  /** Runs `work` once a slot is free, and frees it after. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free -= 1;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free += 1;
    }
  }
}
