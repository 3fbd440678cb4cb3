import { z } from 'zod';
import { RunRecordSchema } from './schema.js';

export const RUN_RECORD_SCHEMA_ID = 'https://github.com/repro-gate/repro-gate/schema/run-record.v1.json';

/** The JSON Schema editors use to validate run.yaml, generated from the same zod schema verify uses. */
export function runRecordJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(RunRecordSchema, { target: 'draft-2020-12', unrepresentable: 'any', io: 'input' }),
    $id: RUN_RECORD_SCHEMA_ID,
    title: 'repro-gate run record, version 1',
  };
}
