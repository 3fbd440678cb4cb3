import { ExitCode } from '../constants.js';
import { UserError } from '../errors.js';
import { discoverRecords } from '../pipeline/discover.js';
import { USAGE_HINT } from './usage.js';

/** `repro-gate discover`: the job matrix the reusable workflow fans out over, as JSON on stdout. */
export async function runDiscoverCommand(args: string[], stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Promise<number> {
  if (args.length === 0) throw new UserError('discover needs run record paths', USAGE_HINT);
  const { include, problems } = await discoverRecords(args);
  for (const problem of problems) stderr.write(`warning: ${problem}\n`);
  stdout.write(`${JSON.stringify({ include })}\n`);
  return ExitCode.Ok;
}
