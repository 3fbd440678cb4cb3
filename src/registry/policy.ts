import { z } from 'zod';
import { checkThresholds } from '../compare/thresholds.js';
import { parseSource } from '../record/locate.js';
import { MetricName, Threshold } from '../record/schema.js';
import { formatThresholdRule } from '../report/format.js';
import type { Verdict } from '../report/schema.js';
import { ALIAS_NAME_PATTERN, POLICY_FILE } from './names.js';
import type { Promotion } from './promotion-log.js';

// Pure: the promotion policy (models/<model>/policy.yaml) and its rows for one promotion.

const AliasName = z.string().regex(ALIAS_NAME_PATTERN, 'must be a lower-case alias name (staging, prod, …)');
const PASSING = ['reproduced', 'within-tolerance'] as const;

const AliasPolicySchema = z
  .object({
    verdict: z.enum(PASSING).optional().describe('The weakest verify verdict accepted (default within-tolerance).'),
    thresholds: z.record(MetricName, Threshold).optional().describe('min/max gates on the version\'s recorded metrics.'),
    after: AliasName.optional().describe('The alias the version must have been promoted to before this one (prod after staging).'),
    rollback: z.enum(['required', 'optional']).optional().describe('required: the alias must have a version to roll back to (the one it replaces).'),
  })
  .strict();

export const PolicySchema = z
  .object({ aliases: z.record(AliasName, AliasPolicySchema) })
  .strict()
  .superRefine((policy, ctx) => {
    for (const [alias, rule] of Object.entries(policy.aliases)) {
      if (rule.after !== undefined && !(rule.after in policy.aliases)) {
        ctx.addIssue({ code: 'custom', path: ['aliases', alias, 'after'], message: `names ${rule.after}, which has no rule in the policy` });
      }
      if (rule.after === alias) ctx.addIssue({ code: 'custom', path: ['aliases', alias, 'after'], message: 'names the alias itself' });
    }
  });

export type Policy = z.infer<typeof PolicySchema>;

/** policy.yaml's text parsed: the policy (none without a file: the default applies), or where and why it is invalid. */
export function parsePolicyText(text: string | undefined): { policy?: Policy } | { problem: string } {
  if (text === undefined) return {};
  const parsed = parseSource(text);
  if ('problem' in parsed) return { problem: `${POLICY_FILE}${parsed.problem.line ? `:${parsed.problem.line}` : ''}: ${parsed.problem.message}` };
  const result = PolicySchema.safeParse(parsed.source.value);
  if (result.success) return { policy: result.data };
  const issue = result.error.issues[0]!;
  const field = issue.path.join('.');
  const line = parsed.source.lineOf(issue.path as Array<string | number>);
  return { problem: `${POLICY_FILE}${line ? `:${line}` : ''}${field ? ` ${field}` : ''}: ${issue.message}` };
}
export type AliasPolicy = Policy['aliases'][string];

/** The seed's policy, used without a policy file: reproduce, and staging before prod. */
export const DEFAULT_POLICY: Policy = {
  aliases: { staging: { verdict: 'within-tolerance' }, prod: { verdict: 'within-tolerance', after: 'staging' } },
};
/** Without a policy file, an alias the default does not name only has to reproduce. */
const DEFAULT_ALIAS_POLICY: AliasPolicy = { verdict: 'within-tolerance' };

/** What a promotion of `version` to `alias` is judged on. */
export interface PromotionFacts {
  alias: string;
  version: string;
  /** Whether the version's files match its checksum.txt. */
  checksums: { ok: boolean; detail: string };
  /** The version's verify verdict; undefined when it was not rerun here (`registry check`). */
  verdict?: Verdict;
  /**
   * Not rerun because it cannot be (its record is no longer in the checkout) and need not be: a rollback to a version
   * this alias held before, the same bytes as then (`version_sha256`), verified when it was promoted.
   */
  rollbackOf?: Promotion;
  /** The version's metrics: as the rerun measured them, else as recorded. */
  metrics: Record<string, number>;
  /** The promotion log before this promotion. */
  history: readonly Promotion[];
  /** The version the alias points to before the move: the rollback target. */
  current?: string;
  /** Every version of the model. */
  versions: ReadonlySet<string>;
}

export interface PolicyRow {
  rule: string;
  /** null: not decided here (the verdict, when nothing was rerun). */
  ok: boolean | null;
  detail: string;
}

function verdictRow(required: (typeof PASSING)[number], { verdict, rollbackOf, alias }: PromotionFacts): PolicyRow {
  const rule = required === 'reproduced' ? 'reproduces bit for bit (reproduced)' : 'reproduces (reproduced or within-tolerance)';
  if (verdict === undefined && rollbackOf !== undefined) {
    const detail = `not rerun: a rollback to the version ${alias} held from ${rollbackOf.time}`;
    return required === 'reproduced' ? { rule, ok: false, detail: `${detail}, whose verdict the log does not keep: rerun it (\`registry promote --report\`)` } : { rule, ok: true, detail };
  }
  if (verdict === undefined) return { rule, ok: null, detail: 'not rerun here' };
  const accepted: readonly Verdict[] = required === 'reproduced' ? ['reproduced'] : PASSING;
  return { rule, ok: accepted.includes(verdict), detail: verdict };
}

function afterRow(after: string, facts: PromotionFacts): PolicyRow {
  const earlier = facts.history.find((promotion) => promotion.alias === after && promotion.to === facts.version);
  return { rule: `was in ${after} first`, ok: earlier !== undefined, detail: earlier ? `promoted to ${after} at ${earlier.time}` : `never promoted to ${after}` };
}

function rollbackRow(facts: PromotionFacts): PolicyRow {
  const rule = 'has a rollback target';
  if (facts.current === undefined) return { rule, ok: true, detail: 'first promotion: nothing to roll back to' };
  if (facts.current === facts.version) return { rule, ok: false, detail: `${facts.alias} already points to ${facts.version}` };
  if (!facts.versions.has(facts.current)) return { rule, ok: false, detail: `${facts.current}, which ${facts.alias} points to now, is not in the registry` };
  return { rule, ok: true, detail: `roll back to ${facts.current}` };
}

/** The rule for `alias`: the policy's, or (without a policy file) the default's. */
export function aliasPolicy(policy: Policy | undefined, alias: string): AliasPolicy | undefined {
  return policy ? policy.aliases[alias] : (DEFAULT_POLICY.aliases[alias] ?? DEFAULT_ALIAS_POLICY);
}

/** One row per rule the promotion is held to, in a fixed order: checksums, verdict, thresholds, stage order, rollback. */
export function evaluatePromotion(policy: Policy | undefined, facts: PromotionFacts): PolicyRow[] {
  const rule = aliasPolicy(policy, facts.alias);
  const checksums: PolicyRow = { rule: 'checksum.txt matches', ok: facts.checksums.ok, detail: facts.checksums.detail };
  if (rule === undefined) return [checksums, { rule: `policy has a rule for ${facts.alias}`, ok: false, detail: `policy.yaml names ${Object.keys(policy!.aliases).join(', ')}` }];
  const rows = [checksums, verdictRow(rule.verdict ?? 'within-tolerance', facts)];
  for (const check of checkThresholds(rule.thresholds ?? {}, facts.metrics)) {
    rows.push({ rule: `${check.metric} ${formatThresholdRule(check.min, check.max)}`, ok: check.status === 'pass', detail: check.value === null ? 'not in the version\'s metrics' : String(check.value) });
  }
  if (rule.after !== undefined) rows.push(afterRow(rule.after, facts));
  if (rule.rollback === 'required') rows.push(rollbackRow(facts));
  return rows;
}

/** Whether every decided row passes. */
export function policyPasses(rows: readonly PolicyRow[]): boolean {
  return rows.every((row) => row.ok !== false);
}
