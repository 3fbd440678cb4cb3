// Pure: what a failed `pip install` says, cut to the part a reader needs. pip prints its ERROR lines last, after
// pages of progress, so the end of its output is kept, and the requirement it could not satisfy is named.

/** Lines of pip's output quoted in the message: the last ones, where pip says what went wrong. */
const TAIL_LINES = 8;
/** One long line (pip lists every version it found) is cut, so the quote stays readable and bounded. */
const LINE_MAX_CHARS = 240;

// Most telling first: each is looked for from the end of the output before the next one is tried.
const UNSATISFIABLE = [
  /No matching distribution found for (.+)$/,
  /Could not find a version that satisfies the requirement (.+?)(?: \(from versions:.*)?$/,
  /Failed building wheel for (\S+)/,
  /Could not build wheels for (\S+?),/,
];

/** The requirement pip could not install (e.g. `numpy==0.0.0`), from its last line that names one. */
export function failingRequirement(output: string): string | undefined {
  const lines = output.split('\n');
  for (const pattern of UNSATISFIABLE) {
    for (let i = lines.length - 1; i >= 0; i--) {
      const match = pattern.exec(lines[i]!.trim());
      if (match?.[1]) return match[1].trim();
    }
  }
  return undefined;
}

function capLine(line: string): string {
  return line.length > LINE_MAX_CHARS ? `${line.slice(0, LINE_MAX_CHARS - 1)}…` : line;
}

/** The last non-blank lines of pip's output, each capped: at most TAIL_LINES × LINE_MAX_CHARS characters. */
export function outputTail(output: string): string {
  return output
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== '')
    .slice(-TAIL_LINES)
    .map(capLine)
    .join('\n');
}
