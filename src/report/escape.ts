// Every string in a report may come from a fork's pull request: it is rendered inert before it reaches markdown.

const MAX_INLINE = 300;
const ZERO_WIDTH_SPACE = '\u200b';

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007]*\u0007/g;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/g;

function cap(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Inert inline markdown, safe in table cells: HTML-escaped (no tags, no `<!--` to forge our marker), emphasis,
 * code, link and table punctuation backslash-escaped, one line, @mentions, issue references and autolinks broken with a zero-width space.
 */
export function escapeInline(text: string, max = MAX_INLINE): string {
  return cap(text.replace(ANSI, '').replace(/[\r\n\t]+/g, ' ').replace(CONTROL, ''), max)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/[\\`*_[\]|~]/g, '\\$&')
    // Block markers count only at the start of a line, where an inline string can land: a heading or list marker
    // followed by a space (a quote `>` is already an entity). `3.11.7` is left alone.
    .replace(/^[#+-]+(?=\s|$)/, '\\$&')
    .replace(/^(\d+)([.)])(?=\s|$)/, '$1\\$2')
    .replace(/@/g, `@${ZERO_WIDTH_SPACE}`)
    // `#12`, `owner/repo#12` and `GH-12` would link, and cross-reference, another issue.
    .replace(/#(?=\w)/g, `#${ZERO_WIDTH_SPACE}`)
    .replace(/\bGH-(?=\d)/gi, (match) => `${match.slice(0, 2)}${ZERO_WIDTH_SPACE}-`)
    .replace(/:\/\//g, `:${ZERO_WIDTH_SPACE}//`)
    .replace(/www\./gi, (match) => `${match.slice(0, 3)}${ZERO_WIDTH_SPACE}.`);
}

/** A fenced block that nothing inside can close; inside a fence nothing renders, mentions and links included. */
export function codeFence(text: string, maxChars: number, language = 'text'): string {
  const body = cap(text.replace(ANSI, '').replace(CONTROL, ''), maxChars);
  const longestRun = Math.max(0, ...(body.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(Math.max(3, longestRun + 1));
  return `${fence}${language}\n${body}\n${fence}`;
}

/** Terminal output: no escape sequences or control characters from untrusted strings. */
export function sanitizeTerminal(text: string): string {
  return text.replace(ANSI, '').replace(CONTROL, '');
}
