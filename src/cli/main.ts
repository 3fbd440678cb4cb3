import { ExitCode, TOOL_NAME, TOOL_VERSION } from '../constants.js';
import { describeError, UserError } from '../errors.js';
import { runCacheCommand } from './cache-command.js';
import { runDiscoverCommand } from './discover-command.js';
import { runMergeCommand } from './merge-command.js';
import { helpRequested } from './parse-args.js';
import { runRecordCommand } from './record-command.js';
import { runRegistryCommand } from './registry-command.js';
import { COMMAND_USAGE, isCommandName, USAGE } from './usage.js';
import { runVerifyCommand } from './verify-command.js';

/** Runs one CLI invocation and returns its exit status. Prints one clear message on failure, never a stack trace. */
export async function main(argv: string[], stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Promise<number> {
  const [command, ...rest] = argv;
  try {
    // Answered here, before any command parses its options, so every command gets --help the same way.
    if (isCommandName(command) && helpRequested(rest)) {
      stdout.write(`${COMMAND_USAGE[command]}\n`);
      return ExitCode.Ok;
    }
    switch (command) {
      case 'verify':
        return await runVerifyCommand(rest, stdout, stderr);
      case 'record':
        return await runRecordCommand(rest, stdout, stderr);
      case 'merge':
        return await runMergeCommand(rest, stdout);
      case 'discover':
        return await runDiscoverCommand(rest, stdout, stderr);
      case 'cache':
        return await runCacheCommand(rest, stdout);
      case 'registry':
        return await runRegistryCommand(rest, stdout, stderr);
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
