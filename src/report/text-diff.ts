import { createTwoFilesPatch } from 'diff';
import { DIFF_MAX_EDIT_LENGTH } from '../constants.js';


/**
 * Pure: a unified diff of two texts under one name, without the `===` banner; empty when they are equal, and a one-line
 * summary when too much changed to show.
 */
export function unifiedDiff(name: string, before: string, after: string): string {
  if (before === after) return '';
  const patch = createTwoFilesPatch(`a/${name}`, `b/${name}`, before, after, undefined, undefined, { context: 3, maxEditLength: DIFF_MAX_EDIT_LENGTH });
  if (patch === undefined) return `${name}: more than ${DIFF_MAX_EDIT_LENGTH} lines changed, too many to show`;
  return patch
    .split('\n')
    .filter((line) => !line.startsWith('==='))
    .join('\n')
    .trimEnd();
}
