import { UserError } from '../errors.js';
import { exitCodeFor } from '../pipeline/exit-code.js';
import { loadReports } from '../pipeline/load-reports.js';
import { writeReports } from '../pipeline/write-reports.js';
import { mergeReports } from '../report/merge.js';
import { renderTerminal } from '../report/terminal.js';
import { parseCommandLine } from './parse-args.js';
import { USAGE_HINT } from './usage.js';

/** `repro-gate merge`: the CLI twin of the action's comment mode (validate untrusted reports, merge, re-render). */
export async function runMergeCommand(args: string[], stdout: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parseCommandLine(args, { json: { type: 'string' }, markdown: { type: 'string' } });
  if (positionals.length === 0) throw new UserError('merge needs report files or folders', USAGE_HINT);
  const report = mergeReports(await loadReports(positionals), new Date().toISOString());
  await writeReports(report, { json: values.json, markdown: values.markdown });
  stdout.write(`${renderTerminal(report, { color: false })}\n`);
  return exitCodeFor(report.verdict);
}
