import { UserError } from '../errors.js';
import { exitCodeFor } from '../pipeline/exit-code.js';
import { mergeReportFiles } from '../pipeline/merge.js';
import { writeReports } from '../pipeline/write-reports.js';
import { renderTerminal } from '../report/terminal.js';
import { parseCommandLine } from './parse-args.js';
import { USAGE_HINT } from './usage.js';

/** `repro-gate merge`: the CLI twin of the action's comment mode (validate untrusted reports, merge, re-render). */
export async function runMergeCommand(args: string[], stdout: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    json: { type: 'string' },
    markdown: { type: 'string' },
    expect: { type: 'string', multiple: true },
  });
  if (positionals.length === 0) throw new UserError('merge needs report files or folders', USAGE_HINT);
  const report = await mergeReportFiles(positionals, values.expect ?? []);
  await writeReports(report, { json: values.json, markdown: values.markdown });
  stdout.write(`${renderTerminal(report, { color: false })}\n`);
  return exitCodeFor(report.verdict);
}
