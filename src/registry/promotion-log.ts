import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ALIAS_NAME_PATTERN } from './names.js';
import { isSemver } from './semver.js';

// Pure: the promotion log (`promotions.jsonl`), append-only. Each line names the sha256 of the line before it
// (`prev`), so an edited or deleted line breaks the chain; a chain can be recomputed from scratch, so history is also
// checked to extend the base branch's log (see isPrefixOf).

export const PromotionSchema = z
  .object({
    time: z.iso.datetime(),
    alias: z.string().regex(ALIAS_NAME_PATTERN),
    from: z.string().refine(isSemver, 'must be a version (X.Y.Z)').nullable(),
    to: z.string().refine(isSemver, 'must be a version (X.Y.Z)'),
    /** The sha256 of the promoted version's checksum.txt: what was promoted, not just its name. */
    version_sha256: z.string().regex(/^[0-9a-f]{64}$/),
    actor: z.string().max(200),
    reason: z.string().min(1).max(2_000),
    /** The sha256 of the previous line as written (without its newline); null on the first line. */
    prev: z.string().regex(/^[0-9a-f]{64}$/).nullable(),
  })
  .strict();

export type Promotion = z.infer<typeof PromotionSchema>;

export interface LogProblem {
  line: number;
  message: string;
}

const lineHash = (line: string) => createHash('sha256').update(line).digest('hex');

/** The log's lines (a trailing newline ends the last one). */
export function logLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** The promotions, or the first line that is not one or breaks the chain. */
export function readLog(text: string): { promotions: Promotion[] } | { problem: LogProblem } {
  const promotions: Promotion[] = [];
  const lines = logLines(text);
  for (const [i, line] of lines.entries()) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return { problem: { line: i + 1, message: 'is not JSON' } };
    }
    const result = PromotionSchema.safeParse(parsed);
    if (!result.success) {
      const issue = result.error.issues[0]!;
      return { problem: { line: i + 1, message: `${issue.path.join('.') || 'the line'}: ${issue.message}` } };
    }
    const expected = i === 0 ? null : lineHash(lines[i - 1]!);
    if (result.data.prev !== expected) {
      return { problem: { line: i + 1, message: i === 0 ? 'the first line must have prev: null' : `prev does not match the line before it (${expected!.slice(0, 12)}): a line was edited, removed or inserted` } };
    }
    promotions.push(result.data);
  }
  if (text !== '' && !text.endsWith('\n')) return { problem: { line: lines.length, message: 'the last line does not end with a newline' } };
  return { promotions };
}

/** The line that appends `promotion` to the log `text` (its prev set), newline included. */
export function appendedLine(text: string, promotion: Omit<Promotion, 'prev'>): string {
  const last = logLines(text).at(-1);
  return `${JSON.stringify({ ...promotion, prev: last === undefined ? null : lineHash(last) })}\n`;
}

/** Whether `base` (the log on the branch a pull request merges into) is kept whole at the start of `head`. */
export function isPrefixOf(base: string, head: string): boolean {
  return head.startsWith(base) && (base === '' || base.endsWith('\n'));
}
