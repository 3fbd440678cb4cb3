// Keeps the last lines of a stream for the report, without holding the whole log in memory.

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007]*\u0007/g;

export class LogTail {
  private lines: string[] = [];
  private partial = '';

  constructor(
    private readonly maxLines: number,
    private readonly maxChars: number,
  ) {}

  push(chunk: Buffer): void {
    const text = this.partial + chunk.toString('utf8');
    const parts = text.split(/\r?\n/);
    this.partial = parts.pop() ?? '';
    this.lines.push(...parts);
    if (this.lines.length > this.maxLines) this.lines = this.lines.slice(-this.maxLines);
    // A single endless line (progress bars) must not grow without bound either.
    if (this.partial.length > this.maxChars) this.partial = this.partial.slice(-this.maxChars);
  }

  text(): string {
    const all = [...this.lines, ...(this.partial ? [this.partial] : [])].slice(-this.maxLines).join('\n').replace(ANSI, '');
    return all.length > this.maxChars ? all.slice(-this.maxChars) : all;
  }
}
