import type { Quote } from './explain.js';
import { shortHash } from './format.js';
import type { Loosened, Report, Rerecorded } from './schema.js';

// Pure: the words for a record loosened against the base, shared by the PR comment, the terminal and the step's failure.

const RERECORDED_NOUN: Record<Rerecorded['changes'][number]['kind'], { one: string; many?: string }> = {
  'artifact-hash': { one: 'artifact hash', many: 'artifact hashes' },
  'metric-value': { one: 'metric value', many: 'metric values' },
  'config-hash': { one: 'config hash', many: 'config hashes' },
  'data-hash': { one: 'data hash', many: 'data hashes' },
  'requirements-hash': { one: 'requirements hash' },
  package: { one: 'package pin', many: 'package pins' },
  python: { one: 'Python version' },
  platform: { one: 'platform' },
  'code-commit': { one: 'code commit' },
  image: { one: 'container image' },
};

function describeFinding(finding: Loosened, quote: Quote): string {
  const subject = quote(finding.subject);
  const was = finding.before === null ? '' : ` (was ${quote(finding.before)})`;
  const change = `${quote(finding.before ?? 'none')} → ${quote(finding.after ?? 'none')}`;
  switch (finding.kind) {
    case 'tolerance-widened':
      return `tolerance of ${subject} widened: ${change}`;
    case 'threshold-relaxed':
      return `threshold on ${subject} relaxed: ${change}`;
    case 'threshold-removed':
      return `threshold on ${subject} removed${was}`;
    case 'metric-removed':
      return `metric ${subject} no longer checked${finding.before === null ? '' : ` (recorded ${quote(finding.before)})`}`;
    case 'artifact-removed':
      return `artifact ${subject} no longer checked${was}`;
    case 'artifact-weakened':
      return `artifact ${subject} compared less strictly: ${change}`;
    case 'record-deleted':
      return `record deleted${finding.before === null ? '' : ` (${quote(finding.before)})`}: nothing of it is checked`;
    case 'network-allowed':
      return 'the rerun may now reach the network (environment.network: true)';
    case 'host-variable-passed':
      return `the rerun now gets the host's ${subject} (environment.pass_env)`;
  }
}

/** One finding in one line: the record, then what was loosened. */
export function describeLoosening(finding: Loosened, quote: Quote): string {
  return `${quote(finding.recordPath)}: ${describeFinding(finding, quote)}`;
}

/** `run.yaml: 2 artifact hashes, 3 metric values, config hash`. */
export function describeRerecorded(entry: Rerecorded, quote: Quote): string {
  const parts = entry.changes.map(({ kind, count }) => {
    const noun = RERECORDED_NOUN[kind];
    return count > 1 && noun.many ? `${count} ${noun.many}` : noun.one;
  });
  return `${quote(entry.recordPath)}: ${parts.join(', ')}`;
}

function describeBase(base: Report['base']): string {
  if (!base) return 'the base';
  const commit = shortHash(base.commit);
  return base.ref === base.commit || base.commit.startsWith(base.ref) ? `base ${commit}` : `base ${base.ref} (${commit})`;
}

/** A markdown section, right under the headline: each loosening in one line, then what was re-recorded. */
export function loosenedMarkdown(report: Report, quote: Quote, maxRows = Infinity): string | undefined {
  const loosened = report.loosened ?? [];
  const rerecorded = report.rerecorded ?? [];
  const parts: string[] = [];
  if (loosened.length > 0) {
    const lines = loosened.slice(0, maxRows).map((finding) => `- ${describeLoosening(finding, quote)}`);
    if (loosened.length > lines.length) lines.push(`- … and ${loosened.length - lines.length} more`);
    // The base's ref is untrusted text; its commit is a validated hash.
    const base = report.base ? describeBase({ ...report.base, ref: quote(report.base.ref) }) : 'the base';
    parts.push(`### ⚠️ The record was loosened\n\nCompared with ${base}, these changes to the run records let more results pass (every verdict here is judged by the records as they are now):\n\n${lines.join('\n')}`);
  }
  if (rerecorded.length > 0) {
    const entries = rerecorded.slice(0, maxRows).map((entry) => describeRerecorded(entry, quote));
    if (rerecorded.length > entries.length) entries.push(`and ${rerecorded.length - entries.length} more records`);
    parts.push(`<sub>ℹ️ Re-recorded (new hashes and values, not a loosening): ${entries.join('; ')}</sub>`);
  }
  return parts.length > 0 ? parts.join('\n\n') : undefined;
}

/** The same for the terminal, printed before the record blocks. */
export function loosenedTerminal(report: Report, quote: Quote, highlight: (text: string) => string = (text) => text): string | undefined {
  const loosened = report.loosened ?? [];
  const rerecorded = report.rerecorded ?? [];
  const lines: string[] = [];
  if (loosened.length > 0) {
    const base = report.base ? describeBase({ ...report.base, ref: quote(report.base.ref) }) : 'the base';
    lines.push(highlight(`⚠ The record was loosened (against ${base}):`), ...loosened.map((finding) => `    ${describeLoosening(finding, quote)}`));
  }
  if (rerecorded.length > 0) lines.push(`  re-recorded (not a loosening): ${rerecorded.map((entry) => describeRerecorded(entry, quote)).join('; ')}`);
  return lines.length > 0 ? lines.join('\n') : undefined;
}
