import { diffArrays } from 'diff';
import { isMap, parseDocument, type YAMLMap } from 'yaml';
import { type Measurement, recordedPythonVersion } from './measurement.js';

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
  const map = values as YAMLMap<unknown, unknown>;
  for (const pair of [...map.items]) {
    const name = String((pair.key as { value?: unknown })?.value ?? pair.key);
    if (!(name in metrics)) map.delete(pair.key);
  }
  for (const [name, value] of Object.entries(metrics)) map.set(name, value);
}

export function updateRecordText(text: string, measured: Measurement): string {
  const doc = parseDocument(text);
  setEach(doc, 'config', measured.config);
  setEach(doc, 'data', measured.data);
  setEach(doc, 'artifacts', measured.artifacts);
  if (measured.requirementsSha256 && doc.hasIn(['environment', 'requirements'])) {
    doc.setIn(['environment', 'requirements_sha256'], measured.requirementsSha256);
  }
  if (measured.metrics && doc.hasIn(['metrics'])) replaceMetricValues(doc, measured.metrics);
  if (measured.python) {
    const current = doc.getIn(['environment', 'python']);
    doc.setIn(['environment', 'python'], recordedPythonVersion(measured.python, typeof current === 'string' ? current : undefined));
  }
  if (measured.packages) {
    const sorted = Object.fromEntries(Object.entries(measured.packages).sort(([a], [b]) => (a < b ? -1 : 1)));
    doc.setIn(['environment', 'packages'], doc.createNode(sorted));
  }
  if (measured.platform) doc.setIn(['environment', 'platform'], measured.platform);
  if (measured.commit) doc.setIn(['code', 'commit'], measured.commit);
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
  for (const part of diffArrays(old.map(squeeze), now.map(squeeze))) {
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
