// Reads a tensor's byte stream in pieces of a requested size, whatever sizes the reader's chunks come in (an inflated
// zip entry yields arbitrary ones), so two tensors can be walked in lockstep and typed arrays see aligned whole elements.
// A piece is valid until the next read: the chunks may be reused (ByteSource.stream), and a read ahead only ever
// fills the chunk after the current one, never the current chunk or the one before it.

export class PieceReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  /** The next chunk, already requested: the read runs while the caller computes on the current one. */
  private next: Promise<IteratorResult<Uint8Array>> | undefined;
  private current: Uint8Array = new Uint8Array(0);
  private position = 0;
  private done = false;

  constructor(chunks: AsyncIterable<Uint8Array>) {
    this.iterator = chunks[Symbol.asyncIterator]();
  }

  /**
   * Up to `size` bytes (fewer only at the end; empty once the stream ends), starting at an offset aligned to
   * `alignment`: a slice of the reader's own chunk when it holds the whole piece aligned, a copy otherwise.
   */
  async read(size: number, alignment: number): Promise<Uint8Array> {
    if (this.position === this.current.length && !(await this.advance())) return new Uint8Array(0);
    const available = this.current.length - this.position;
    const start = this.current.byteOffset + this.position;
    if (available >= size && start % alignment === 0) {
      const piece = this.current.subarray(this.position, this.position + size);
      this.position += size;
      return piece;
    }
    const piece = new Uint8Array(size);
    let filled = 0;
    while (filled < size) {
      if (this.position === this.current.length && !(await this.advance())) break;
      const take = Math.min(size - filled, this.current.length - this.position);
      piece.set(this.current.subarray(this.position, this.position + take), filled);
      this.position += take;
      filled += take;
    }
    return piece.subarray(0, filled);
  }

  /** Stops the underlying read early (a file handle or an inflate stream is released). */
  async close(): Promise<void> {
    if (!this.done) {
      // An async generator runs one step at a time: the prefetched step settles before return() can run.
      await this.next?.catch(() => undefined);
      await this.iterator.return?.();
    }
    this.done = true;
  }

  private async advance(): Promise<boolean> {
    while (!this.done) {
      const next = await (this.next ?? this.iterator.next());
      this.next = undefined;
      if (next.done) {
        this.done = true;
        return false;
      }
      this.next = this.iterator.next();
      // Unobserved until awaited: a read error surfaces at the next advance, not as an unhandled rejection.
      this.next.catch(() => undefined);
      if (next.value.length > 0) {
        this.current = next.value;
        this.position = 0;
        return true;
      }
    }
    return false;
  }
}
