import { createHash } from 'node:crypto';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { describeError, UserError } from '../errors.js';
import { hashTask, listRegularFiles } from '../hashing/sha256.js';
import { mapConcurrently } from '../map-concurrently.js';
import { FileTooLargeError, NotARegularFileError, readFileWithin } from '../read-bounded.js';
import { parseSource } from '../record/locate.js';
import { RunRecordSchema } from '../record/schema.js';
import { ALIASES_FILE, CHECKSUM_FILE, MODEL_FILES, MODEL_NAME_PATTERN, POLICY_FILE, PROMOTION_LOG_FILE, VERSION_MANIFEST_FILE, VERSION_METRICS_FILE, VERSION_RECORD_FILE } from './names.js';
import { parsePolicyText } from './policy.js';
import { isSemver } from './semver.js';
import type { ModelState, RegistryProblem, RegistryState, VersionState } from './state.js';

// The file-system edge of the registry: reads a registry folder into ModelStates. Only reads; every file of every
// version is hashed (on the hash pool's threads), since that is what checksum.txt is checked against. In a pull
// request every file here is the pull request's: no link is followed, and every text is bounded and strict UTF-8.

/** Registry text files (a log, a policy, checksums, a record) are small; a bigger one is refused rather than read whole. */
const TEXT_MAX_BYTES = 16 * 1024 * 1024;
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

interface ReadText {
  text: string;
  sha256: string;
}

/** A registry file's text, never through a link; undefined when it is missing, with a problem when it is unusable. */
async function readText(file: string, shown: string, problems: string[]): Promise<ReadText | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFileWithin(file, TEXT_MAX_BYTES, { noFollow: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP' || error instanceof NotARegularFileError) problems.push(`${shown} is not a regular file (a link?): registry files are read only as files`);
    else if (error instanceof FileTooLargeError) problems.push(`${shown} is ${error.message}: not a file repro-gate wrote`);
    else throw error;
    return undefined;
  }
  try {
    return { text: STRICT_UTF8.decode(bytes), sha256: createHash('sha256').update(bytes).digest('hex') };
  } catch {
    problems.push(`${shown} is not valid UTF-8`);
    return undefined;
  }
}

/** aliases.yaml's mapping; or why it is not one. */
export function parseAliasesFile(text: string): Map<string, string> | string {
  const parsed = parseSource(text);
  if ('problem' in parsed) return `${ALIASES_FILE}: ${parsed.problem.message}`;
  const value = parsed.source.value;
  if (value === null || value === undefined) return new Map();
  if (typeof value !== 'object' || Array.isArray(value)) return `${ALIASES_FILE} must map aliases to versions (staging: 1.2.1)`;
  const aliases = new Map<string, string>();
  for (const [alias, version] of Object.entries(value)) {
    if (typeof version !== 'string') return `${ALIASES_FILE}: ${alias} must name a version as a string ("1.2.1")`;
    aliases.set(alias, version);
  }
  return aliases;
}

/** The version's run.yaml, parsed; or why it cannot be. */
function parseRecord(text: string | undefined): VersionState['record'] {
  if (text === undefined) return `${VERSION_RECORD_FILE} is missing or unreadable`;
  const parsed = parseSource(text);
  if ('problem' in parsed) return `${VERSION_RECORD_FILE}: ${parsed.problem.message}`;
  const result = RunRecordSchema.safeParse(parsed.source.value);
  return result.success ? result.data : `${VERSION_RECORD_FILE} is not a valid run record (${result.error.issues[0]!.path.join('.')}: ${result.error.issues[0]!.message})`;
}

async function readVersion(dir: string, shown: string, problems: string[]): Promise<VersionState | undefined> {
  let names: string[];
  try {
    names = await listRegularFiles(dir, { displayPath: shown, regularOnly: true });
  } catch (error) {
    problems.push(describeError(error).message);
    return undefined;
  }
  const hashed = names.filter((name) => name !== CHECKSUM_FILE);
  const hashes = await mapConcurrently(hashed, (name) => hashTask({ file: path.join(dir, name) }));
  const read = (name: string) => (names.includes(name) ? readText(path.join(dir, name), `${shown}/${name}`, problems) : Promise.resolve(undefined));
  const checksum = await read(CHECKSUM_FILE);
  return {
    files: new Map(hashed.map((name, i) => [name, hashes[i]!])),
    checksumText: checksum?.text,
    checksumSha256: checksum?.sha256,
    record: parseRecord((await read(VERSION_RECORD_FILE))?.text),
    metricsText: (await read(VERSION_METRICS_FILE))?.text,
    manifestText: (await read(VERSION_MANIFEST_FILE))?.text,
  };
}

/** A symlink alias names a version of its own folder by its bare name (`staging -> 1.2.1`). */
async function symlinkAlias(file: string, name: string, problems: string[]): Promise<string | undefined> {
  const target = await readlink(file);
  const version = target.replace(/^\.\//, '').replace(/\/$/, '');
  if (version.includes('/')) {
    problems.push(`alias ${name} is a link to ${target}: an alias must name a version in its own folder (\`ln -s 1.2.0 ${name}\`)`);
    return undefined;
  }
  return version;
}

/** A model's aliases and promotion log as written: what moves on a promotion, read without its versions. */
export type ModelPointers = Pick<ModelState, 'aliases' | 'aliasSource' | 'logText'>;

/** The model's aliases (symlinks, or aliases.yaml) and its log; what is wrong with them goes into `problems`. */
export async function readModelPointers(dir: string, shownDir: string, problems: string[] = []): Promise<ModelPointers> {
  const linkAliases = new Map<string, string>();
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isSymbolicLink() || isLeftover(entry.name) || MODEL_FILES.includes(entry.name)) continue;
    const version = await symlinkAlias(path.join(dir, entry.name), entry.name, problems);
    if (version !== undefined) linkAliases.set(entry.name, version);
  }
  const read = (file: string) => readText(path.join(dir, file), `${shownDir}/${file}`, problems);
  const aliasesText = (await read(ALIASES_FILE))?.text;
  let aliases = linkAliases;
  if (aliasesText !== undefined) {
    const parsed = parseAliasesFile(aliasesText);
    if (typeof parsed === 'string') problems.push(parsed);
    else aliases = parsed;
    if (linkAliases.size > 0) problems.push(`both ${ALIASES_FILE} and alias symlinks (${[...linkAliases.keys()].join(', ')}): keep one way of naming aliases`);
  }
  return { aliases, aliasSource: aliasesText === undefined ? 'symlinks' : 'aliases.yaml', logText: (await read(PROMOTION_LOG_FILE))?.text ?? '' };
}

/** A temporary name of an interrupted publish or promote (`.<name>.<random>.tmp`). */
const isLeftover = (name: string) => name.startsWith('.') && name.endsWith('.tmp');

async function readModel(dir: string, name: string, shownDir: string): Promise<ModelState> {
  const problems: string[] = [];
  const leftovers: string[] = [];
  const versions = new Map<string, VersionState>();
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (isLeftover(entry.name)) {
      leftovers.push(entry.name);
    } else if (MODEL_FILES.includes(entry.name)) {
      if (!entry.isFile()) problems.push(`${entry.name} is not a regular file (a link?): registry files are read only as files`);
    } else if (entry.isDirectory() && isSemver(entry.name)) {
      const version = await readVersion(path.join(dir, entry.name), `${shownDir}/${entry.name}`, problems);
      if (version) versions.set(entry.name, version);
    } else if (!entry.isSymbolicLink()) {
      // Symlinks are aliases, read with the log below.
      problems.push(`${entry.name} is neither a version (X.Y.Z folder), an alias (symlink) nor one of ${MODEL_FILES.join(', ')}`);
    }
  }
  const pointers = await readModelPointers(dir, shownDir, problems);
  const policyText = (await readText(path.join(dir, POLICY_FILE), `${shownDir}/${POLICY_FILE}`, problems))?.text;
  return { name, dir: shownDir, versions, ...pointers, policyText, policy: parsePolicyText(policyText), problems, leftovers };
}

/** The registry folder `registryDir` (`shownDir`: how messages name it); `only` reads just that model. */
export async function readRegistry(registryDir: string, shownDir: string, only?: string): Promise<RegistryState> {
  // A pull request could point the registry anywhere on the runner through a link; its versions are folders of its own.
  if ((await lstat(registryDir).catch(() => undefined))?.isSymbolicLink()) {
    throw new UserError(`the registry folder ${shownDir} is a symlink`, 'Keep the registry in the repository itself, as a folder.');
  }
  const entries = await readdir(registryDir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') {
      throw new UserError(`the registry folder ${shownDir} does not exist`, 'Publish a first version with `repro-gate registry publish`, or point --registry at the folder.');
    }
    throw error;
  });
  const problems: RegistryProblem[] = [];
  const models = [];
  for (const entry of entries) {
    if (only !== undefined && entry.name !== only) continue;
    if (entry.isDirectory() && MODEL_NAME_PATTERN.test(entry.name)) models.push(await readModel(path.join(registryDir, entry.name), entry.name, `${shownDir}/${entry.name}`));
    // A README beside the models is fine; a link or an oddly named folder could hide a model from every check.
    else if (!entry.isFile()) problems.push({ model: entry.name, message: `${shownDir}/${entry.name} is not a model folder (a folder named with letters, digits, ".", "_" or "-")` });
  }
  return { models, problems };
}
