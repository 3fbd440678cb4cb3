import { createHash } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import { findRepoRoot } from '../git.js';
import { readFileWithin } from '../read-bounded.js';
import { isInside } from '../record/paths.js';
import { VERSION_MANIFEST_FILE, VERSION_RECORD_FILE } from './names.js';
import { manifestOf } from './check.js';
import type { ModelState } from './state.js';

const MAX_RECORD_BYTES = 64 * 1024 * 1024;

/** The checkout's copy of the version's record (its path is in the data manifest), byte for byte the published one. */
export async function sourceRecord(registryDir: string, model: ModelState, version: string): Promise<string> {
  const state = model.versions.get(version)!;
  const repoRoot = (await findRepoRoot(path.join(registryDir, model.name, version))) ?? process.cwd();
  const recordPath = manifestOf(state).record;
  const hint = `Verify it where its code is (\`repro-gate verify --json report.json\` at commit code.commit of ${VERSION_RECORD_FILE}) and pass --report report.json.`;
  if (typeof recordPath !== 'string' || path.isAbsolute(recordPath) || recordPath.split('/').includes('..')) {
    throw new UserError(`${model.dir}/${version}/${VERSION_MANIFEST_FILE} does not name the record the version was published from`, hint);
  }
  const file = path.join(repoRoot, recordPath);
  // Only a record inside the repository is rerun; the manifest is the pull request's to write.
  const real = await realpath(file).catch(() => undefined);
  if (real === undefined || !isInside(await realpath(repoRoot), real)) throw new UserError(`${recordPath}, the record ${version} was published from, is not in the checkout`, hint);
  const sha256 = await readFileWithin(file, MAX_RECORD_BYTES).then((bytes) => createHash('sha256').update(bytes).digest('hex'), () => undefined);
  if (sha256 !== state.files.get(VERSION_RECORD_FILE)) {
    throw new UserError(`${recordPath} in the checkout is no longer the record ${version} was published from, so it cannot be rerun here`, hint);
  }
  return file;
}
