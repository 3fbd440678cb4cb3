import { glob } from 'node:fs/promises';
import { UserError } from '../errors.js';

/** Expands the `records` input: plain paths and globs, newline separated, node_modules and .git skipped. */
export async function findRecords(patterns: string[]): Promise<string[]> {
  const found = new Set<string>();
  for (const pattern of patterns) {
    for await (const file of glob(pattern, { exclude: (name) => name === 'node_modules' || name === '.git' })) {
      found.add(file);
    }
  }
  if (found.size === 0) {
    throw new UserError(`input "records" matched no run record (${patterns.join(', ')})`, 'Check the paths or globs, and the working-directory input; create a record with `repro-gate record`.');
  }
  return [...found].sort();
}
