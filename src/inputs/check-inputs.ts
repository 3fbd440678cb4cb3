import { stat } from 'node:fs/promises';
import { sha256PathIfExists } from '../hashing/sha256.js';
import type { LoadedRecord } from '../record/load.js';
import type { ResolvedPath } from '../record/paths.js';
import type { InputCheck, ManifestCheck } from '../report/schema.js';
import { countRows, readManifest, rowFormatOf } from './manifest.js';

// The inputs stage: data, config and requirements against their recorded hashes, before anything runs.

async function hashCheck(
  kind: InputCheck['kind'],
  file: ResolvedPath,
  recorded: string,
  line: number | undefined,
  known?: string,
): Promise<InputCheck> {
  const actual = known ?? (await sha256PathIfExists(file.absolute));
  const status = actual === null ? 'missing' : actual === recorded ? 'match' : 'mismatch';
  return { kind, path: file.repoRelative, recorded, actual, status, line };
}

async function checkManifest(data: ResolvedPath, manifestPath: ResolvedPath, dataHash: string | null): Promise<ManifestCheck> {
  const manifest = await readManifest(manifestPath.absolute, manifestPath.repoRelative);
  const check: ManifestCheck = {
    path: manifestPath.repoRelative,
    datasetName: manifest.dataset_name,
    storageUri: manifest.storage_uri,
    contentHash: manifest.content_hash,
    recordCount: manifest.record_count,
  };
  if (dataHash === null) return check;
  if (manifest.content_hash !== undefined) check.contentHashMatches = manifest.content_hash === `sha256:${dataHash}`;
  const format = rowFormatOf(data.absolute);
  if (manifest.record_count !== undefined && format && (await stat(data.absolute)).isFile()) {
    check.actualRecordCount = await countRows(data.absolute, format);
  }
  return check;
}

function manifestDisagrees(manifest: ManifestCheck): boolean {
  return (
    manifest.contentHashMatches === false ||
    (manifest.actualRecordCount !== undefined && manifest.actualRecordCount !== manifest.recordCount)
  );
}

/**
 * Hashes every input in parallel. Missing files come back with status `missing`; the caller decides what that means.
 * `copiedData`: the data's digests taken as it was copied into the sandbox (by repo-relative path), not read again.
 */
export async function checkInputs(loaded: LoadedRecord, copiedData?: ReadonlyMap<string, string>): Promise<InputCheck[]> {
  const { record, paths, lineOf } = loaded;
  const data = (record.data ?? []).map(async (entry, i): Promise<InputCheck> => {
    const resolved = paths.data[i]!;
    const check = await hashCheck('data', resolved.data, entry.sha256, lineOf(['data', i, 'sha256']), copiedData?.get(resolved.data.repoRelative));
    if (!resolved.manifest) return check;
    const manifest = await checkManifest(resolved.data, resolved.manifest, check.actual);
    const status = check.status === 'match' && manifestDisagrees(manifest) ? 'manifest-mismatch' : check.status;
    return { ...check, status, manifest };
  });
  const config = (record.config ?? []).map((entry, i) =>
    hashCheck('config', paths.config[i]!, entry.sha256, lineOf(['config', i, 'sha256'])),
  );
  const environment = record.environment;
  const requirements =
    paths.requirements && environment?.requirements_sha256
      ? [hashCheck('requirements', paths.requirements, environment.requirements_sha256, lineOf(['environment', 'requirements_sha256']))]
      : [];
  // A uv project's lock is its environment's pins, checked like a requirements file.
  const lockfile =
    paths.lockfile && environment?.lockfile_sha256
      ? [hashCheck('requirements', paths.lockfile.lock, environment.lockfile_sha256, lineOf(['environment', 'lockfile_sha256']))]
      : [];
  return Promise.all([...data, ...config, ...requirements, ...lockfile]);
}
