import { directoryDigest } from '../hashing/sha256.js';
import { parseChecksums } from './checksum-file.js';
import { CHECKSUM_FILE, PROMOTION_LOG_FILE, VERSION_MANIFEST_FILE, VERSION_METADATA_FILES, VERSION_METRICS_FILE, VERSION_RECORD_FILE } from './names.js';
import { parsePolicyText, type Policy, type PromotionFacts } from './policy.js';
import { isPrefixOf, type Promotion, readLog } from './promotion-log.js';
import type { BaseModelState, ModelState, RegistryProblem, VersionState } from './state.js';

// Pure: `registry check` over the registry's state (and the base's): checksums, each version against its own
// run.yaml, aliases, the promotion log, the policy.

/** What publish writes as metrics.json for a record's metric values. */
export function metricsFileText(values: Record<string, number>): string {
  return `${JSON.stringify(values, null, 2)}\n`;
}

function checksumProblems(version: VersionState): string[] {
  if (version.checksumText === undefined) return [`${CHECKSUM_FILE} is missing`];
  const parsed = parseChecksums(version.checksumText);
  if ('problem' in parsed) return [`${CHECKSUM_FILE} line ${parsed.problem.line} ${parsed.problem.message}`];
  const problems: string[] = [];
  for (const [file, sha256] of parsed.files) {
    const actual = version.files.get(file);
    if (actual === undefined) problems.push(`${file} is listed in ${CHECKSUM_FILE} but missing`);
    else if (actual !== sha256) problems.push(`${file} does not match ${CHECKSUM_FILE} (sha256 ${actual.slice(0, 12)}…, listed ${sha256.slice(0, 12)}…)`);
  }
  for (const file of version.files.keys()) if (!parsed.files.has(file)) problems.push(`${file} is not listed in ${CHECKSUM_FILE}`);
  return problems;
}

/** The version's data_manifest.json as written; its fields unchecked (empty when it is missing or not JSON). */
export function manifestOf(version: VersionState): { record?: unknown; record_sha256?: unknown } {
  try {
    const manifest: unknown = JSON.parse(version.manifestText ?? '');
    return typeof manifest === 'object' && manifest !== null ? manifest : {};
  } catch {
    return {};
  }
}

/**
 * The version against its own run.yaml: every file is an artifact the record names, with the sha256 it records (a
 * folder's files with its directory hash), metrics.json holds the record's metrics and the manifest names the record.
 * checksum.txt alone proves nothing: whoever edits a file can rewrite it.
 */
function recordProblems(version: VersionState): string[] {
  const { record } = version;
  if (typeof record === 'string') return [record];
  const problems: string[] = [];
  const accounted = new Set(VERSION_METADATA_FILES);
  for (const artifact of record.artifacts ?? []) {
    if (artifact.compare === 'report') continue;
    const name = artifact.path.split('/').at(-1)!;
    const file = version.files.get(name);
    const inFolder = [...version.files.keys()].filter((candidate) => candidate.startsWith(`${name}/`));
    const digest = file ?? (inFolder.length > 0 ? directoryDigest(inFolder.map((candidate) => candidate.slice(name.length + 1)), inFolder.map((candidate) => version.files.get(candidate)!)) : undefined);
    if (digest === undefined) problems.push(`${name} (${artifact.path} in ${VERSION_RECORD_FILE}) is missing`);
    else if (digest !== artifact.sha256) problems.push(`${name} is not the ${artifact.path} that ${VERSION_RECORD_FILE} records (sha256 ${digest.slice(0, 12)}…, recorded ${artifact.sha256.slice(0, 12)}…)`);
    accounted.add(name);
    for (const candidate of inFolder) accounted.add(candidate);
  }
  for (const file of version.files.keys()) if (!accounted.has(file)) problems.push(`${file} is not an artifact ${VERSION_RECORD_FILE} records`);
  if (version.metricsText !== metricsFileText(record.metrics?.values ?? {})) problems.push(`${VERSION_METRICS_FILE} is not the metrics ${VERSION_RECORD_FILE} records`);
  if (manifestOf(version).record_sha256 !== version.files.get(VERSION_RECORD_FILE)) problems.push(`${VERSION_MANIFEST_FILE} does not name this ${VERSION_RECORD_FILE} (record_sha256)`);
  return problems;
}

/** What is wrong with one version: its files against checksum.txt and against its run.yaml; empty when it is whole. */
export function versionProblems(version: VersionState): string[] {
  return [...checksumProblems(version), ...recordProblems(version)];
}

/** The promotions, or the log's problem as a message. */
export function promotionsOf(model: Pick<ModelState, 'logText'>): Promotion[] | string {
  const read = readLog(model.logText);
  return 'problem' in read ? `${PROMOTION_LOG_FILE} line ${read.problem.line}: ${read.problem.message}` : read.promotions;
}

/** The model's policy, or undefined for the default; a broken policy file is a problem of its own. */
export function policyOf(model: ModelState): Policy | undefined {
  return 'policy' in model.policy ? model.policy.policy : undefined;
}

/** The version's recorded metrics (from its run.yaml, which verify checks the rerun against). */
export function metricsOf(version: VersionState | undefined): Record<string, number> {
  return version && typeof version.record !== 'string' ? (version.record.metrics?.values ?? {}) : {};
}

/** A promotion to judge: a line of the log, with what came before it. */
export interface PromotionToJudge {
  model: ModelState;
  promotion: Promotion;
  /** The log before this line. */
  history: Promotion[];
  /** The policy it is judged by: the base's for a pull request's promotions (a pull request cannot loosen its own gate). */
  policy: Policy | undefined;
  /** Earlier promotions whose verification stands: the base's lines in a pull request, every earlier line otherwise. */
  trusted: Promotion[];
}

/** The facts of one move of an alias (`history`: the log before it), without a verdict: everything the registry holds. */
export function promotionFacts(model: ModelState, move: Pick<Promotion, 'alias' | 'from' | 'to'>, history: Promotion[]): PromotionFacts {
  const version = model.versions.get(move.to);
  const problems = version ? versionProblems(version) : [`${move.to} is not a version of ${model.name}`];
  return {
    alias: move.alias,
    version: move.to,
    checksums: { ok: problems.length === 0, detail: problems.join('; ') || 'every file matches' },
    metrics: metricsOf(version),
    history,
    current: move.from ?? undefined,
    versions: new Set(model.versions.keys()),
  };
}

/** Each alias against the log: it must point where its last promotion moved it. */
function aliasProblems(model: ModelState, promotions: readonly Promotion[]): string[] {
  const problems: string[] = [];
  const lastIndex = new Map<string, number>();
  promotions.forEach((promotion, i) => lastIndex.set(promotion.alias, i));
  for (const [alias, target] of model.aliases) {
    if (!model.versions.has(target)) problems.push(`alias ${alias} points to ${target}, which is not a version of ${model.name}`);
    const index = lastIndex.get(alias);
    const last = index === undefined ? undefined : promotions[index]!;
    if (last === undefined) {
      problems.push(`alias ${alias} points to ${target}, but ${PROMOTION_LOG_FILE} records no promotion to ${alias}: move aliases with \`repro-gate registry promote\``);
    } else if (last.to !== target) {
      const interrupted = index === promotions.length - 1 && last.from === target;
      problems.push(
        interrupted
          ? `the promotion of ${alias} to ${last.to} did not finish (${alias} still points to ${target}): run \`repro-gate registry promote ${model.name} ${last.to} --to ${alias}\` again, which checks it and finishes it`
          : `alias ${alias} points to ${target}, but its last promotion in ${PROMOTION_LOG_FILE} was to ${last.to}`,
      );
    }
  }
  for (const alias of lastIndex.keys()) if (!model.aliases.has(alias)) problems.push(`${PROMOTION_LOG_FILE} promotes to ${alias}, but there is no alias ${alias}`);
  return problems;
}

/** Each line against the versions (the one promoted is still the same bytes) and the lines before it (`from`). */
function lineProblems(model: ModelState, promotions: readonly Promotion[]): string[] {
  const problems: string[] = [];
  const current = new Map<string, string>();
  for (const [i, promotion] of promotions.entries()) {
    const line = `${PROMOTION_LOG_FILE} line ${i + 1}`;
    const version = model.versions.get(promotion.to);
    if (version === undefined) problems.push(`${line} promotes ${promotion.to}, which is not a version of ${model.name}`);
    else if (version.checksumSha256 !== promotion.version_sha256) problems.push(`${promotion.to} changed after it was promoted to ${promotion.alias} (its ${CHECKSUM_FILE} is not the one ${line} names)`);
    if (promotion.from !== (current.get(promotion.alias) ?? null)) problems.push(`${line} moves ${promotion.alias} from ${promotion.from ?? 'nothing'}, but the line before left it at ${current.get(promotion.alias) ?? 'nothing'}`);
    current.set(promotion.alias, promotion.to);
  }
  return problems;
}

/**
 * The promotions to judge by the policy. Against a base: every line the change appended, by the base's policy. Without
 * one: each alias's last promotion, by the current policy (older lines were judged when they were made, maybe by
 * another policy).
 */
export function promotionsToJudge(model: ModelState, promotions: Promotion[], base?: BaseModelState): PromotionToJudge[] {
  if (base) {
    const basePromotions = promotionsOf(base);
    const trusted = Array.isArray(basePromotions) && isPrefixOf(base.logText, model.logText) ? basePromotions : [];
    // No policy file at the base means the default, and so does a broken one: never the change's own policy.
    const parsed = parsePolicyText(base.policyText);
    const policy = 'policy' in parsed ? parsed.policy : undefined;
    return promotions.slice(trusted.length).map((promotion, i) => ({ model, promotion, history: promotions.slice(0, trusted.length + i), policy, trusted }));
  }
  const lastOfEach = new Map(promotions.map((promotion, i) => [promotion.alias, i]));
  return [...lastOfEach.values()].sort((a, b) => a - b).map((i) => ({ model, promotion: promotions[i]!, history: promotions.slice(0, i), policy: policyOf(model), trusted: promotions.slice(0, i) }));
}

/** Against the base: the log only grew, no version that existed there changed or went away, and the policy stayed while promotions were added. */
function baseProblems(model: ModelState, base: BaseModelState, appended: number): string[] {
  const problems: string[] = [];
  if (!isPrefixOf(base.logText, model.logText)) {
    problems.push(`${PROMOTION_LOG_FILE} does not extend the base's: history was edited, removed or rewritten (the log is append-only)`);
  }
  if (model.policyText !== base.policyText && appended > 0) {
    problems.push(`policy.yaml changed in the same change as ${appended} promotion${appended === 1 ? '' : 's'}: change the policy on its own, then promote under it (promotions here are judged by the base's policy)`);
  }
  for (const { version, file, change } of base.changedVersionFiles) problems.push(`published version ${version} changed: ${file} (${change}); versions are immutable: publish a new version instead`);
  for (const version of base.versions) if (!model.versions.has(version) && !base.changedVersionFiles.some((changed) => changed.version === version)) problems.push(`published version ${version} was removed`);
  return problems;
}

/** Every problem of one model apart from the policy's judgement of its promotions (promotionsToJudge); empty when it passes. */
export function checkModel(model: ModelState, base?: BaseModelState): { problems: RegistryProblem[]; toJudge: PromotionToJudge[] } {
  const messages = [...model.problems, ...model.leftovers.map((name) => `${name} is left over from an interrupted publish or promote: delete it`)];
  if ('problem' in model.policy) messages.push(model.policy.problem);
  for (const [name, version] of model.versions) for (const problem of versionProblems(version)) messages.push(`${name}: ${problem}`);
  const promotions = promotionsOf(model);
  let toJudge: PromotionToJudge[] = [];
  if (typeof promotions === 'string') messages.push(promotions);
  else {
    messages.push(...aliasProblems(model, promotions), ...lineProblems(model, promotions));
    toJudge = promotionsToJudge(model, promotions, base);
  }
  if (base) messages.push(...baseProblems(model, base, toJudge.length));
  return { problems: messages.map((message) => ({ model: model.name, message })), toJudge };
}

/** Models that were at the base and are gone now: every published version of them was removed. */
export function removedModels(models: readonly ModelState[], base: ReadonlyMap<string, BaseModelState>): RegistryProblem[] {
  const present = new Set(models.map((model) => model.name));
  return [...base.entries()].filter(([name, state]) => !present.has(name) && state.versions.size > 0).map(([name]) => ({ model: name, message: 'the model was removed, with its published versions' }));
}
