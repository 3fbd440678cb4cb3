import { createTwoFilesPatch } from 'diff';

/** Pure: a unified diff of two texts under one name, without the `===` banner; empty when they are equal. */
export function unifiedDiff(name: string, before: string, after: string): string {
  if (before === after) return '';
  return createTwoFilesPatch(`a/${name}`, `b/${name}`, before, after, undefined, undefined, { context: 3 })
    .split('\n')
    .filter((line) => !line.startsWith('==='))
    .join('\n')
    .trimEnd();
}
