import type { RunRecord } from '../record/schema.js';
import type { Policy } from './policy.js';

// What the registry holds, as read from the working tree (read-registry.ts) or from the base commit (read-base.ts):
// the data `registry check` and the promotion gate judge, with no file system behind it.

export interface VersionState {
  /** Every file of the version folder but checksum.txt (relative, with `/`, sorted bytewise), with its sha256. */
  files: Map<string, string>;
  /** checksum.txt as written; undefined when it is missing or unreadable. */
  checksumText?: string;
  /** The sha256 of checksum.txt's bytes: what a promotion names (`version_sha256`). */
  checksumSha256?: string;
  /** The version's run.yaml, parsed; a string when it is missing or invalid. */
  record: RunRecord | string;
  /** metrics.json and data_manifest.json as written (undefined: missing or unreadable). */
  metricsText?: string;
  manifestText?: string;
}

export interface ModelState {
  name: string;
  /** The model's folder as messages name it (`models/iris`). */
  dir: string;
  versions: Map<string, VersionState>;
  /** Alias → the version it names, as written (symlink target or aliases.yaml value). */
  aliases: Map<string, string>;
  aliasSource: 'symlinks' | 'aliases.yaml';
  /** promotions.jsonl as written ('' when there is none). */
  logText: string;
  /** policy.yaml as written; undefined when there is none (the default policy applies). */
  policyText?: string;
  /** The policy file's content (undefined: no file, the default applies), or why it is unusable. */
  policy: { policy?: Policy } | { problem: string };
  /** What reading found wrong: stray entries, links, unreadable files. */
  problems: string[];
  /** Temporary files of an interrupted publish or promote (`.<name>.<random>.tmp`). */
  leftovers: string[];
}

/** A registry problem for the report: which model, what, and how to fix it. */
export interface RegistryProblem {
  model: string;
  message: string;
}

/** The registry folder as read: its models, and what is wrong outside any model. */
export interface RegistryState {
  models: ModelState[];
  problems: RegistryProblem[];
}

/** The registry at the base commit, for the checks against it. */
export interface BaseModelState {
  logText: string;
  /** policy.yaml at the base: the policy a pull request's promotions are judged by. */
  policyText?: string;
  versions: ReadonlySet<string>;
  aliases: ReadonlyMap<string, string>;
  /** Changes since the base inside version folders that existed there: `1.2.0/model.pkl (modified)`. */
  changedVersionFiles: ReadonlyArray<{ version: string; file: string; change: string }>;
}
