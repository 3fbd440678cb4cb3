import { diffArrays } from 'diff';
import { DIFF_MAX_EDIT_LENGTH } from '../constants.js';
import { type Document, isMap, isScalar, parseDocument, YAMLMap, YAMLSeq } from 'yaml';
import type { LearnedSet } from '../inputs/affected/learned-inputs.js';
import type { RecordedContent } from '../compare/tensors/judge.js';
import { type Measurement, recordedPythonVersion } from './measurement.js';
import { writeCalibration } from './calibrated-entries.js';
import type { MachineFingerprint } from '../environment/machine/schema.js';

// Pure: rewrites only the measured fields of a run record's text. The yaml Document API keeps the user's comments,
// key order and hand-written fields (tolerance, thresholds, variables) exactly as they were.

function setEach(doc: ReturnType<typeof parseDocument>, list: string, hashes: string[]): void {
  hashes.forEach((hash, i) => doc.setIn([list, i, 'sha256'], hash));
}

function replaceMetricValues(doc: ReturnType<typeof parseDocument>, metrics: Record<string, number>): void {
  const values = doc.getIn(['metrics', 'values'], true);
  if (!isMap(values)) {
    doc.setIn(['metrics', 'values'], doc.createNode(metrics));
    return;
  }
  // Indexed once: map.set searches the pairs, which is quadratic over the thousands of metrics a model can log.
  const map = values as YAMLMap<unknown, unknown>;
  const byName = new Map(map.items.map((pair) => [String(isScalar(pair.key) ? pair.key.value : pair.key), pair] as const));
  map.items = map.items.filter((pair) => Object.hasOwn(metrics, String(isScalar(pair.key) ? pair.key.value : pair.key)));
  for (const [name, value] of Object.entries(metrics)) {
    const pair = byName.get(name);
    if (!pair) map.items.push(doc.createPair(name, value));
    else if (isScalar(pair.value)) pair.value.value = value;
    else pair.value = doc.createNode(value);
  }
}

/** One line per tensor (a flow map): the update's diff then names exactly the tensors that changed. */
function contentNode(doc: Document, content: RecordedContent): YAMLMap {
  const tensors = new YAMLSeq();
  tensors.items = content.tensors.map((tensor) => doc.createNode(tensor, { flow: true }));
  const node = new YAMLMap();
  node.set('format', content.format);
  node.set('tensors', tensors);
  if (content.parameters) node.set('parameters', doc.createNode(content.parameters));
  return node;
}

/** Writes each measured `content` into its artifact (index-aligned; undefined leaves one alone). */
export function setArtifactContents(doc: Document, contents: ReadonlyArray<RecordedContent | undefined>): void {
  contents.forEach((content, i) => {
    if (content) doc.setIn(['artifacts', i, 'content'], contentNode(doc, content));
  });
}

/** `warnings` collects what calibration kept as written by hand although it is tighter than calibrated. */
/** The machine fingerprint, its lists on one line each: a diff then shows which flag or library changed. */
export function setMachine(doc: Document, machine: MachineFingerprint): void {
  const node = doc.createNode(machine) as YAMLMap;
  for (const key of ['isa', 'libraries', 'gpus']) {
    const list = node.get(key, true);
    if (list instanceof YAMLSeq) {
      if (key === 'isa') list.flow = true;
      else for (const item of list.items) if (item instanceof YAMLMap) item.flow = true;
    }
  }
  doc.setIn(['environment', 'machine'], node);
}

/**
 * The learned input set, one file per line (a flow map): an update's diff names exactly the files that changed; and
 * the folders listed, one per line. A set without its folders drops older ones: they describe another run.
 */
export function setLearnedSet(doc: Document, learned: LearnedSet): void {
  const list = new YAMLSeq();
  list.items = learned.files.map((file) => doc.createNode(file, { flow: true }));
  doc.setIn(['code', 'files'], list);
  if (learned.listed) doc.setIn(['code', 'listed'], doc.createNode(learned.listed));
  else if (doc.hasIn(['code', 'listed'])) doc.deleteIn(['code', 'listed']);
}

export function updateRecordText(text: string, measured: Measurement, warnings: string[] = []): string {
  // The record was loaded (and its keys checked) already; yaml's own duplicate-key check is quadratic in the keys.
  const doc = parseDocument(text, { uniqueKeys: false });
  setEach(doc, 'config', measured.config);
  setEach(doc, 'data', measured.data);
  setEach(doc, 'artifacts', measured.artifacts);
  if (measured.contents) setArtifactContents(doc, measured.contents);
  if (measured.requirementsSha256 && doc.hasIn(['environment', 'requirements'])) {
    doc.setIn(['environment', 'requirements_sha256'], measured.requirementsSha256);
  }
  if (measured.requirementsSha256 && doc.hasIn(['environment', 'lockfile'])) {
    doc.setIn(['environment', 'lockfile_sha256'], measured.requirementsSha256);
  }
  if (measured.metrics && doc.hasIn(['metrics'])) replaceMetricValues(doc, measured.metrics);
  if (measured.python) {
    const current = doc.getIn(['environment', 'python']);
    doc.setIn(['environment', 'python'], recordedPythonVersion(measured.python, typeof current === 'string' ? current : undefined));
  }
  if (measured.image) doc.setIn(['environment', 'image'], measured.image);
  if (measured.packages) {
    const sorted = Object.fromEntries(Object.entries(measured.packages).sort(([a], [b]) => (a < b ? -1 : 1)));
    doc.setIn(['environment', 'packages'], doc.createNode(sorted));
  }
  if (measured.platform) doc.setIn(['environment', 'platform'], measured.platform);
  if (measured.machine) setMachine(doc, measured.machine);
  if (measured.commit) doc.setIn(['code', 'commit'], measured.commit);
  if (measured.dirty) doc.setIn(['code', 'dirty'], true);
  else if (measured.dirty === false && doc.hasIn(['code', 'dirty'])) doc.deleteIn(['code', 'dirty']);
  if (measured.learned) setLearnedSet(doc, measured.learned);
  else if (measured.learned === null) for (const key of ['files', 'listed']) if (doc.hasIn(['code', key])) doc.deleteIn(['code', key]);
  if (measured.calibration) warnings.push(...writeCalibration(doc, measured.calibration, measured.metrics ?? {}));
  return keepUntouchedLines(text, doc.toString({ lineWidth: 0 }));
}

/**
 * The yaml printer normalizes spacing (e.g. before a comment); a line that only changed that way is restored as the
 * user wrote it, so the diff shows what was re-measured and nothing else.
 */
function keepUntouchedLines(before: string, after: string): string {
  const old = before.split('\n');
  const now = after.split('\n');
  const squeeze = (line: string) => line.replace(/\s+/g, ' ').trim();
  const merged: string[] = [];
  let i = 0;
  let j = 0;
  const parts = diffArrays(old.map(squeeze), now.map(squeeze), { maxEditLength: DIFF_MAX_EDIT_LENGTH });
  // Too many changed lines to align cheaply: the printer's text stands as it is.
  if (parts === undefined) return after;
  for (const part of parts) {
    const count = part.count ?? part.value.length;
    if (part.removed) i += count;
    else if (part.added) merged.push(...now.slice(j, (j += count)));
    else {
      merged.push(...old.slice(i, i + count));
      i += count;
      j += count;
    }
  }
  return merged.join('\n');
}
