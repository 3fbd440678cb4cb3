import { DEFAULT_METRICS_MAX_SIZE, METRICS_MAX_SIZE_ENV } from '../constants.js';
import { formatSize, parseSize } from '../environment/cache/size-notation.js';
import { type ErrorLocation, UserError } from '../errors.js';
import { FileTooLargeError, readFileWithin } from '../read-bounded.js';

/** The largest metrics file read: REPRO_GATE_METRICS_MAX_SIZE, else 64 MiB. A bad value is an error, not a silent default. */
export function metricsSizeCap(env: NodeJS.ProcessEnv = process.env): { bytes: number; source: string } {
  const text = env[METRICS_MAX_SIZE_ENV];
  if (text === undefined || text.trim() === '') return { bytes: parseSize(DEFAULT_METRICS_MAX_SIZE, 'the default'), source: 'the default' };
  return { bytes: parseSize(text, METRICS_MAX_SIZE_ENV), source: METRICS_MAX_SIZE_ENV };
}

function tooLarge(size: number, displayPath: string, location: ErrorLocation): UserError {
  const cap = metricsSizeCap();
  return new UserError(
    `metrics file ${displayPath} is ${formatSize(size)} (${size} bytes), over the ${formatSize(cap.bytes)} limit for metrics files (${cap.source})`,
    `Write fewer metrics (the ones that tell whether the model reproduced, not every internal value), or raise the limit with ${METRICS_MAX_SIZE_ENV}, e.g. ${METRICS_MAX_SIZE_ENV}=256MiB.`,
    location,
  );
}

/** For a caller that has the file open already: its size (from fstat), checked before the file is read. */
export function assertMetricsSizeWithin(size: number, displayPath: string, location: ErrorLocation): void {
  if (size > metricsSizeCap().bytes) throw tooLarge(size, displayPath, location);
}

/**
 * A metrics file's text, refused before it is read when it is over the cap (the command writes it, so its size is
 * not ours to trust: a 1 GB file would otherwise be parsed whole). Errors other than the size (ENOENT: the command
 * wrote none) are thrown as they are, for the caller to word.
 */
export async function readMetricsText(file: string, displayPath: string, location: ErrorLocation): Promise<string> {
  try {
    return (await readFileWithin(file, metricsSizeCap().bytes)).toString('utf8');
  } catch (error) {
    if (!(error instanceof FileTooLargeError)) throw error;
    throw tooLarge(error.size, displayPath, location);
  }
}
