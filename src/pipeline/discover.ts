import { describeError } from '../errors.js';
import { loadRecord } from '../record/load.js';
import type { RecordReport } from '../report/schema.js';
import { decideRecord, type VerifyOptions } from './verify-record.js';

export interface MatrixEntry {
  record: string;
  name: string;
  /** The record's environment.python; `3.x` (latest) when it pins none. */
  python: string;
}

export interface Discovery {
  /** The records to rerun, one matrix entry each. */
  include: MatrixEntry[];
  /** With `decide`: the records none of whose inputs changed, reported `unaffected` here instead of rerun. */
  unaffected: RecordReport[];
  problems: string[];
}

/**
 * One matrix entry per record, for the reusable workflow's fan-out. A record that does not load still gets its
 * entry, so its own job reports the error where the user looks for it. With `decide` (`rerun: affected`), a record
 * none of whose inputs changed gets no entry: its `unaffected` report stands for it. Records are decided one after
 * another, as verify checks them, so hashing many records' data never runs all at once.
 */
export async function discoverRecords(recordFiles: string[], decide?: VerifyOptions): Promise<Discovery> {
  const discovery: Discovery = { include: [], unaffected: [], problems: [] };
  for (const record of recordFiles) {
    let entry: MatrixEntry;
    try {
      const loaded = await loadRecord(record);
      entry = { record, name: loaded.record.name, python: loaded.record.environment?.python ?? '3.x' };
    } catch (error) {
      discovery.problems.push(describeError(error).message);
      discovery.include.push({ record, name: record, python: '3.x' });
      continue;
    }
    const decided = decide && (await decideRecord(record, decide));
    if (decided?.affected) decide?.hooks.info(`${decided.name}: ${decided.affected.reason}`);
    if (decided?.verdict === 'unaffected') discovery.unaffected.push(decided);
    else discovery.include.push(entry);
  }
  return discovery;
}
