import { z } from 'zod';
import { type BaseRef, deletedRecordsMatching, type RecordChangesSince, recordChangesSince } from '../pipeline/loosening.js';
import { sanitizeTerminal } from '../report/escape.js';
import { describeLoosening } from '../report/loosening.js';
import type { Report } from '../report/schema.js';
import { findRecords } from './find-records.js';

// On a pull request, the records are also compared with their versions at the PR's base, so a PR cannot pass
// the gate by loosening the record itself. Other events have no base, and nothing to compare.

const PullRequestBaseEvent = z.object({
  pull_request: z.object({
    base: z.object({ sha: z.string().regex(/^[0-9a-f]{40,64}$/), ref: z.string().min(1).max(255).optional() }),
  }),
});

const FETCH_HINT = 'Check out the history with the base commit: give actions/checkout `fetch-depth: 0`.';

/** The base of the pull request the event is about, from the event GitHub delivered; undefined for other events. */
export function pullRequestBase(eventName: string, payload: unknown): BaseRef | undefined {
  if (eventName !== 'pull_request' && eventName !== 'pull_request_target') return undefined;
  const base = PullRequestBaseEvent.safeParse(payload).data?.pull_request.base;
  return base && { ref: base.sha, label: base.ref, fetchHint: FETCH_HINT };
}

/**
 * The records to verify (the `records` input expanded) and, on a pull request, what changed in them since its base,
 * records deleted by the PR included. When the PR deleted every record, there is nothing to verify but that.
 */
export async function recordsWithChanges(patterns: string[], eventName: string, payload: unknown): Promise<{ records: string[]; changes?: RecordChangesSince }> {
  const base = pullRequestBase(eventName, payload);
  if (!base) return { records: await findRecords(patterns) };
  const deleted = await deletedRecordsMatching(patterns, base);
  const records = await findRecords(patterns, { allowNone: deleted.length > 0 });
  return { records, changes: await recordChangesSince([...records, ...deleted], base) };
}

const NAMED_IN_FAILURE = 5;

/** With `fail-on-loosened`, the step's failure message naming what was loosened; undefined when nothing was. */
export function loosenedFailure(report: Report): string | undefined {
  const loosened = report.loosened ?? [];
  if (loosened.length === 0) return undefined;
  const named = loosened.slice(0, NAMED_IN_FAILURE).map((finding) => describeLoosening(finding, sanitizeTerminal));
  if (loosened.length > NAMED_IN_FAILURE) named.push(`and ${loosened.length - NAMED_IN_FAILURE} more`);
  return `repro-gate: the record was loosened (fail-on-loosened is true): ${named.join('; ')}`;
}
