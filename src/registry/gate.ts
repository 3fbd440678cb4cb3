import { UserError } from '../errors.js';
import type { RecordReport } from '../report/schema.js';
import { checkRegistry, policyProblems } from './check-registry.js';
import { metricsOf, promotionFacts, type PromotionToJudge } from './check.js';
import { evaluatePromotion, type PolicyRow, policyPasses } from './policy.js';
import type { PromotionView, RegistryView } from './report.js';
import type { RegistryProblem } from './state.js';
import { type Rerun, type Verification, verifyVersion } from './verification.js';

// The promotion gate on a pull request (the action's `mode: registry`): the registry checked against the base, and
// every promotion the pull request appended to a log judged by the base's policy, with its version verified. Without
// a base (a push), the registry is checked and its aliases' last promotions judged without rerunning anything.

export interface GateRequest {
  registryDir: string;
  shownDir: string;
  /** The commit the pull request merges into. */
  baseRef?: string;
  /** How the view names the base (the base branch). */
  baseLabel?: string;
  rerun: Rerun;
}

/** Versions verified in one change at most: each is a training, and a change promoting more is better split. */
const MAX_RERUNS = 10;

/** `rerun` run once per record file (one version promoted to several aliases is trained once), at most MAX_RERUNS times. */
function rerunOnce(rerun: Rerun): Rerun {
  const runs = new Map<string, Promise<RecordReport>>();
  return (recordFile) => {
    let run = runs.get(recordFile);
    if (run === undefined) {
      if (runs.size >= MAX_RERUNS) return Promise.reject(new UserError(`the change promotes more than ${MAX_RERUNS} versions to verify`, 'Promote fewer versions per pull request.'));
      run = rerun(recordFile);
      runs.set(recordFile, run);
    }
    return run;
  };
}

function viewOf(judged: PromotionToJudge, rows: PolicyRow[], passes: boolean): PromotionView {
  const { model, promotion } = judged;
  return {
    model: model.name,
    alias: promotion.alias,
    from: promotion.from ?? undefined,
    to: promotion.to,
    rows,
    fromMetrics: metricsOf(promotion.from === null ? undefined : model.versions.get(promotion.from)),
    toMetrics: metricsOf(model.versions.get(promotion.to)),
    passes,
  };
}

export async function gateRegistry(request: GateRequest): Promise<RegistryView> {
  const check = await checkRegistry(request.registryDir, request.shownDir, request.baseRef);
  const problems: RegistryProblem[] = [...check.problems];
  // Without a base (a push) nothing is promoted here; with problems the change fails anyway: no training either way.
  if (request.baseRef === undefined) return { problems: [...problems, ...policyProblems(check.toJudge)], promotions: [] };
  const rerun = problems.length === 0 ? rerunOnce(request.rerun) : undefined;
  const promotions: PromotionView[] = [];
  for (const judged of check.toJudge) {
    const facts = promotionFacts(judged.model, judged.promotion, judged.history);
    const unverified = evaluatePromotion(judged.policy, facts);
    // The rules that need no rerun first: a promotion they refuse costs no training.
    if (!policyPasses(unverified) || rerun === undefined) {
      promotions.push(viewOf(judged, unverified, false));
      continue;
    }
    const { model, promotion } = judged;
    const verification = await verifyVersion({ registryDir: request.registryDir, model, version: promotion.to, alias: promotion.alias, trusted: judged.trusted, rerun }).catch((error: unknown): Verification | undefined => {
      if (!(error instanceof UserError)) throw error;
      problems.push({ model: model.name, message: `${promotion.alias} → ${promotion.to} could not be verified: ${error.message} ${error.hint ?? ''}`.trim() });
      return undefined;
    });
    const rows = evaluatePromotion(judged.policy, { ...facts, ...(verification ?? { verdict: 'error' }) });
    promotions.push(viewOf(judged, rows, policyPasses(rows) && verification !== undefined));
  }
  return { problems, promotions, base: request.baseLabel ?? request.baseRef };
}
