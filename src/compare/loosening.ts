import path from 'node:path';
import { z } from 'zod';
import { formatNumber, formatThresholdRule, formatTolerance } from '../report/format.js';
import { type Loosened, type Rerecorded, toReportNumber } from '../report/schema.js';
import { toleranceResolver } from './tensors/tolerance.js';
import { toleranceFor } from './tolerance.js';

// Pure: how a pull request changed a run record against its base. A change that lets more results pass
// (a wider tolerance, a weaker threshold, a check removed) is a loosening; new hashes and values are a re-record.
//
// Both versions are read leniently from the raw YAML: the base may predate today's schema (or be invalid), and
// the current one is validated by verify itself. A field that cannot be read counts as absent.

export type Loosening = Omit<Loosened, 'recordPath'>;
export type RerecordedChange = Rerecorded['changes'][number];

export interface RecordChanges {
  loosened: Loosening[];
  rerecorded: RerecordedChange[];
}

/** Artifact comparison policies, strictest first; a missing `compare` means `exact`. */
const ARTIFACT_POLICIES = ['exact', 'numeric', 'report'] as const;
/** Every dtype a tolerance can apply to differently (unset fields fall back per dtype; integers default to exact). */
const PROBED_DTYPES = ['float16', 'bfloat16', 'float32', 'float64', 'int64'] as const;

/** A field that does not parse reads as undefined instead of failing the whole record. */
const lenient = <T extends z.ZodType>(schema: T) => schema.optional().catch(undefined);

/** A list whose unreadable items are dropped, one by one. */
const lenientList = <T extends z.ZodType>(item: T) =>
  z
    .array(z.unknown())
    .catch([])
    .transform((items) =>
      items.flatMap((value) => {
        const result = item.safeParse(value);
        return result.success ? [result.data as z.output<T>] : [];
      }),
    );

/** A map whose unreadable entries are dropped, one by one. */
const lenientMap = <T extends z.ZodType>(value: T) =>
  z
    .record(z.string(), z.unknown())
    .catch({})
    .transform((entries) =>
      Object.fromEntries(
        Object.entries(entries).flatMap(([key, raw]) => {
          const result = value.safeParse(raw);
          return result.success ? [[key, result.data as z.output<T>] as const] : [];
        }),
      ),
    );

const MetricValue = z.union([z.number(), z.nan()]);
const ToleranceView = z.object({ abs: lenient(z.number()), rel: lenient(z.number()) }).catch({});
const HashedFileView = z.object({ path: z.string().min(1), sha256: lenient(z.string()) });

const RecordView = z
  .object({
    name: lenient(z.string()),
    code: lenient(z.object({ commit: lenient(z.string()) })),
    environment: lenient(
      z.object({
        python: lenient(z.union([z.string(), z.number()]).transform(String)),
        requirements_sha256: lenient(z.string()),
        packages: lenientMap(z.union([z.string(), z.number()]).transform(String)),
        platform: lenient(z.string()),
        image: lenient(z.string()),
        network: lenient(z.boolean()),
        pass_env: lenientList(z.string()),
      }),
    ),
    config: lenientList(HashedFileView),
    data: lenientList(HashedFileView),
    artifacts: lenientList(
      HashedFileView.extend({
        compare: lenient(z.string()),
        tolerance: lenient(ToleranceView),
        tensors: lenientMap(ToleranceView),
        equal_nan: lenient(z.boolean()),
        fingerprint: lenient(z.string()),
        content: lenient(z.object({ tensors: lenientList(z.object({ name: z.string(), sha256: lenient(z.string()) })) })),
      }),
    ),
    metrics: lenient(z.object({ values: lenientMap(MetricValue) })),
    tolerance: lenient(z.object({ default: lenient(ToleranceView), metrics: lenientMap(ToleranceView) })),
    thresholds: lenientMap(z.object({ min: lenient(z.number()), max: lenient(z.number()) })),
  })
  .catch({ config: [], data: [], artifacts: [], thresholds: {} });

type RecordView = z.infer<typeof RecordView>;
type ThresholdView = RecordView['thresholds'][string];

const samePath = (file: string) => path.posix.normalize(file.replace(/\\/g, '/'));
const byPath = <T extends { path: string }>(entries: T[]) => new Map(entries.map((entry) => [samePath(entry.path), entry]));
const sameNumber = (a: number, b: number) => a === b || (Number.isNaN(a) && Number.isNaN(b));

function describeThreshold(threshold: ThresholdView): string | null {
  return formatThresholdRule(threshold.min, threshold.max) || null;
}

/** Unknown policies (a typo, or one from a future version) rank below every known one. */
function policyRank(policy: string | undefined): number {
  const index = (ARTIFACT_POLICIES as readonly string[]).indexOf(policy ?? 'exact');
  return index === -1 ? ARTIFACT_POLICIES.length : index;
}

function removedMetrics(base: RecordView, current: RecordView): Loosening[] {
  const now = current.metrics?.values ?? {};
  return Object.entries(base.metrics?.values ?? {})
    .filter(([name]) => !(name in now))
    .map(([name, value]) => ({ kind: 'metric-removed', subject: name, before: formatNumber(toReportNumber(value)), after: null }));
}

/** Per metric recorded both times: its effective tolerance (own fields over the default, the rest exact), before and after. */
function widenedTolerances(base: RecordView, current: RecordView): Loosening[] {
  const now = current.metrics?.values ?? {};
  return Object.keys(base.metrics?.values ?? {})
    .filter((name) => name in now)
    .flatMap((name): Loosening[] => {
      const before = toleranceFor(name, base.tolerance);
      const after = toleranceFor(name, current.tolerance);
      // Either part growing lets some result pass that failed before, whatever the other part did.
      if (after.abs <= before.abs && after.rel <= before.rel) return [];
      return [{ kind: 'tolerance-widened', subject: name, before: formatTolerance(before), after: formatTolerance(after) }];
    });
}

function relaxedThresholds(base: RecordView, current: RecordView): Loosening[] {
  return Object.entries(base.thresholds).flatMap(([metric, before]): Loosening[] => {
    const after = current.thresholds[metric];
    if (!after) return [{ kind: 'threshold-removed', subject: metric, before: describeThreshold(before), after: null }];
    const minRelaxed = before.min !== undefined && (after.min === undefined || after.min < before.min);
    const maxRelaxed = before.max !== undefined && (after.max === undefined || after.max > before.max);
    if (!minRelaxed && !maxRelaxed) return [];
    return [{ kind: 'threshold-relaxed', subject: metric, before: describeThreshold(before), after: describeThreshold(after) }];
  });
}

/**
 * What the rerun may reach from the host: the network (with an image, off unless the record allows it) and host
 * variables passed through. A record that opens either lets a pull request's command send out what it finds.
 */
function widenedIsolation(base: RecordView, current: RecordView): Loosening[] {
  const opened: Loosening[] = current.environment?.network === true && base.environment?.network !== true ? [{ kind: 'network-allowed', subject: 'environment.network', before: 'false', after: 'true' }] : [];
  const passed = new Set(base.environment?.pass_env ?? []);
  const added = [...new Set(current.environment?.pass_env ?? [])].filter((name) => !passed.has(name));
  return [...opened, ...added.map((name): Loosening => ({ kind: 'host-variable-passed', subject: name, before: null, after: 'passed from the host' }))];
}

function weakenedArtifacts(base: RecordView, current: RecordView): Loosening[] {
  const now = byPath(current.artifacts);
  return base.artifacts.flatMap((artifact): Loosening[] => {
    const before = artifact.compare ?? 'exact';
    const match = now.get(samePath(artifact.path));
    if (!match) return [{ kind: 'artifact-removed', subject: artifact.path, before, after: null }];
    const after = match.compare ?? 'exact';
    if (policyRank(after) <= policyRank(before)) return [];
    return [{ kind: 'artifact-weakened', subject: artifact.path, before, after }];
  });
}

type ArtifactView = RecordView['artifacts'][number];

/** A numeric artifact's tolerance as each dtype and each tensor glob of either version resolves it. */
function numericTolerances(artifact: ArtifactView, probes: string[]): Array<{ probe: string; abs: number; rel: number; equalNan: boolean }> {
  const resolve = toleranceResolver(artifact);
  return probes.flatMap((probe) => PROBED_DTYPES.map((dtype) => ({ probe: `${probe} (${dtype})`, ...resolve(probe, dtype) })));
}

function fingerprintsDiffer(base: ArtifactView, current: ArtifactView): boolean {
  const text = (artifact: ArtifactView) => JSON.stringify((artifact.content?.tensors ?? []).map((tensor) => [tensor.name, tensor.sha256]));
  return base.content !== undefined && text(base) !== text(current);
}

/**
 * Per numeric artifact compared both times: any tensor tolerance that grew (artifact-wide, by glob, or by dtype through
 * an unset field), NaN accepted as equal, or a sampled fingerprint (which judges a rerun on a sample) is a loosening.
 */
function widenedArtifactTolerances(base: RecordView, current: RecordView): Loosening[] {
  const now = byPath(current.artifacts);
  return base.artifacts.flatMap((artifact): Loosening[] => {
    const match = now.get(samePath(artifact.path));
    if (!match || artifact.compare !== 'numeric' || match.compare !== 'numeric') return [];
    // A glob's own name is a tensor it matches; '' stands for a tensor no glob names.
    const probes = ['', ...new Set([...Object.keys(artifact.tensors), ...Object.keys(match.tensors)])];
    const before = numericTolerances(artifact, probes);
    const after = numericTolerances(match, probes);
    const widened = after.find((tolerance, i) => tolerance.abs > before[i]!.abs || tolerance.rel > before[i]!.rel);
    const found: Loosening[] = [];
    if (widened) {
      const was = before[after.indexOf(widened)]!;
      found.push({ kind: 'tolerance-widened', subject: `${artifact.path} ${widened.probe.trim()}`, before: formatTolerance(was), after: formatTolerance(widened) });
    }
    if (after[0]!.equalNan && !before[0]!.equalNan) found.push({ kind: 'artifact-weakened', subject: artifact.path, before: 'NaN ≠ NaN', after: 'equal_nan: true' });
    if (artifact.sha256 !== undefined && artifact.sha256 === match.sha256 && fingerprintsDiffer(artifact, match)) {
      // Measured from the artifact's bytes, a fingerprint changes only with them: rewritten alone, it can make a
      // drifting rerun read as identical when there is no baseline to compare with.
      found.push({ kind: 'artifact-weakened', subject: artifact.path, before: 'tensor fingerprints of the recorded artifact', after: 'tensor fingerprints rewritten, same artifact sha256' });
    }
    if (match.fingerprint === 'sampled' && artifact.fingerprint !== 'sampled') {
      found.push({ kind: 'artifact-weakened', subject: artifact.path, before: `fingerprint: ${artifact.fingerprint ?? 'stats'}`, after: 'fingerprint: sampled' });
    }
    return found;
  });
}

/** How many entries present both times carry a different recorded hash. */
function changedHashes(base: Array<{ path: string; sha256?: string }>, current: Array<{ path: string; sha256?: string }>): number {
  const now = byPath(current);
  return base.filter((entry) => {
    const match = now.get(samePath(entry.path));
    return match !== undefined && match.sha256 !== entry.sha256;
  }).length;
}

function changedValues<T>(base: Record<string, T>, current: Record<string, T>, same: (a: T, b: T) => boolean): number {
  return Object.entries(base).filter(([name, value]) => name in current && !same(value, current[name]!)).length;
}

function changedPackages(base: Record<string, string>, current: Record<string, string>): number {
  const names = new Set([...Object.keys(base), ...Object.keys(current)]);
  return [...names].filter((name) => base[name] !== current[name]).length;
}

const changedText = (before: string | undefined, after: string | undefined) => (before !== undefined && after !== undefined && before !== after ? 1 : 0);

function rerecorded(base: RecordView, current: RecordView): RerecordedChange[] {
  const counts: Array<[RerecordedChange['kind'], number]> = [
    ['artifact-hash', changedHashes(base.artifacts, current.artifacts)],
    ['metric-value', changedValues(base.metrics?.values ?? {}, current.metrics?.values ?? {}, sameNumber)],
    ['config-hash', changedHashes(base.config, current.config)],
    ['data-hash', changedHashes(base.data, current.data)],
    ['requirements-hash', changedText(base.environment?.requirements_sha256, current.environment?.requirements_sha256)],
    ['package', base.environment?.packages && current.environment?.packages ? changedPackages(base.environment.packages, current.environment.packages) : 0],
    ['python', changedText(base.environment?.python, current.environment?.python)],
    ['platform', changedText(base.environment?.platform, current.environment?.platform)],
    ['code-commit', changedText(base.code?.commit, current.code?.commit)],
    ['image', changedText(base.environment?.image, current.environment?.image)],
  ];
  return counts.filter(([, count]) => count > 0).map(([kind, count]) => ({ kind, count }));
}

/**
 * The loosenings and re-recorded values of one record between the base and now, each given as the parsed YAML
 * (`undefined`: the file does not exist there). A record new in this change has nothing to loosen.
 */
export function compareRecordVersions(base: unknown, current: unknown, recordPath: string): RecordChanges {
  if (base === undefined) return { loosened: [], rerecorded: [] };
  const before = RecordView.parse(base);
  if (current === undefined) {
    return { loosened: [{ kind: 'record-deleted', subject: recordPath, before: before.name ?? null, after: null }], rerecorded: [] };
  }
  const after = RecordView.parse(current);
  return {
    loosened: [
      ...removedMetrics(before, after),
      ...widenedTolerances(before, after),
      ...relaxedThresholds(before, after),
      ...weakenedArtifacts(before, after),
      ...widenedArtifactTolerances(before, after),
      ...widenedIsolation(before, after),
    ],
    rerecorded: rerecorded(before, after),
  };
}
