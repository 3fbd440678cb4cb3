import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { inject } from 'vitest';

/** A folder every test file of this run shares (e.g. the recording venv cache), removed when the run ends. */
export function runSharedFolder(name: string): string {
  const folder = path.join(inject('testRunRoot'), name);
  mkdirSync(folder, { recursive: true });
  return folder;
}
