import { checksumLine } from '../attest/checksums.js';

// Pure: a version's checksum.txt, in the format `sha256sum` writes and `sha256sum -c` reads.

/** The lines for `files` (name → sha256), sorted bytewise by name like `LC_ALL=C sort`. */
export function renderChecksums(files: ReadonlyMap<string, string>): string {
  const names = [...files.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return names.map((name) => checksumLine(files.get(name)!, name)).join('');
}

const LINE = /^(\\?)([0-9a-f]{64}) [ *](.+)$/;

function unescapeName(name: string): string {
  return name.replace(/\\(\\|n|r)/g, (_, char: string) => (char === 'n' ? '\n' : char === 'r' ? '\r' : '\\'));
}

/** The files checksum.txt names, with their sha256; or the first line that is not a `sha256sum` line. */
export function parseChecksums(text: string): { files: Map<string, string> } | { problem: { line: number; message: string } } {
  const files = new Map<string, string>();
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const [i, line] of lines.entries()) {
    const match = LINE.exec(line);
    if (!match) return { problem: { line: i + 1, message: 'is not a sha256sum line (`<64 hex digits>  <file>`)' } };
    const name = match[1] ? unescapeName(match[3]!) : match[3]!;
    if (files.has(name)) return { problem: { line: i + 1, message: `names ${name} a second time` } };
    files.set(name, match[2]!);
  }
  return { files };
}
