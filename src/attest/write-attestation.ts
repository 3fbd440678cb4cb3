import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { findRepoRoot } from '../git.js';
import { directoryDigest, hashTask, listRegularFiles } from '../hashing/sha256.js';
import { mapConcurrently } from '../map-concurrently.js';
import type { Report } from '../report/schema.js';
import { writeFileAtomic } from '../write-file-atomic.js';
import { checksumLine, checksumsText, type FolderFiles } from './checksums.js';
import { CHECKSUMS_FILE_NAME, PREDICATE_FILE_NAME, RECORDS_LIST_FILE_NAME, STATEMENT_FILE_NAME } from './names.js';
import { resourceUri } from './resource-uri.js';
import { attestedDigest, isAttested, type PolicyDescriptor, verificationStatement, verifiedRecords } from './statement.js';

// The edge of the audit trail: what the statement needs from disk and git, and the files it is written to.

export interface AttestationFiles {
  /** The in-toto statement (`provenance.json`). */
  statement: string;
  /** Its predicate alone (`predicate.json`), for `actions/attest`'s `predicate-path`. */
  predicate: string;
  /** The subjects in `sha256sum` format (`checksums.txt`), for `actions/attest`'s `subject-checksums`. */
  checksums: string;
  /** What a reader should know: folders left out of checksums.txt, or why no statement was made. */
  warnings: string[];
}

/** A folder's files and their sha256, if its directory hash is `dirHash1`; undefined otherwise. */
async function filesHashingTo(folder: string, dirHash1: string): Promise<FolderFiles | undefined> {
  const files = await listRegularFiles(folder, { regularOnly: true }).catch(() => undefined);
  if (!files) return undefined;
  const hashes = await mapConcurrently(files, (file) => hashTask({ file: path.join(folder, file) }));
  return directoryDigest(files, hashes) === dirHash1 ? files.map((file, i) => ({ file, sha256: hashes[i]! })) : undefined;
}

/** The files of each folder subject, from the kept evidence or the checkout, wherever a copy with the attested digest is. */
async function folderListings(report: Report, evidenceDir: string, repoRoot: string): Promise<Map<string, FolderFiles>> {
  const listings = new Map<string, FolderFiles>();
  for (const record of verifiedRecords(report)) {
    for (const artifact of record.artifacts) {
      // Only folders the statement names: a `report` one is never hashed for it.
      if (artifact.kind !== 'directory' || !isAttested(artifact) || listings.has(artifact.path)) continue;
      const digest = attestedDigest(artifact);
      for (const candidate of [path.join(evidenceDir, record.name, 'outputs', artifact.path), path.join(repoRoot, artifact.path)]) {
        const files = await filesHashingTo(candidate, digest);
        if (files) {
          listings.set(artifact.path, files);
          break;
        }
      }
    }
  }
  return listings;
}

/** One record: the record file itself. Several: a `sha256sum` list of them, written beside the statement. */
async function policyOf(report: Report, evidenceDir: string): Promise<PolicyDescriptor | undefined> {
  const records = verifiedRecords(report).filter((record) => record.recordSha256 !== undefined);
  if (records.length === 1) return { uri: records[0]!.recordPath, digest: { sha256: records[0]!.recordSha256! } };
  if (records.length === 0) return undefined;
  const text = records.map((record) => checksumLine(record.recordSha256!, record.recordPath)).join('');
  await writeFileAtomic(path.join(evidenceDir, RECORDS_LIST_FILE_NAME), text);
  return { uri: RECORDS_LIST_FILE_NAME, digest: { sha256: createHash('sha256').update(text).digest('hex') } };
}

/**
 * Writes the verification statement, its predicate and the subjects' checksums into `evidenceDir`. When no record
 * was verified, writes nothing and says why in `warnings`: a statement must name what it verified.
 */
export async function writeAttestation(report: Report, options: { evidenceDir: string; recordFiles: readonly string[] }): Promise<AttestationFiles | { warnings: string[] }> {
  // An evidence folder given again (--evidence-dir) must not keep an earlier verify's statement beside this one's report.
  await Promise.all([STATEMENT_FILE_NAME, PREDICATE_FILE_NAME, CHECKSUMS_FILE_NAME, RECORDS_LIST_FILE_NAME].map((name) => rm(path.join(options.evidenceDir, name), { force: true })));
  const first = options.recordFiles[0];
  const folder = path.dirname(path.resolve(first ?? '.'));
  const gitRoot = await findRepoRoot(folder);
  const repoRoot = gitRoot ?? folder;
  // The commit whose code ran, when every verified record ran the same one (several at different recorded commits each
  // name theirs in the extension field).
  const commits = new Set(verifiedRecords(report).map((record) => record.code?.ranAt ?? record.code?.currentCommit));
  const commit = commits.size === 1 ? [...commits][0] : undefined;
  const [uri, policy] = await Promise.all([
    resourceUri(repoRoot, { isGitRepo: gitRoot !== undefined, commit }),
    policyOf(report, options.evidenceDir),
  ]);
  const built = policy && verificationStatement(report, { resourceUri: uri, policy });
  if (!built) return { warnings: ['no verification statement was written: no record was verified (each was unaffected, or could not be read)'] };
  const { text, leftOut } = checksumsText(built.subjects, await folderListings(report, options.evidenceDir, repoRoot));
  const files = {
    statement: path.join(options.evidenceDir, STATEMENT_FILE_NAME),
    predicate: path.join(options.evidenceDir, PREDICATE_FILE_NAME),
    checksums: path.join(options.evidenceDir, CHECKSUMS_FILE_NAME),
  };
  await Promise.all([
    writeFileAtomic(files.statement, `${JSON.stringify(built.statement, null, 2)}\n`),
    writeFileAtomic(files.predicate, `${JSON.stringify(built.predicate, null, 2)}\n`),
    writeFileAtomic(files.checksums, text),
  ]);
  const warnings = leftOut.map((name) => `${CHECKSUMS_FILE_NAME} leaves out folder ${name}: neither the kept evidence nor the checkout holds a copy with its attested digest (keep the outputs with --keep-artifacts, or upload-evidence in the action)`);
  return { ...files, warnings };
}
