import path from 'node:path';
import { resolveBaselineFile } from '../baseline/baseline-file.js';
import { openTensorFile } from '../compare/formats/open-tensor-file.js';
import type { PythonRunner } from '../compare/formats/pickle/pickle.js';
import type { TensorEntry, TensorFile } from '../compare/formats/tensor-file.js';
import { judgeNumericArtifact, type RecordedContent } from '../compare/tensors/judge.js';
import { isMeasured, measureTensor, type TensorPassResult } from '../compare/tensors/tensor-pass.js';
import { toleranceResolver } from '../compare/tensors/tolerance.js';
import type { ArtifactSpec } from '../record/schema.js';
import type { NumericCheck } from '../report/schema.js';
import { UserError } from '../errors.js';
import type { LoadedRecord } from '../record/load.js';
import type { SandboxedRun } from './sandboxed-run.js';

// The edge around the pure tensor comparison: opens the rerun's files (and a baseline's), streams every tensor once.

export interface NumericArtifact {
  spec: ArtifactSpec;
  repoRelative: string;
  /** The rerun's file, inside the sandbox. */
  file: string;
  /** The sha256 the rerun produced. */
  produced: string;
}

export interface NumericArtifactResult {
  /** Set when the bytes differ from the record: how the tensors compare. */
  check?: NumericCheck;
  /** What `record` and `record --update` write as the artifact's `content`. */
  content: RecordedContent;
}

export interface NumericContext {
  recordName: string;
  baselineDir?: string;
  runPython: PythonRunner;
  /**
   * Hash every tensor even where the baseline comparison already tells bit-identity: needed only for a content to be
   * written (a record, a proposed update); otherwise the comparison skips the cost of hashing.
   */
  hashTensors: boolean;
  /** Baseline files already being looked up (and hashed), by repo-relative path: see prefetchBaselines. */
  baselines?: ReadonlyMap<string, Promise<string | null>>;
}

async function withTensorFile<T>(file: string, displayPath: string, runPython: PythonRunner, use: (tensors: TensorFile) => Promise<T>): Promise<T> {
  const opened = await openTensorFile(file, displayPath, runPython);
  try {
    return await use(opened);
  } finally {
    await opened.close();
  }
}

async function baselineFile(artifact: NumericArtifact, context: NumericContext): Promise<string | null> {
  if (!context.baselineDir || artifact.produced === artifact.spec.sha256) return null;
  return context.baselines?.get(artifact.repoRelative) ?? resolveBaselineFile(context.baselineDir, context.recordName, artifact.repoRelative, artifact.spec.sha256);
}

/**
 * Starts looking up (and so hashing) the baseline file of every numeric artifact, to run while the rerun's outputs are
 * hashed on the other cores: a drifting artifact needs it, and its hashing would otherwise only start after theirs.
 */
export function prefetchBaselines(loaded: LoadedRecord, baselineDir: string | undefined): Map<string, Promise<string | null>> {
  if (!baselineDir) return new Map();
  return new Map(
    (loaded.record.artifacts ?? []).flatMap((spec, i) => {
      if (spec.compare !== 'numeric') return [];
      const { repoRelative } = loaded.paths.artifacts[i]!;
      return [[repoRelative, resolveBaselineFile(baselineDir, loaded.record.name, repoRelative, spec.sha256).catch(() => null)] as const];
    }),
  );
}

/** Fingerprints a file's tensors on their own (a baseline standing in for a fingerprint the record does not hold yet). */
async function fingerprintOf(tensors: TensorFile, spec: ArtifactSpec, displayPath: string): Promise<RecordedContent> {
  const resolve = toleranceResolver(spec);
  const fingerprints = [];
  for (const tensor of tensors.tensors) {
    fingerprints.push((await measureTensor(tensor, { tolerance: resolve(tensor.name, tensor.dtype), sample: spec.fingerprint === 'sampled', displayPath })).fingerprint);
  }
  return { format: tensors.format, tensors: fingerprints, ...(tensors.parameters ? { parameters: tensors.parameters } : {}) };
}

/**
 * Measures one numeric artifact of the rerun: its fingerprint for the record and, when its bytes changed, its
 * comparison with the record, element by element against a baseline file whose sha256 is the recorded one, else on
 * the recorded samples, else by fingerprint alone.
 */
export async function measureNumericArtifact(artifact: NumericArtifact, context: NumericContext): Promise<NumericArtifactResult> {
  const { spec, repoRelative } = artifact;
  const toleranceFor = toleranceResolver(spec);
  const baselinePath = await baselineFile(artifact, context);
  return withTensorFile(artifact.file, repoRelative, context.runPython, async (rerun) => {
    // Nothing to compare would compare equal: a file with no tensors is not a numeric artifact.
    if (rerun.tensors.length === 0) {
      throw new UserError(`${repoRelative} holds no tensor, array or number to compare`, 'Compare it with `compare: exact` (the default), or save the model\'s arrays.');
    }
    const measure = async (baseline: TensorFile | undefined) => {
      const recorded = spec.content ?? (baseline ? await fingerprintOf(baseline, spec, `${repoRelative} (baseline)`) : undefined);
      const recordedByName = new Map(recorded?.tensors.map((tensor) => [tensor.name, tensor]));
      const baselineByName = new Map(baseline?.tensors.map((tensor) => [tensor.name, tensor]));
      const passes: TensorPassResult[] = [];
      for (const tensor of rerun.tensors) {
        const expected = recordedByName.get(tensor.name);
        const counterpart = baselineByName.get(tensor.name);
        const comparable = (candidate: TensorEntry | undefined) =>
          candidate && candidate.dtype === tensor.dtype && candidate.shape.join(',') === tensor.shape.join(',') ? candidate : undefined;
        // Only a tensor whose bytes changed needs the baseline or the samples; the sha256 settles the others.
        passes.push(
          await measureTensor(tensor, {
            baseline: artifact.produced === spec.sha256 ? undefined : comparable(counterpart),
            baselineSha256: expected?.sha256,
            hash: context.hashTensors,
            tolerance: toleranceFor(tensor.name, tensor.dtype),
            sample: spec.fingerprint === 'sampled',
            recordedSamples: counterpart || artifact.produced === spec.sha256 ? undefined : expected?.samples,
            displayPath: repoRelative,
          }),
        );
      }
      const content: RecordedContent = {
        format: rerun.format,
        tensors: passes.map((pass) => pass.fingerprint),
        ...(rerun.parameters ? { parameters: rerun.parameters } : {}),
      };
      if (artifact.produced === spec.sha256) return { content };
      const shownBaseline = baselinePath ? path.relative(context.baselineDir!, baselinePath) : undefined;
      return { content, check: judgeNumericArtifact({ recorded, rerun: { ...content, tensors: passes }, toleranceFor, baseline: shownBaseline }) };
    };
    return baselinePath ? withTensorFile(baselinePath, `${repoRelative} (baseline)`, context.runPython, measure) : measure(undefined);
  });
}

/** A recorded content that matches the artifact's fingerprint setting (samples kept exactly when `sampled`). */
function contentUpToDate(spec: ArtifactSpec): boolean {
  const sampled = spec.fingerprint === 'sampled';
  return spec.content !== undefined && spec.content.tensors.every((tensor) => (tensor.samples !== undefined) === sampled);
}

/** What the numeric artifacts of one rerun measured, and how to finish measuring them if a record must be written. */
export interface NumericMeasurements {
  checks: Map<string, NumericCheck>;
  /** Index-aligned with the record's artifacts; undefined where nothing was re-measured. */
  contents: Array<RecordedContent | undefined>;
  /** The contents with every tensor hashed: reads again only the artifacts the comparison left unhashed. */
  completeContents(): Promise<Array<RecordedContent | undefined>>;
}

/**
 * Every `compare: numeric` artifact the rerun produced: a comparison for those whose bytes changed, and the content
 * to record for each (skipped when the bytes match a record that already holds it: nothing to re-measure).
 */
export async function measureNumericArtifacts(
  loaded: LoadedRecord,
  run: Pick<SandboxedRun, 'root' | 'runPython'>,
  produced: ReadonlyMap<string, string | null>,
  options: { recordName: string; baselineDir?: string; logFile: string; baselines?: ReadonlyMap<string, Promise<string | null>> },
): Promise<NumericMeasurements> {
  const checks = new Map<string, NumericCheck>();
  const contents: Array<RecordedContent | undefined> = [];
  const context: NumericContext = {
    recordName: options.recordName,
    baselineDir: options.baselineDir,
    baselines: options.baselines,
    runPython: (args) => run.runPython(args, options.logFile),
    hashTensors: false,
  };
  const artifacts = (loaded.record.artifacts ?? []).map((spec, i) => {
    const { repoRelative } = loaded.paths.artifacts[i]!;
    const hash = produced.get(repoRelative) ?? null;
    const measured = spec.compare === 'numeric' && hash !== null && !(hash === spec.sha256 && contentUpToDate(spec));
    return measured ? { spec, repoRelative, file: path.join(run.root, repoRelative), produced: hash } : undefined;
  });
  for (const artifact of artifacts) {
    const result = artifact ? await measureNumericArtifact(artifact, context) : undefined;
    contents.push(result?.content);
    if (artifact && result?.check) checks.set(artifact.repoRelative, result.check);
  }
  const completeContents = async () => {
    const complete: Array<RecordedContent | undefined> = [];
    for (const [i, artifact] of artifacts.entries()) {
      const content = contents[i];
      const finished = artifact && content && !content.tensors.every(isMeasured);
      complete.push(finished ? (await measureNumericArtifact(artifact, { ...context, baselineDir: undefined, hashTensors: true })).content : content);
    }
    return complete;
  };
  return { checks, contents, completeContents };
}
