import { glob, stat } from 'node:fs/promises';
import { UserError } from '../errors.js';

const isFile = (file: string) => stat(file).then((info) => info.isFile(), () => false);

/**
 * Expands the `records` input: plain paths and globs, newline separated, node_modules and .git skipped.
 * A path that exists is taken as it is: `exp[1]/run.yaml` from the discover matrix is that file, not a glob.
 */
export async function findRecords(patterns: string[], options: { allowNone?: boolean } = {}): Promise<string[]> {
  const found = new Set<string>();
  for (const pattern of patterns) {
    if (await isFile(pattern)) {
      found.add(pattern);
      continue;
    }
    for await (const file of glob(pattern, { exclude: (name) => name === 'node_modules' || name === '.git' })) {
      found.add(file);
    }
  }
  // allowNone: the caller knows of records that were deleted, and reports that instead.
  if (found.size === 0 && !options.allowNone) {
    throw new UserError(`input "records" matched no run record (${patterns.join(', ')})`, 'Check the paths or globs, and the working-directory input; create a record with `repro-gate record`.');
  }
  return [...found].sort();
}
