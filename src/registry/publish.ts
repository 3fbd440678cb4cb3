import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ExitCode } from '../constants.js';
import { UserError } from '../errors.js';
import { directoryDigest, hashTask, listRegularFiles } from '../hashing/sha256.js';
import { mapConcurrently } from '../map-concurrently.js';
import { type LoadedRecord, loadRecord } from '../record/load.js';
import { metricsFileText } from './check.js';
import { renderChecksums } from './checksum-file.js';
import { CHECKSUM_FILE, MODEL_NAME_PATTERN, VERSION_MANIFEST_FILE, VERSION_METADATA_FILES, VERSION_METRICS_FILE, VERSION_RECORD_FILE } from './names.js';
import { isSemver } from './semver.js';

// `registry publish`: a new, immutable version folder holding the record's verified artifacts (flat, by file name),
// the record, its metrics, what it was built from, and checksum.txt. Built in a temporary sibling and renamed into
// place, so a version folder is never half-written.

export interface PublishRequest {
  recordFile: string;
  registryDir: string;
  model: string;
  version: string;
}

export interface Published {
  dir: string;
  files: number;
}

function checkNames(model: string, version: string): void {
  if (!MODEL_NAME_PATTERN.test(model)) throw new UserError(`--model ${model} is not a model name`, 'Use letters, digits, ".", "_" and "-", starting with a letter or digit (fraud-detector).');
  if (!isSemver(version)) throw new UserError(`--version ${version} is not a semantic version`, 'Use MAJOR.MINOR.PATCH, optionally with a pre-release (1.2.0, 2.0.0-rc.1); build metadata (+…) is not accepted.');
}

/** The artifacts the record verifies (not `compare: report` ones), each with its flat name in the version. */
function publishedArtifacts(loaded: LoadedRecord): Array<{ source: string; shown: string; name: string; sha256: string }> {
  const taken = new Set(VERSION_METADATA_FILES);
  const artifacts = (loaded.record.artifacts ?? []).flatMap((artifact, i) =>
    artifact.compare === 'report' ? [] : [{ source: loaded.paths.artifacts[i]!.absolute, shown: artifact.path, name: path.posix.basename(artifact.path), sha256: artifact.sha256 }],
  );
  if (artifacts.length === 0) throw new UserError(`${loaded.recordPath} records no artifact to publish`, 'A version holds the model: record its output with `--artifact PATH`.', { file: loaded.recordPath });
  for (const artifact of artifacts) {
    if (taken.has(artifact.name)) {
      throw new UserError(`${artifact.shown} would be published as ${artifact.name}, a name the version already uses`, `Versions are flat: rename the output, or mark it \`compare: report\` to leave it out. Names taken: ${VERSION_METADATA_FILES.join(', ')}.`, { file: loaded.recordPath });
    }
    taken.add(artifact.name);
  }
  return artifacts;
}

/**
 * Copies `source` (a file or a folder) to `dir/name`, hashing exactly the bytes copied: the digest the record names
 * it by, and each file's sha256 by its path in the version (for checksum.txt, so nothing is read twice).
 */
async function copyHashed(source: string, dir: string, name: string, shown: string): Promise<{ digest: string; files: Array<[string, string]> }> {
  const stats = await lstat(source).catch(() => undefined);
  if (stats === undefined) throw new UserError(`${shown} is missing`, 'Publish needs the recorded outputs in the checkout: run the training, or `repro-gate record --update` the record.');
  if (stats.isSymbolicLink()) throw new UserError(`${shown} is a symlink`, 'Publish copies regular files only: put the output itself at the recorded path.');
  if (stats.isFile()) {
    const digest = await hashTask({ file: source, copyTo: path.join(dir, name) });
    return { digest, files: [[name, digest]] };
  }
  if (!stats.isDirectory()) throw new UserError(`${shown} is neither a file nor a folder`, 'Publish copies regular files and folders of them.');
  const files = await listRegularFiles(source, { displayPath: shown, regularOnly: true });
  for (const folder of new Set(files.map((file) => path.dirname(file)))) await mkdir(path.join(dir, name, folder), { recursive: true });
  const hashes = await mapConcurrently(files, (file) => hashTask({ file: path.join(source, file), copyTo: path.join(dir, name, file) }));
  return { digest: directoryDigest(files, hashes), files: files.map((file, i) => [`${name}/${file}`, hashes[i]!]) };
}

/** What the version was built from, so it can be found, rerun and audited without the repository's history. */
function buildManifest(loaded: LoadedRecord): string {
  const { record } = loaded;
  const manifest = {
    record: loaded.recordPath,
    record_sha256: loaded.sha256,
    commit: record.code?.commit ?? null,
    data: (record.data ?? []).map(({ path: file, sha256, manifest: dataManifest }) => ({ path: file, sha256, ...(dataManifest ? { manifest: dataManifest } : {}) })),
    config: (record.config ?? []).map(({ path: file, sha256 }) => ({ path: file, sha256 })),
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** Writes `text` into `dir/name`; its sha256. */
async function writeHashed(dir: string, name: string, text: string): Promise<string> {
  await writeFile(path.join(dir, name), text);
  return createHash('sha256').update(text).digest('hex');
}

/** Fills the version folder `dir`; how many files it holds. */
async function fillVersion(loaded: LoadedRecord, dir: string): Promise<number> {
  const checksums = new Map<string, string>();
  for (const artifact of publishedArtifacts(loaded)) {
    const copied = await copyHashed(artifact.source, dir, artifact.name, artifact.shown);
    if (copied.digest !== artifact.sha256) {
      throw new UserError(
        `${artifact.shown} is not the output the record names (sha256 ${copied.digest.slice(0, 12)}…, recorded ${artifact.sha256.slice(0, 12)}…)`,
        'Publish only what the recorded run wrote: rerun the training, or accept the new output with `repro-gate record --update`.',
        { file: loaded.recordPath },
      );
    }
    for (const [file, sha256] of copied.files) checksums.set(file, sha256);
  }
  const recordCopy = await hashTask({ file: loaded.file, copyTo: path.join(dir, VERSION_RECORD_FILE) });
  if (recordCopy !== loaded.sha256) throw new UserError(`${loaded.recordPath} changed while it was being published`, 'Publish again.');
  checksums.set(VERSION_RECORD_FILE, recordCopy);
  checksums.set(VERSION_METRICS_FILE, await writeHashed(dir, VERSION_METRICS_FILE, metricsFileText(loaded.record.metrics?.values ?? {})));
  checksums.set(VERSION_MANIFEST_FILE, await writeHashed(dir, VERSION_MANIFEST_FILE, buildManifest(loaded)));
  await writeFile(path.join(dir, CHECKSUM_FILE), renderChecksums(checksums));
  return checksums.size + 1;
}

/** A version is rebuilt from its commit: a record of uncommitted code, or of none, could not be. */
function checkRebuildable(loaded: LoadedRecord): void {
  const hint = 'Commit the code, then `repro-gate record --update` the record, commit it and its outputs, and publish.';
  if (loaded.record.code?.commit === undefined) throw new UserError(`${loaded.recordPath} names no code.commit, so the version could not be rebuilt from its code`, hint, { file: loaded.recordPath });
  if (loaded.record.code.dirty) throw new UserError(`${loaded.recordPath} was recorded from uncommitted code (code.dirty: true)`, hint, { file: loaded.recordPath });
}

/** Publishing writes into these folders: never through a link that leads elsewhere. */
async function checkNotLinks(...dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    if ((await lstat(dir).catch(() => undefined))?.isSymbolicLink()) throw new UserError(`${dir} is a symlink`, 'Keep the registry in the repository itself, as folders.');
  }
}

export async function publishVersion(request: PublishRequest): Promise<Published> {
  checkNames(request.model, request.version);
  const loaded = await loadRecord(request.recordFile);
  checkRebuildable(loaded);
  const modelDir = path.join(request.registryDir, request.model);
  const versionDir = path.join(modelDir, request.version);
  if (await lstat(versionDir).then(() => true, () => false)) {
    throw new UserError(`${request.model} ${request.version} is already published (${versionDir})`, 'A published version is immutable: publish the new model as a new version (bump MAJOR.MINOR.PATCH).', {}, ExitCode.Error);
  }
  await checkNotLinks(request.registryDir, modelDir);
  await mkdir(modelDir, { recursive: true });
  const temporary = path.join(modelDir, `.${request.version}.${randomBytes(6).toString('hex')}.tmp`);
  await mkdir(temporary);
  let files: number;
  try {
    files = await fillVersion(loaded, temporary);
    // A directory rename replaces an empty folder: the check above is repeated just before it.
    if (await lstat(versionDir).then(() => true, () => false)) throw new UserError(`${request.model} ${request.version} was published by someone else meanwhile`, 'Publish as a new version.');
    await rename(temporary, versionDir);
  } catch (error) {
    await rm(temporary, { recursive: true, force: true });
    throw error;
  }
  return { dir: versionDir, files };
}
