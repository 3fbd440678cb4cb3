// Pure: strings cut to a report field's cap instead of failing its schema. The cut is always said, with a count.

/** The start of `text`, at most `max` characters in all, ending with how much was left out. */
export function keepStart(text: string, max: number): string {
  if (text.length <= max) return text;
  const note = (cut: number) => `… (${cut} more characters)`;
  const kept = max - note(text.length).length;
  return `${text.slice(0, kept)}${note(text.length - kept)}`;
}

/**
 * The first line and the end of `text`, at most `max` characters: a message says what failed first and why last
 * (pip's ERROR lines, a stack of causes), so the middle is what goes.
 */
export function keepEnds(text: string, max: number): string {
  if (text.length <= max) return text;
  const firstLine = text.split('\n', 1)[0]!;
  const head = firstLine.length <= max / 4 ? firstLine : `${firstLine.slice(0, Math.floor(max / 4) - 1)}…`;
  const note = (cut: number) => `\n… (${cut} characters left out) …\n`;
  const tailLength = max - head.length - note(text.length).length;
  return `${head}${note(text.length - head.length - tailLength)}${text.slice(text.length - tailLength)}`;
}
