import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors.js';
import { findRepoRoot } from '../git.js';
import { leadsOutside } from '../record/paths.js';
import { checkModel, promotionFacts, type PromotionToJudge, removedModels } from './check.js';
import { evaluatePromotion } from './policy.js';
import { baseCommit, readBaseRegistry } from './read-base.js';
import { readRegistry } from './read-registry.js';
import type { BaseModelState, RegistryProblem } from './state.js';

// `registry check` as the CLI and the action run it: the registry read from the working tree, checked on its own
// and, with a base ref, against the registry at that commit.

export interface RegistryCheck {
  problems: RegistryProblem[];
  /** The promotions the policy judges: with a base, every line appended since; without, each alias's last. */
  toJudge: PromotionToJudge[];
}

/** A model new since the base: nothing of it existed there. */
const EMPTY_BASE: BaseModelState = { logText: '', versions: new Set(), aliases: new Map(), changedVersionFiles: [] };

async function readBase(registryDir: string, ref: string): Promise<Map<string, BaseModelState>> {
  const root = await findRepoRoot(registryDir);
  if (!root) throw new UserError(`${registryDir} is not inside a git repository, so it has no version at ${ref} to compare with`, 'Run inside the repository, or drop --base.');
  const repoRoot = await realpath(root);
  const relative = path.relative(repoRoot, await realpath(registryDir));
  if (leadsOutside(relative)) throw new UserError(`the registry folder ${registryDir} is outside the repository at ${repoRoot}`, 'Point --registry (the action\'s `registry` input) at a folder of the repository.');
  const commit = await baseCommit(repoRoot, ref);
  return readBaseRegistry(repoRoot, commit, relative.split(path.sep).join('/') || '.');
}

export async function checkRegistry(registryDir: string, shownDir: string, baseRef?: string): Promise<RegistryCheck> {
  const base = baseRef === undefined ? undefined : await readBase(registryDir, baseRef);
  const { models, problems } = await readRegistry(registryDir, shownDir);
  const toJudge: PromotionToJudge[] = [];
  for (const model of models) {
    const checked = checkModel(model, base ? (base.get(model.name) ?? EMPTY_BASE) : undefined);
    problems.push(...checked.problems);
    toJudge.push(...checked.toJudge);
  }
  if (base) problems.push(...removedModels(models, base));
  return { problems, toJudge };
}

/** The policy's judgement of each promotion where it needs no rerun (the verdict is left undecided): `registry check`. */
export function policyProblems(toJudge: readonly PromotionToJudge[]): RegistryProblem[] {
  return toJudge.flatMap((judged) =>
    evaluatePromotion(judged.policy, promotionFacts(judged.model, judged.promotion, judged.history))
      // A version's own problems are listed on their own.
      .filter((row) => row.ok === false && row.rule !== 'checksum.txt matches')
      .map((row) => ({ model: judged.model.name, message: `${judged.promotion.alias} → ${judged.promotion.to} breaks the policy: ${row.rule} (${row.detail})` })),
  );
}
