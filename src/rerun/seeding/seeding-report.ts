import type { SeedingReport } from '../../report/schema.js';
import type { ProbeTrace } from '../probe/read-trace.js';
import { SEEDABLE_DISTRIBUTIONS, SEEDED_MODULES, type SeedingPolicy, type SeedPlan } from './seed-plan.js';

// Pure: what the probe did with the record's seeds, for the report, and what the reader should be warned about.

function andList(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/** Frameworks some process of the run imported, by the probe's exit lines. */
function importedFrameworks(trace: ProbeTrace): string[] {
  const imported = new Set<string>();
  for (const process of trace.processes) for (const name of process.distributions ?? []) if (SEEDABLE_DISTRIBUTIONS[name]) imported.add(SEEDABLE_DISTRIBUTIONS[name]);
  return [...imported].sort();
}

export function describeSeeding(policy: SeedingPolicy, plan: SeedPlan, trace: ProbeTrace): { report?: SeedingReport; warnings: string[] } {
  const warnings = [...plan.notes];
  const imported = importedFrameworks(trace);
  const seededModules = new Set(Object.keys(policy.seeds).map((name) => SEEDED_MODULES[name]).filter(Boolean));
  if (!policy.apply) {
    const unseeded = imported.filter((module) => seededModules.has(module));
    if (unseeded.length > 0) {
      warnings.push(
        `the training imported ${andList(unseeded)}, but the record's seeds are only exported as REPRO_SEED_* variables: unless the code reads them, ${unseeded.length === 1 ? 'it is' : 'they are'} unseeded. Add \`apply_seeds: true\` to the record to have them applied in-process`,
      );
    }
  } else {
    const withoutSeed = imported.filter((module) => !seededModules.has(module));
    if (withoutSeed.length > 0) warnings.push(`the training imported ${andList(withoutSeed)}, for which the record has no seed (add one under \`seeds:\`)`);
  }
  if (!policy.apply && !policy.strict) return { warnings };
  const applied = new Map<string, { module: string; calls: string[]; processes: number }>();
  const failed = new Map<string, string>();
  const known = new Set([...Object.values(SEEDED_MODULES), 'probe']);
  // The trace is the command's to write: only the frameworks the plan knows are reported.
  for (const event of trace.seeding.filter((entry) => known.has(entry.module))) {
    if (event.error !== undefined) {
      if (!failed.has(event.module)) failed.set(event.module, event.error);
      continue;
    }
    const entry = applied.get(event.module) ?? { module: event.module, calls: event.calls, processes: 0 };
    entry.processes += 1;
    applied.set(event.module, entry);
  }
  for (const [module, error] of failed) warnings.push(`seeding ${module} failed in the rerun: ${error}`);
  if (policy.apply) {
    const missed = imported.filter((module) => seededModules.has(module) && !applied.has(module) && !failed.has(module));
    if (missed.length > 0) warnings.push(`the training imported ${andList(missed)}, but the probe saw no import it could seed (a process the probe does not reach, e.g. \`python -I\`): ${missed.length === 1 ? 'it is' : 'they are'} unseeded`);
  }
  return {
    report: {
      mode: policy.apply ? 'applied' : 'exported',
      strict: policy.strict,
      applied: [...applied.values()].sort((a, b) => a.module.localeCompare(b.module)),
      ...(failed.size > 0 ? { failed: [...failed].map(([module, error]) => ({ module, error })) } : {}),
    },
    warnings,
  };
}
