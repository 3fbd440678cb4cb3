import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ExitCode } from '../constants.js';
import type { VenvCache } from '../environment/index.js';
import { UserError } from '../errors.js';
import { resolveImageDigest } from '../environment/container/image.js';
import { parseSource } from '../record/locate.js';
import { RunRecordSchema } from '../record/schema.js';
import type { RecordReport } from '../report/schema.js';
import { unifiedDiff } from '../report/text-diff.js';
import { writeFileAtomic } from '../write-file-atomic.js';
import type { PipelineHooks } from './hooks.js';
import { verifyAndMeasure } from './verify-record.js';
import { DEFAULT_CALIBRATION_FACTOR } from '../compare/calibration/calibrate-metrics.js';
import { determinismSummary } from '../compare/calibration/calibrate-runs.js';

export interface UpdateOptions {
  python: string;
  cacheRoot: string;
  remoteCache?: VenvCache;
  /** Write even when a threshold fails. */
  force: boolean;
  /** `--runs N`: N runs, and the nondeterministic outputs calibrated (rewriting earlier calibrated entries). */
  runs?: number;
  calibrateFactor?: number;
  /** `--image NAME[:TAG]`: the record's image is replaced by this local image, pinned by its digest. */
  image?: string;
  hooks: PipelineHooks;
}

export interface UpdateResult {
  recordPath: string;
  /** Unified diff of the record; empty when nothing changed. */
  diff: string;
  /** What the reader should know (tolerances kept as written although tighter than calibrated). */
  warnings: string[];
  /** With --runs: what the runs showed. */
  determinism?: string[];
  written: boolean;
  exitCode: number;
  message: string;
  report: RecordReport;
}

function failedThresholds(report: RecordReport): string[] {
  return report.thresholds.filter((threshold) => threshold.status !== 'pass').map((threshold) => `${threshold.metric} (${threshold.status === 'missing' ? 'no value' : `rerun ${threshold.value}`})`);
}

/** A rewritten record must still load: a tolerance or threshold naming a metric the run no longer writes does not. */
function assertStillValid(text: string, recordPath: string): void {
  const parsed = parseSource(text);
  const valid = 'source' in parsed && RunRecordSchema.safeParse(parsed.source.value);
  if (valid && valid.success) return;
  const issue = valid ? valid.error.issues[0] : undefined;
  throw new UserError(
    `the updated ${recordPath} would not be a valid record${issue ? `: ${issue.path.join('.')}: ${issue.message}` : ''}; nothing was written`,
    'The run no longer writes something the record refers to (e.g. a metric named in tolerance or thresholds): edit the record by hand.',
  );
}

/**
 * `record --update`: reruns a record exactly as verify does, then rewrites only its measured fields (hashes,
 * metric values, packages, Python, platform, code.commit), keeping everything written by hand.
 */
export async function updateRecord(recordFile: string, options: UpdateOptions): Promise<UpdateResult> {
  // Resolved before anything runs: an image that is not here fails at once.
  const image = options.image === undefined ? undefined : await resolveImageDigest(options.image);
  const evidenceDir = await mkdtemp(path.join(tmpdir(), 'repro-gate-update-'));
  try {
    const measured = await verifyAndMeasure(recordFile, {
      python: options.python,
      cacheRoot: options.cacheRoot,
      remoteCache: options.remoteCache,
      evidenceDir,
      keepArtifacts: true,
      hooks: options.hooks,
      rerunOnChangedData: true,
      image,
      ...((options.runs ?? 1) > 1 ? { calibrate: { runs: options.runs!, factor: options.calibrateFactor ?? DEFAULT_CALIBRATION_FACTOR } } : {}),
    });
    const { report, loaded, updatedText, outputsDir } = measured;
    if (report.error || !loaded) {
      throw new UserError(`${recordFile}: ${report.error?.message ?? 'the record could not be rerun'}; nothing was written`, report.error?.hint);
    }
    if (!updatedText || !outputsDir) {
      const missing = report.artifacts.filter((artifact) => artifact.status === 'missing').map((artifact) => artifact.path);
      throw new UserError(`${recordFile}: the rerun did not produce ${missing.join(', ') || 'its metrics file'}; nothing was written`, 'Check the command and the output paths in the record.');
    }
    const before = await readFile(loaded.file, 'utf8');
    const diff = unifiedDiff(loaded.recordPath, before, updatedText);
    const failed = failedThresholds(report);
    const warnings = [...(measured.calibration?.warnings ?? []), ...(measured.calibrationWarnings ?? [])];
    const base = { recordPath: loaded.recordPath, diff, report, warnings, ...(measured.calibration ? { determinism: determinismSummary(measured.calibration) } : {}) };
    if (failed.length > 0 && !options.force) {
      return { ...base, written: false, exitCode: ExitCode.Drift, message: `thresholds failed: ${failed.join(', ')}; nothing was written (pass --force to record it anyway)` };
    }
    assertStillValid(updatedText, loaded.recordPath);
    const outputs = [...loaded.paths.artifacts, ...(loaded.paths.metrics ? [loaded.paths.metrics] : [])];
    for (const output of outputs) {
      await mkdir(path.dirname(output.absolute), { recursive: true });
      await cp(path.join(outputsDir, output.repoRelative), output.absolute, { recursive: true, force: true });
    }
    if (diff) await writeFileAtomic(loaded.file, updatedText);
    const note = failed.length > 0 ? ` despite failed thresholds (${failed.join(', ')})` : '';
    return { ...base, written: Boolean(diff), exitCode: ExitCode.Ok, message: diff ? `updated ${loaded.recordPath}${note}` : `${loaded.recordPath} is already up to date` };
  } finally {
    await rm(evidenceDir, { recursive: true, force: true });
  }
}
