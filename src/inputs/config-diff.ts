import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { CONFIG_DIFF_MAX_BYTES } from '../constants.js';
import { readFileAtCommit } from '../git.js';
import { unifiedDiff } from '../report/text-diff.js';

/** Text a reviewer reads as a diff: configs, and the code and templates a training reads (learned inputs). */
const TEXT_INPUT = new Set(['.yaml', '.yml', '.json', '.toml', '.ini', '.cfg', '.py', '.txt', '.j2', '.jinja', '.jinja2', '.sql', '.sh']);

/**
 * A changed text config as a unified diff against its version at the recorded commit: a reviewer sees
 * `lr: 0.01 → 0.05` instead of two hashes. Undefined for binary or large files, or when the commit is not in the clone.
 */
export async function configDiff(repoRoot: string, commit: string | undefined, file: { absolute: string; repoRelative: string }): Promise<string | undefined> {
  if (!commit || !TEXT_INPUT.has(path.extname(file.repoRelative).toLowerCase())) return undefined;
  const size = await stat(file.absolute).then((info) => info.size, () => Infinity);
  if (size > CONFIG_DIFF_MAX_BYTES) return undefined;
  const [before, after] = await Promise.all([readFileAtCommit(repoRoot, commit, file.repoRelative), readFile(file.absolute, 'utf8')]);
  if (before === undefined) return undefined;
  return unifiedDiff(file.repoRelative, before, after) || undefined;
}
