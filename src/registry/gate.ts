import { UserError } from '../errors.js';
import type { Verdict } from '../report/schema.js';
import { checkRegistry, policyProblems } from './check-registry.js';
import { metricsOf, promotionFacts, type PromotionToJudge } from './check.js';
import { evaluatePromotion, type PolicyRow, policyPasses } from './policy.js';
import type { PromotionView, RegistryView } from './report.js';
import type { RegistryProblem } from './state.js';
import { type Verification, verifyVersion } from './verification.js';

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
  /** Verifies a record file of the checkout; its verdict. */
  rerun: (recordFile: string) => Promise<Verdict>;
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
  if (request.baseRef === undefined) return { problems: [...problems, ...policyProblems(check.toJudge)], promotions: [] };
  // One verification per version, however many promotions name it.
  const verifications = new Map<string, Promise<Verification | undefined>>();
  const promotions: PromotionView[] = [];
  for (const judged of check.toJudge) {
    const facts = promotionFacts(judged);
    const unverified = evaluatePromotion(judged.policy, facts);
    // The rules that need no rerun first: a promotion they refuse costs no training.
    if (!policyPasses(unverified)) {
      promotions.push(viewOf(judged, unverified, false));
      continue;
    }
    const key = `${judged.model.name}\0${judged.promotion.to}\0${judged.promotion.alias}`;
    if (!verifications.has(key)) {
      verifications.set(
        key,
        verifyVersion({ registryDir: request.registryDir, model: judged.model, version: judged.promotion.to, alias: judged.promotion.alias, trusted: judged.trusted, rerun: request.rerun }).catch((error: unknown) => {
          if (!(error instanceof UserError)) throw error;
          problems.push({ model: judged.model.name, message: `${judged.promotion.alias} → ${judged.promotion.to} could not be verified: ${error.message} ${error.hint ?? ''}`.trim() });
          return undefined;
        }),
      );
    }
    const verification = await verifications.get(key)!;
    const rows = evaluatePromotion(judged.policy, { ...facts, ...(verification ?? { verdict: 'error' }) });
    promotions.push(viewOf(judged, rows, policyPasses(rows) && verification !== undefined));
  }
  return { problems, promotions, base: request.baseLabel ?? request.baseRef };
}
