import { ExitCode } from './constants.js';

export interface ErrorLocation {
  /** File the problem is in, as the user would type it. */
  file?: string;
  /** Dotted field path inside a record, e.g. `artifacts[0].path`. */
  field?: string;
  /** 1-based line in `file`. */
  line?: number;
}

/**
 * A problem the user can fix: one clear message (what and where) plus a hint (how to fix it).
 * Anything else that escapes is a bug and is reported as such, never as a stack trace.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    readonly location: ErrorLocation = {},
    readonly exitCode: number = ExitCode.Error,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

export function locationPrefix(location: ErrorLocation): string {
  const where = [location.file, location.line].filter((part) => part !== undefined).join(':');
  const field = location.field ? `${where ? ' ' : ''}${location.field}` : '';
  return where || field ? `${where}${field}: ` : '';
}

/** Renders any thrown value as the one-line message users see. */
export function describeError(error: unknown): { message: string; hint?: string } {
  if (error instanceof UserError) {
    return { message: `${locationPrefix(error.location)}${error.message}`, hint: error.hint };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { message: `internal error: ${message}`, hint: 'This is a bug in repro-gate; please report it with the command you ran.' };
}
