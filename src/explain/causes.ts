import { machineChanges } from '../environment/machine/describe.js';
import { REPORT_TEXT_MAX } from '../report/schema.js';
import { keepStart } from '../report/truncate.js';
import type { Cause, CodeReport, EnvironmentReport, InputCheck } from '../report/schema.js';

// Pure: turns the differences found on the way into the likely causes a reader checks first.

function pythonDiffers(python: EnvironmentReport['python']): boolean {
  if (!python.required) return false;
  const required = python.required.split('.');
  return python.actual.split('.').slice(0, required.length).join('.') !== python.required;
}

export function likelyCauses(facts: { inputs: InputCheck[]; environment?: EnvironmentReport; code?: CodeReport }): Cause[] {
  const causes: Cause[] = [];
  for (const input of facts.inputs) {
    if (input.status === 'match') continue;
    const kind = ({ data: 'data-changed', config: 'config-changed', requirements: 'requirements-changed', code: 'code-changed' } as const)[input.kind];
    // A learned input: changed, and read by the training.
    causes.push({ kind, subject: input.kind === 'code' ? `${input.path} (read by the training)` : input.path, line: input.line });
  }
  const environment = facts.environment;
  if (environment) {
    if (pythonDiffers(environment.python)) {
      causes.push({ kind: 'python-changed', subject: `${environment.python.required} → ${environment.python.actual}` });
    }
    const { recorded, actual } = environment.platform;
    if (recorded && recorded !== actual) causes.push({ kind: 'platform-changed', subject: `${recorded} → ${actual}` });
    const machine = environment.machine?.recorded && machineChanges(environment.machine.recorded, environment.machine.actual);
    // Built from the record's own fingerprint: cut to what a report holds.
    if (machine) causes.push({ kind: 'machine-changed', subject: keepStart(machine.subject, REPORT_TEXT_MAX) });
    const packages = environment.packages;
    const changes = [...(packages?.changed ?? []), ...(packages?.added ?? []), ...(packages?.removed ?? [])];
    // A package no process of the rerun imported cannot have changed its results: listed last, as unlikely.
    const unlikely = (change: (typeof changes)[number]) => change.imported === false;
    for (const change of [...changes.filter((c) => !unlikely(c)), ...changes.filter(unlikely)]) {
      const subject = `${change.name} ${change.recorded ?? '(none)'} → ${change.actual ?? '(none)'}`;
      causes.push({ kind: 'packages-changed', subject, ...(unlikely(change) ? { unlikely: true } : {}) });
    }
  }
  const code = facts.code;
  // With a learned input set, only the files the training read count (listed above, one by one).
  if (code?.changedFiles && code.changedFiles.length > 0 && code.learnedFiles === undefined) {
    const { scoped, relevant, total } = relevantChanges(code);
    const since = code.recordedCommit?.slice(0, 12);
    const files = (count: number) => `${count} file${count === 1 ? '' : 's'}`;
    const subject = scoped ? `${files(relevant)} changed in ${code.scope} since ${since} (${total} in the repository)` : `${files(total)} changed since ${since}`;
    causes.push({ kind: 'code-changed', subject });
  }
  return causes;
}

/** The changed files that count for a record: those under its folder when it has one (they come first in `changedFiles`), else all. */
export function relevantChanges(code: CodeReport): { scoped: boolean; relevant: number; total: number } {
  const total = code.changedFilesTotal ?? code.changedFiles?.length ?? 0;
  const scoped = Boolean(code.scope) && code.scope !== '.';
  return { scoped, total, relevant: scoped ? (code.changedInScope ?? total) : total };
}
