import type { InputCheck } from '../../report/schema.js';

// Pure: whether a pull request can have changed what a record reproduces. Decided by content, not by history: the
// learned input set was complete at the commit it was learned at, and a file added later can only be reached through
// one of those files, whose hash then changed. The record stays affected until it is recorded again.

export interface AffectedFacts {
  /** How many files the record's learned set holds; undefined: the record has none (recorded before it was learned). */
  learnedFiles: number | undefined;
  /** Data, config, requirements and learned files: those that changed are not `match`. */
  inputs: InputCheck[];
  /** Files matching `code.watch` that changed since code.commit; undefined when they cannot be known (no commit in the clone). */
  watchedChanges: string[] | undefined;
  watched: boolean;
  /** Whether the record itself differs from the pull request's base; undefined when there is no base to compare with. */
  recordChanged: boolean | undefined;
  /** Files added, renamed or re-linked since code.commit (src/inputs/affected/structural-changes.ts); undefined when unknown. */
  structuralChanges: string[] | undefined;
  /** Why the environment could hold code the learned set does not cover (no requirements, a local install); undefined when it cannot. */
  environmentGap: string | undefined;
}

export interface AffectedDecision {
  affected: boolean;
  reason: string;
  /** Every input the decision looked at. */
  inputs: number;
}

function listed(items: string[]): string {
  return `${items.slice(0, 5).join(', ')}${items.length > 5 ? ` and ${items.length - 5} more` : ''}`;
}

export function decideAffected(facts: AffectedFacts): AffectedDecision {
  const declared = facts.inputs.filter((input) => input.kind !== 'code').length;
  const inputs = (facts.learnedFiles ?? 0) + declared;
  const affected = (reason: string) => ({ affected: true, reason, inputs });
  // Every doubt reruns: a false pass is the one thing this decision must never produce.
  if (facts.learnedFiles === undefined || facts.learnedFiles === 0) return affected('rerun: the record has no learned input set (code.files); `repro-gate record --update` learns it');
  if (facts.recordChanged === undefined) return affected('rerun: there is no base to compare the record itself with (pass --base; on a pull request the action compares with its base)');
  if (facts.recordChanged) return affected('rerun: the record itself changed since the base');
  if (facts.environmentGap) return affected(`rerun: ${facts.environmentGap}`);
  const changed = facts.inputs.filter((input) => input.status !== 'match').map((input) => input.path);
  if (changed.length > 0) return affected(`rerun: ${changed.length === 1 ? 'an input' : `${changed.length} inputs`} changed since it was recorded (${listed(changed)})`);
  if (facts.structuralChanges === undefined) return affected('rerun: code.commit is not in this clone, so new files since it cannot be found (fetch more history)');
  if (facts.structuralChanges.length > 0) return affected(`rerun: files were added, renamed or re-linked since code.commit (${listed(facts.structuralChanges)}): a new file can shadow a module or be found by a directory scan`);
  if (facts.watched && facts.watchedChanges === undefined) return affected('rerun: code.commit is not in this clone, so the watched files cannot be compared with it (fetch more history)');
  if (facts.watchedChanges && facts.watchedChanges.length > 0) return affected(`rerun: watched files changed since code.commit (${listed(facts.watchedChanges)})`);
  return { affected: false, reason: `not rerun: none of its ${inputs} inputs changed since it was recorded`, inputs };
}
