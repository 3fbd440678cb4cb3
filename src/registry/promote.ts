import { rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import { UserError } from '../errors.js';
import { writeFileAtomic } from '../write-file-atomic.js';
import { moveAlias } from './alias-store.js';
import { metricsOf, policyOf, promotionFacts, promotionsOf } from './check.js';
import { ALIAS_NAME_PATTERN, PROMOTION_LOG_FILE } from './names.js';
import { evaluatePromotion, type PolicyRow, policyPasses } from './policy.js';
import { appendedLine } from './promotion-log.js';
import { readModelPointers, readRegistry } from './read-registry.js';
import type { PromotionView } from './report.js';
import { isSemver } from './semver.js';
import type { ModelState } from './state.js';
import { type Rerun, verifyVersion } from './verification.js';

// `registry promote`: the policy checked against the version's metrics, its checksums, the log and a verify verdict
// (from a report of this run, or a rerun of the version's record), then the log appended and the alias moved.
// The log is written first: a promote killed between the two leaves the old alias and a last log line naming the
// move, which check reports and the same promote checks again and finishes.

export interface PromoteRequest {
  registryDir: string;
  shownDir: string;
  model: string;
  version: string;
  alias: string;
  reason: string;
  actor?: string;
  /** A `verify --json` report that verified the version's run.yaml; without one, `rerun` verifies it. */
  reportFile?: string;
  rerun: Rerun;
  now?: () => Date;
}

export interface PromoteOutcome {
  /** The move with its policy rows and metric deltas; `passes` when the alias moved. */
  view: PromotionView;
  /** The move finished an interrupted promote (its log line was already written). */
  finished: boolean;
}

async function readModel(request: PromoteRequest): Promise<ModelState> {
  const { models } = await readRegistry(request.registryDir, request.shownDir, request.model);
  const [model] = models;
  if (model === undefined) throw new UserError(`${request.shownDir} has no model ${request.model}`, 'Publish it first with `repro-gate registry publish`.');
  if ('problem' in model.policy) throw new UserError(model.policy.problem, 'Fix the policy file: promotions are judged by it.');
  const [problem] = model.problems;
  if (problem !== undefined) throw new UserError(`${model.dir}: ${problem}`, 'Fix the registry first (`repro-gate registry check` lists what is wrong).');
  return model;
}

/** The log and the alias as they are now: a promote that ran for hours must not overwrite a promotion made meanwhile. */
async function assertUnchanged(request: PromoteRequest, before: ModelState): Promise<void> {
  const now = await readModelPointers(path.join(request.registryDir, before.name), before.dir);
  if (now.logText !== before.logText || now.aliases.get(request.alias) !== before.aliases.get(request.alias)) {
    throw new UserError(`${before.dir} changed while the promotion was being checked (another promotion?)`, 'Nothing was written: run the promote again.');
  }
}

export async function promoteVersion(request: PromoteRequest): Promise<PromoteOutcome> {
  const { alias, version } = request;
  if (!ALIAS_NAME_PATTERN.test(alias) || isSemver(alias)) throw new UserError(`--to ${alias} is not an alias name`, 'Aliases are lower-case names such as staging or prod.');
  if (request.reason.trim() === '') throw new UserError('--reason must say why the version is promoted', 'Example: --reason "beats 1.2.0 on recall; see PR #42"');
  const model = await readModel(request);
  const state = model.versions.get(version);
  if (state === undefined) throw new UserError(`${request.model} has no version ${version}`, `Published versions: ${[...model.versions.keys()].join(', ') || 'none'}.`);
  const promotions = promotionsOf(model);
  if (typeof promotions === 'string') throw new UserError(promotions, 'The log is append-only: restore it from the branch it came from (`git checkout <base> -- <log>`).');
  const current = model.aliases.get(alias);
  const modelDir = path.join(request.registryDir, model.name);
  const last = promotions.at(-1);
  // The log's last line names this very move and the alias has not moved: an interrupted promote, checked again
  // (the line could have been written by anyone) and finished without a second line.
  const interrupted = last !== undefined && last.alias === alias && last.to === version && last.from === (current ?? null) && last.version_sha256 === state.checksumSha256;
  if (current === version) throw new UserError(`${alias} already points to ${request.model} ${version}`, 'Nothing to promote.');
  const history = interrupted ? promotions.slice(0, -1) : promotions;
  const policy = policyOf(model);
  const facts = promotionFacts(model, { alias, from: current ?? null, to: version }, history);
  const outcome = (rows: PolicyRow[], moved: boolean): PromoteOutcome => ({
    view: { model: model.name, alias, from: current, to: version, rows, fromMetrics: metricsOf(current === undefined ? undefined : model.versions.get(current)), toMetrics: metricsOf(state), passes: moved },
    finished: moved && interrupted,
  });
  // The rules that need no rerun first: a promotion they refuse costs no training.
  const unverified = evaluatePromotion(policy, facts);
  if (!policyPasses(unverified)) return outcome(unverified, false);
  const verification = await verifyVersion({ registryDir: request.registryDir, model, version, alias, trusted: history, reportFile: request.reportFile, rerun: request.rerun });
  const rows = evaluatePromotion(policy, { ...facts, ...verification });
  if (!policyPasses(rows)) return outcome(rows, false);

  await assertUnchanged(request, model);
  // Only what a killed promote of this alias leaves (its log's and its link's temporary names): a publish's are not ours to remove.
  const ownLeftover = new RegExp(`^\\.(${PROMOTION_LOG_FILE.replaceAll('.', '\\.')}|${alias})\\.[0-9a-f]{12}\\.tmp$`);
  for (const leftover of model.leftovers.filter((name) => ownLeftover.test(name))) await rm(path.join(modelDir, leftover), { force: true });
  if (!interrupted) {
    const line = appendedLine(model.logText, {
      time: (request.now ?? (() => new Date()))().toISOString(),
      alias,
      from: current ?? null,
      to: version,
      version_sha256: state.checksumSha256!,
      actor: request.actor ?? process.env.GITHUB_ACTOR ?? userInfo().username,
      reason: request.reason,
    });
    await writeFileAtomic(path.join(modelDir, PROMOTION_LOG_FILE), model.logText + line);
  }
  await moveAlias(modelDir, model.aliasSource, alias, version);
  return outcome(rows, true);
}
