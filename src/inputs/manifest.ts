import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { UserError } from '../errors.js';

// The data manifest ML teams already write next to their datasets. Extra keys are theirs to add, so it is not strict.
export const DataManifestSchema = z.looseObject({
  dataset_name: z.string().optional(),
  storage_uri: z.string().optional(),
  record_count: z.number().int().nonnegative().optional(),
  schema_hash: z.string().optional(),
  content_hash: z
    .string()
    .regex(/^sha256:[0-9a-f]{64}$/, 'must be "sha256:" followed by 64 lowercase hex characters')
    .optional(),
  created_at: z.string().optional(),
});
export type DataManifest = z.infer<typeof DataManifestSchema>;

export async function readManifest(file: string, displayPath: string): Promise<DataManifest> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : `not valid JSON (${(error as Error).message})`;
    throw new UserError(`data manifest ${displayPath} is ${reason}`, 'Fix or remove the manifest entry in the run record.', {
      file: displayPath,
    });
  }
  const result = DataManifestSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new UserError(
      `data manifest ${displayPath}: ${issue?.path.join('.') || '(top level)'} ${issue?.message}`,
      'A manifest is a JSON object with dataset_name, storage_uri, record_count, schema_hash, content_hash ("sha256:<hex>") and created_at.',
      { file: displayPath },
    );
  }
  return result.data;
}

/** Row counts the way the manifest defines them: CSV lines after the header, JSONL non-empty lines. */
export type RowFormat = 'csv' | 'jsonl';

export function rowFormatOf(file: string): RowFormat | undefined {
  const extension = path.extname(file).toLowerCase();
  if (extension === '.csv') return 'csv';
  if (extension === '.jsonl' || extension === '.ndjson') return 'jsonl';
  return undefined;
}

/** Counts rows in one streaming pass, so multi-GB files use constant memory. */
export async function countRows(file: string, format: RowFormat): Promise<number> {
  let nonEmptyLines = 0;
  let lineHasContent = false;
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    for (const byte of chunk) {
      if (byte === 0x0a) {
        if (lineHasContent) nonEmptyLines += 1;
        lineHasContent = false;
      } else if (byte !== 0x0d && (format === 'csv' || (byte !== 0x20 && byte !== 0x09))) {
        lineHasContent = true;
      }
    }
  }
  if (lineHasContent) nonEmptyLines += 1;
  return format === 'csv' ? Math.max(0, nonEmptyLines - 1) : nonEmptyLines;
}
