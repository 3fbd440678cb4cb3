import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { runRecordJsonSchema } from '../../src/record/json-schema.js';

const SCHEMA_FILE = new URL('../../schema/run-record.v1.json', import.meta.url);
const rendered = `${JSON.stringify(runRecordJsonSchema(), null, 2)}\n`;

describe('schema/run-record.v1.json', () => {
  it('matches the zod schema (regenerate with `npm run schema`)', async () => {
    if (process.env.UPDATE_SCHEMA === '1') await writeFile(SCHEMA_FILE, rendered);
    expect(await readFile(SCHEMA_FILE, 'utf8')).toBe(rendered);
  });

  it('rejects unknown keys and lists every field of the public format', () => {
    const schema = runRecordJsonSchema() as { additionalProperties: unknown; properties: Record<string, unknown>; required: string[] };
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties).sort()).toEqual(
      ['apply_seeds', 'artifacts', 'code', 'command', 'config', 'data', 'determinism', 'environment', 'metrics', 'name', 'seeds', 'thresholds', 'timeout', 'tolerance', 'version', 'workdir'].sort(),
    );
    expect(schema.required.sort()).toEqual(['command', 'name', 'version']);
  });
});
