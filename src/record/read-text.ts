import { createHash } from 'node:crypto';
import { RECORD_MAX_BYTES } from '../constants.js';
import { formatSize } from '../environment/cache/size-notation.js';
import { UserError } from '../errors.js';
import { FileTooLargeError, NotARegularFileError, readFileWithin } from '../read-bounded.js';

/** Where the first byte that is not UTF-8 sits, or -1. The rules are the WHATWG decoder's: no overlongs, surrogates or code points past U+10FFFF. */
export function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i += 1;
      continue;
    }
    // The allowed range of the second byte is narrower for some leads: that is what rules out overlongs and surrogates.
    let continuation: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) continuation = 1;
    else if (lead >= 0xe0 && lead <= 0xef) {
      continuation = 2;
      if (lead === 0xe0) low = 0xa0;
      if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      continuation = 3;
      if (lead === 0xf0) low = 0x90;
      if (lead === 0xf4) high = 0x8f;
    } else return i;
    for (let k = 1; k <= continuation; k++) {
      const byte = bytes[i + k];
      if (byte === undefined || byte < (k === 1 ? low : 0x80) || byte > (k === 1 ? high : 0xbf)) return i;
    }
    i += continuation + 1;
  }
  return -1;
}

function lineAtOffset(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line += 1;
  return line;
}

/**
 * The record file's text: refused when it is not a regular file, over RECORD_MAX_BYTES (checked before reading) or not
 * UTF-8 (a record in another encoding would otherwise load with replacement characters in its names and commands).
 */
export async function readRecordText(file: string, displayPath: string): Promise<string> {
  return (await readRecordFile(file, displayPath)).text;
}

/** The record file's text, and the sha256 of its bytes (what a verification statement names as its policy). */
export async function readRecordFile(file: string, displayPath: string): Promise<{ text: string; sha256: string }> {
  let bytes: Buffer;
  try {
    bytes = await readFileWithin(file, RECORD_MAX_BYTES);
  } catch (error) {
    if (error instanceof FileTooLargeError) {
      throw new UserError(
        `run record is ${formatSize(error.size)} (${error.size} bytes), over the ${formatSize(error.limit)} limit for a run record`,
        'A run record holds hashes and metric values, not data: keep large values in the metrics file or the data it points to.',
        { file: displayPath },
      );
    }
    if (error instanceof NotARegularFileError) {
      throw new UserError('run record is not a regular file', 'Pass the path of a run.yaml file.', { file: displayPath });
    }
    throw new UserError('run record not found or not readable', 'Pass the path of a run.yaml, or create one with `repro-gate record`.', { file: displayPath });
  }
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), sha256: createHash('sha256').update(bytes).digest('hex') };
  } catch {
    const offset = firstInvalidUtf8Offset(bytes);
    const line = lineAtOffset(bytes, offset);
    throw new UserError(
      `run record is not valid UTF-8: byte 0x${bytes[offset]?.toString(16).padStart(2, '0')} at byte offset ${offset} (line ${line})`,
      'Save the record as UTF-8 (e.g. `iconv -f latin1 -t utf-8 run.yaml`), or remove the stray byte.',
      { file: displayPath, line },
    );
  }
}
