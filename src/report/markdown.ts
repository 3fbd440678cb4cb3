import { TOOL_NAME } from '../constants.js';
import { relevantChanges } from '../explain/causes.js';
import { codeFence, escapeInline } from './escape.js';
import { describeCauses, explainRecord } from './explain.js';
import { loosenedMarkdown } from './loosening.js';
import { tensorTable } from './numeric.js';
import { driftKindLabel, driftSentence, seedingLine, variationRows, varyingRows } from './runs.js';
import { formatDelta, formatDuration, formatNumber, formatPair, formatThresholdRule, formatTolerance, plural, shortHash, VERDICT_EMOJI, VERDICT_LABEL } from './format.js';
import type { ArtifactCheck, EnvironmentReport, InputCheck, MetricCheck, RecordReport, Report, RunReport, Verdict } from './schema.js';
import { worstVerdict } from './verdict-order.js';

// Pure: the PR comment and job summary. Every user-controlled string goes through escapeInline or codeFence.

export interface RenderOptions {
  /** `no-logs` drops log tails; `compact` also folds the environment diff into counts. */
  detail?: 'full' | 'no-logs' | 'compact';
  /** Caps every table's rows; the rest is counted in one line. */
  maxRows?: number;
  /** Shown when something was left out, to say where the full report is. */
  fullReportHint?: string;
}

const LOG_CHARS = 6_000;
/** Rows per table when the caller sets no cap: a report with 100k metrics still renders a readable page. */
const DEFAULT_MAX_ROWS = 500;
const DIFF_CHARS = 8_000;
const ARTIFACT_ORDER: Record<ArtifactCheck['status'], number> = { missing: 0, differs: 0, within: 1, identical: 3 };
const STATUS: Record<string, string> = {
  equal: '✅ equal',
  within: '🟡 within',
  beyond: '❌ beyond',
  missing: '❌ missing',
  new: '🆕 new',
  identical: '✅ identical',
  differs: '❌ differs',
  match: '✅ match',
  mismatch: '❌ changed',
  'manifest-mismatch': '❌ manifest',
  pass: '✅ pass',
  fail: '❌ fail',
};

const esc = (text: string) => escapeInline(text);
const code = (hash: string | null) => (hash === null ? '—' : `\`${shortHash(hash)}\``);

function rowLimit(options: RenderOptions): number {
  return options.maxRows ?? DEFAULT_MAX_ROWS;
}

/** `total`: how many rows there are in all, when the caller built only the first `rowLimit` of them. */
function table(header: string[], rows: string[][], options: RenderOptions, total = rows.length): string {
  const shown = rows.slice(0, rowLimit(options));
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...shown.map((row) => `| ${row.join(' | ')} |`)];
  if (total > shown.length) lines.push(`| … and ${total - shown.length} more | ${header.slice(1).map(() => '').join(' | ')} |`);
  return lines.join('\n');
}

function details(summary: string, body: string, open = false): string {
  return `<details${open ? ' open' : ''}><summary>${summary}</summary>\n\n${body}\n\n</details>`;
}

function metricsSection(record: RecordReport, options: RenderOptions): string | undefined {
  const tracked = record.metrics.filter((metric) => metric.status !== 'new');
  const added = record.metrics.filter((metric) => metric.status === 'new');
  if (tracked.length === 0 && added.length === 0) return undefined;
  // Problems first: in a long table the reader sees them without scrolling.
  const order: Record<MetricCheck['status'], number> = { beyond: 0, missing: 1, within: 2, equal: 3, new: 4 };
  // Only the rows shown are formatted: a report may hold a million metrics.
  const rows = [...tracked]
    .sort((a, b) => order[a.status] - order[b.status])
    .slice(0, rowLimit(options))
    .map((metric) => {
      const [recorded, rerun] = formatPair(metric.recorded, metric.rerun);
      return [esc(metric.name), recorded, rerun, formatDelta(metric.delta), formatTolerance(metric.tolerance), STATUS[metric.status]!];
    });
  const parts = tracked.length > 0 ? [table(['Metric', 'Recorded', 'Rerun', 'Δ', 'Tolerance', 'Status'], rows, options, tracked.length)] : [];
  if (added.length > 0) {
    const names = added.slice(0, 10).map((metric) => `${esc(metric.name)} = ${metric.rerun === null ? '—' : formatNumber(metric.rerun)}`);
    parts.push(`New metrics (not recorded): ${names.join(', ')}${added.length > 10 ? `, and ${added.length - 10} more` : ''}`);
  }
  return parts.join('\n\n');
}

function thresholdsSection(record: RecordReport, options: RenderOptions): string | undefined {
  if (record.thresholds.length === 0) return undefined;
  const rows = record.thresholds.map((t) => [esc(t.metric), formatThresholdRule(t.min, t.max), t.value === null ? '—' : formatNumber(t.value), STATUS[t.status]!]);
  return table(['Threshold', 'Rule', 'Rerun', 'Status'], rows, options);
}

function artifactsSection(record: RecordReport, options: RenderOptions): string | undefined {
  if (record.artifacts.length === 0) return undefined;
  // Gating problems first, then what changed without gating, then the identical: in a record of thousands of
  // artifacts the rows shown are the ones that matter, and the rest are counted.
  const rank = (artifact: ArtifactCheck) => (artifact.policy === 'report' && artifact.status !== 'identical' ? 2 : ARTIFACT_ORDER[artifact.status]);
  const ordered = [...record.artifacts].sort((a, b) => rank(a) - rank(b) || Number(b.committed?.status === 'differs') - Number(a.committed?.status === 'differs'));
  const rows = ordered.slice(0, rowLimit(options)).map((artifact) => {
    const committed = artifact.committed?.status === 'differs' ? `; ❌ committed file is ${code(artifact.committed.actual)}` : '';
    const status = artifact.policy === 'report' && artifact.status !== 'identical' ? `ℹ️ ${artifact.status === 'missing' ? 'missing' : 'changed'} (not gating)` : STATUS[artifact.status]!;
    return [esc(artifact.path), code(artifact.recorded), code(artifact.actual), `${status}${committed}`];
  });
  const tensors = options.detail === 'compact' ? [] : ordered.slice(0, rowLimit(options)).flatMap((artifact) => (artifact.numeric ? [tensorTable(artifact, artifact.numeric, esc)] : []));
  return [table(['Artifact', 'Recorded', 'Rerun', 'Status'], rows, options, record.artifacts.length), ...tensors.filter(Boolean)].join('\n\n');
}

function inputDetails(input: InputCheck): string {
  const parts: string[] = [];
  if (input.status === 'mismatch') parts.push(`recorded \`${input.recorded}\`, now \`${input.actual}\``);
  const manifest = input.manifest;
  if (manifest) {
    if (manifest.datasetName) parts.push(`dataset ${esc(manifest.datasetName)}`);
    if (manifest.storageUri) parts.push(esc(manifest.storageUri));
    if (manifest.recordCount !== undefined) {
      const actual = manifest.actualRecordCount;
      parts.push(actual === undefined || actual === manifest.recordCount ? `${manifest.recordCount} rows` : `${actual} rows, manifest says ${manifest.recordCount}`);
    }
    if (manifest.contentHashMatches === false) parts.push(`manifest content_hash ${esc(manifest.contentHash ?? '')} differs`);
  }
  return parts.join(' · ');
}

function inputsSection(record: RecordReport, options: RenderOptions): string | undefined {
  if (record.inputs.length === 0) return undefined;
  const rows = record.inputs.map((input) => [esc(input.path), input.kind, STATUS[input.status]!, inputDetails(input)]);
  const failed = record.inputs.filter((input) => input.status !== 'match').length;
  const diffs = options.detail === 'compact' ? [] : record.inputs.filter((input) => input.diff).map((input) => details(`Diff of ${esc(input.path)} against the recorded commit`, codeFence(input.diff!, DIFF_CHARS, 'diff')));
  const body = [table(['Input', 'Kind', 'Status', 'Details'], rows, options), ...diffs].join('\n\n');
  return details(`Inputs checked: ${plural(record.inputs.length, 'file')}${failed ? `, ${failed} changed` : ', all match'}`, body, failed > 0);
}

function causesSection(record: RecordReport, options: RenderOptions): string | undefined {
  if (record.verdict === 'reproduced' || (record.causes.length === 0 && !record.code?.changedFiles?.length)) return undefined;
  const changed = record.code?.changedFiles ?? [];
  const listFiles = changed.length > 0 && options.detail !== 'compact';
  const lines = record.causes
    .slice(0, options.maxRows ?? 20)
    .map((cause) => {
      const text = `- ${describeCauses([cause], esc)}${cause.line ? ` (line ${cause.line})` : ''}`;
      // With a learned input set each changed file the training read is a cause of its own.
      if (cause.kind !== 'code-changed' || !listFiles || record.code?.learnedFiles !== undefined) return text;
      // The files themselves: with a scope, only those next to the training code.
      const { relevant } = relevantChanges(record.code!);
      if (relevant === 0) return text;
      const shown = changed.slice(0, Math.min(15, relevant)).map(esc).join(', ');
      const more = relevant - Math.min(changed.length, 15, relevant);
      return `${text}: ${shown}${more > 0 ? `, and ${more} more` : ''}`;
    });
  return `**Likely causes**\n\n${lines.join('\n')}`;
}

/** How a venv was built, when not by pip: ` with uv 0.13.9`, ` by uv sync 0.13.9`. */
function installedWith(venv: NonNullable<EnvironmentReport['venv']>): string {
  const version = venv.uvVersion ? ` ${esc(venv.uvVersion)}` : '';
  if (venv.installer === 'uv-pip') return ` with uv${version}`;
  if (venv.installer === 'uv-sync') return ` by uv sync${version}`;
  return '';
}

/** `ghcr.io/acme/train@sha256:0123456789ab`: the digest cut like every other hash in the report. */
function imageName(reference: string): string {
  const [name, digest] = reference.split('@sha256:');
  return digest ? `${name}@sha256:${shortHash(digest)}` : reference;
}

function environmentSection(environment: EnvironmentReport | undefined, options: RenderOptions): string | undefined {
  if (!environment) return undefined;
  const python = environment.python.required ? `Python ${esc(environment.python.actual)} (record: ${esc(environment.python.required)})` : `Python ${esc(environment.python.actual)}`;
  const platform = environment.platform.recorded && environment.platform.recorded !== environment.platform.actual ? `${esc(environment.platform.actual)} (record: ${esc(environment.platform.recorded)})` : esc(environment.platform.actual);
  const built = environment.venv && `venv${environment.image ? ' in the image' : ''} ${environment.venv.source === 'built' ? `built${installedWith(environment.venv)}` : `from ${environment.venv.source}`} in ${formatDuration(environment.venv.durationMs)}`;
  const image = environment.image && `image ${esc(imageName(environment.image.reference))} (${environment.image.runtime})`;
  const venv = [image, built].filter(Boolean).join(' · ') || 'current environment';
  const packages = environment.packages;
  const changes = packages ? [...packages.changed, ...packages.added, ...packages.removed] : [];
  const summary = `Environment: ${python} · ${platform} · ${venv}${packages ? ` · ${changes.length === 0 ? 'packages match the record' : `${plural(changes.length, 'package')} differ`}` : ''}`;
  if (changes.length === 0 || options.detail === 'compact') {
    return details(summary, packages ? `${packages.unchanged} packages as recorded; ${packages.changed.length} changed, ${packages.added.length} added, ${packages.removed.length} removed.` : 'No packages were recorded.');
  }
  const rows = changes.map((change) => [esc(change.name), change.recorded === null ? '—' : esc(change.recorded), change.actual === null ? '—' : esc(change.actual), change.recorded === null ? 'added' : change.actual === null ? 'removed' : 'changed']);
  return details(summary, table(['Package', 'Recorded', 'Rerun', ''], rows, options), changes.length <= 5);
}

/** Which interpreters the probe saw: the evidence that the rebuilt environment, and only it, did the work. */
function processesLine(run: RunReport): string {
  if (run.processCount === undefined) return '';
  const outside = (run.processes ?? []).filter((process) => !process.inEnvironment);
  const named = outside.length > 0 ? ` (outside the environment: ${outside.slice(0, 3).map((process) => esc(process.executable)).join(', ')})` : '';
  return `\n\nPython processes seen by the probe: ${run.processCount}${named}`;
}

/** How the rerun's processes were tracked, and the ones it left running that had to be killed (daemons, stray children). */
function containmentLine(run: RunReport): string {
  if (!run.containment) return '';
  const tracker = run.containment === 'cgroup' ? 'a cgroup' : 'an environment marker';
  const killed = run.killed ?? [];
  return `\n\nProcesses tracked by ${tracker}${killed.length > 0 ? `; left running by the command and killed: ${killed.map(esc).join(' · ')}` : ''}`;
}

function runSection(run: RunReport | undefined, options: RenderOptions): string | undefined {
  if (!run || (options.detail ?? 'full') !== 'full') return undefined;
  const outcome = run.timedOut ? 'timed out' : run.signal ? `killed by ${esc(run.signal)}` : `exit ${run.exitCode}`;
  const lines = run.logTail.split('\n').length;
  const seeding = seedingLine(run, esc);
  const body = `Command: ${esc(run.command)} (in ${esc(run.workdir)})${processesLine(run)}${containmentLine(run)}${seeding ? `\n\n${seeding}` : ''}\n\n${codeFence(run.logTail || '(no output)', LOG_CHARS)}`;
  return details(`Rerun log (last ${plural(lines, 'line')}) · ${outcome} · ${formatDuration(run.durationMs)}`, body, run.exitCode !== 0);
}

/** `--runs` and `--vary`: the outputs that varied between reruns side by side, and what each variation changed. */
function runsSection(record: RecordReport, options: RenderOptions): string | undefined {
  const parts: string[] = [];
  const drift = driftSentence(record, esc);
  if (drift) parts.push(`**Reruns:** ${drift}`);
  if (record.drift?.kind === 'nondeterministic' && record.drift.varying.length > 0) {
    parts.push(table(['Output', ...Array.from({ length: record.drift.runs }, (_, i) => `Run ${i + 1}`)], varyingRows(record.drift.varying, esc), options));
  }
  if (record.variations?.length) parts.push(`**Variations** (each against the unvaried run)\n\n${table(['Variation', 'Changed outputs'], variationRows(record, esc), options)}`);
  return parts.length > 0 ? parts.join('\n\n') : undefined;
}

function warningsSection(record: RecordReport): string | undefined {
  if (!record.warnings?.length) return undefined;
  return record.warnings.map((warning) => `> ⚠️ ${esc(warning)}`).join('\n>\n');
}

/** Closes a drift: how to accept it, with the run.yaml diff from this (clean) rerun. */
function updateSection(record: RecordReport, options: RenderOptions): string | undefined {
  if (!record.update || record.verdict !== 'drift') return undefined;
  const command = codeFence(record.update.command, 1_000, 'sh');
  const diff = options.detail === 'compact' ? '' : `\n\n${details(`run.yaml as this rerun would record it`, codeFence(record.update.diff, DIFF_CHARS, 'diff'))}`;
  return `**If this change is intended**, accept it by re-recording (the diff below comes from this clean rerun):\n\n${command}${diff}`;
}

function errorSection(record: RecordReport): string | undefined {
  if (!record.error) return undefined;
  const where = [record.recordPath && esc(record.recordPath), record.error.line && `line ${record.error.line}`, record.error.field && esc(record.error.field)].filter(Boolean).join(', ');
  const lines = [`> **Error** (${where}): ${esc(record.error.message)}`];
  if (record.error.hint) lines.push(`>\n> **How to fix:** ${esc(record.error.hint)}`);
  return lines.join('\n');
}

function stagesLine(record: RecordReport): string | undefined {
  if (record.stages.length === 0) return undefined;
  const ranAt = record.code?.ranAt ? ` · code of the recorded commit ${shortHash(record.code.ranAt)}` : '';
  return `<sub>${esc(record.recordPath)}${ranAt} · ${record.stages.map((stage) => `${stage.stage} ${formatDuration(stage.durationMs)}`).join(' · ')}</sub>`;
}

function recordSection(record: RecordReport, options: RenderOptions): string {
  const headline = `### ${VERDICT_EMOJI[record.verdict]} ${esc(record.name)}: ${VERDICT_LABEL[record.verdict]}${driftKindLabel(record)}`;
  const sections = [
    headline,
    errorSection(record) ?? explainRecord(record, esc),
    warningsSection(record),
    runsSection(record, options),
    metricsSection(record, options),
    thresholdsSection(record, options),
    artifactsSection(record, options),
    causesSection(record, options),
    inputsSection(record, options),
    environmentSection(record.environment, options),
    runSection(record.run, options),
    stagesLine(record),
    updateSection(record, options),
  ];
  return sections.filter((section): section is string => Boolean(section)).join('\n\n');
}

function countLine(verdicts: Verdict[]): string {
  const counts = (['reproduced', 'within-tolerance', 'drift', 'error', 'unaffected'] as const)
    .map((verdict) => [verdict, verdicts.filter((v) => v === verdict).length] as const)
    .filter(([, count]) => count > 0)
    .map(([verdict, count]) => `${count} ${VERDICT_LABEL[verdict]}`);
  // A pull request that deleted its only record checks none.
  return counts.length > 0 ? `${plural(verdicts.length, 'record')}: ${counts.join(', ')}` : 'No record was checked.';
}

/** Whether some table of the record is cut at `limit` rows even in full detail (a record with thousands of metrics). */
function hasLongTable(record: RecordReport, limit: number): boolean {
  const packages = record.environment?.packages;
  const packageRows = packages ? packages.changed.length + packages.added.length + packages.removed.length : 0;
  return [record.metrics.length, record.thresholds.length, record.artifacts.length, record.inputs.length, packageRows].some((rows) => rows > limit);
}

/** The records not rerun (`rerun: affected`), in one collapsed line: nothing they read changed. */
function unaffectedLine(report: Report): string | undefined {
  const unaffected = report.records.filter((record) => record.verdict === 'unaffected');
  if (unaffected.length === 0) return undefined;
  const names = unaffected.map((record) => `${esc(record.name)} (${plural(record.affected?.inputs ?? 0, 'input')})`);
  return details(`${VERDICT_EMOJI.unaffected} ${plural(unaffected.length, 'record')} not rerun: none of ${unaffected.length === 1 ? 'its' : 'their'} inputs changed since ${unaffected.length === 1 ? 'it was' : 'they were'} recorded`, names.join(' · '));
}

export function renderMarkdown(report: Report, options: RenderOptions = {}): string {
  const verdict = worstVerdict(report.records.map((record) => record.verdict));
  const head = `## ${VERDICT_EMOJI[verdict]} ${TOOL_NAME}: ${VERDICT_LABEL[verdict]}\n\n${countLine(report.records.map((record) => record.verdict))}`;
  const cut = (options.detail ?? 'full') !== 'full' || options.maxRows !== undefined || report.records.some((record) => hasLongTable(record, rowLimit(options)));
  const hint = cut && options.fullReportHint ? `> ✂️ Some details were left out to fit. ${esc(options.fullReportHint)}` : undefined;
  const loosened = loosenedMarkdown(report, esc, options.maxRows);
  const rerun = report.records.filter((record) => record.verdict !== 'unaffected');
  return `${[head, loosened, hint, ...rerun.map((record) => recordSection(record, options)), unaffectedLine(report)].filter(Boolean).join('\n\n')}\n`;
}
