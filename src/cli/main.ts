import { ExitCode, TOOL_NAME, TOOL_VERSION } from '../constants.js';
import { describeError, UserError } from '../errors.js';
import { runDiscoverCommand } from './discover-command.js';
import { runMergeCommand } from './merge-command.js';
import { runRecordCommand } from './record-command.js';
import { USAGE } from './usage.js';
import { runVerifyCommand } from './verify-command.js';

/** Runs one CLI invocation and returns its exit status. Prints one clear message on failure, never a stack trace. */
export async function main(argv: string[], stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'verify':
        return await runVerifyCommand(rest, stdout, stderr);
      case 'record':
        return await runRecordCommand(rest, stdout, stderr);
      case 'merge':
        return await runMergeCommand(rest, stdout);
      case 'discover':
        return await runDiscoverCommand(rest, stdout, stderr);
      case '--version':
        stdout.write(`${TOOL_VERSION}\n`);
        return ExitCode.Ok;
      case '--help':
      case '-h':
        stdout.write(`${USAGE}\n`);
        return ExitCode.Ok;
      default:
        throw new UserError(command ? `unknown command "${command}"` : 'no command given', USAGE);
    }
  } catch (error) {
    const { message, hint } = describeError(error);
    stderr.write(`${TOOL_NAME}: error: ${message}\n${hint ? `${hint}\n` : ''}`);
    return error instanceof UserError ? error.exitCode : ExitCode.Error;
  }
}
