import { describeError } from '../errors.js';
import { type LoadedRecord, loadRecord } from '../record/load.js';
import type { RecordReport } from '../report/schema.js';
import { decideRecord, type MeasuredVerification, type VerifyOptions } from './verify-record.js';

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
    const decided = decide && (await decideRecord(record, decide));
    if (decided?.report.verdict === 'unaffected') {
      discovery.unaffected.push(decided.report);
      continue;
    }
    if (decided?.report.affected) decide?.hooks.info(`${decided.report.name}: ${decided.report.affected.reason}`);
    const loaded = await loadedFor(record, decided, discovery.problems);
    discovery.include.push(loaded ? { record, name: loaded.record.name, python: loaded.record.environment?.python ?? '3.x' } : { record, name: record, python: '3.x' });
  }
  return discovery;
}

/** The record for its matrix entry: the one its decision loaded, else loaded here; undefined, its problem noted, when it does not load. */
async function loadedFor(record: string, decided: MeasuredVerification | undefined, problems: string[]): Promise<LoadedRecord | undefined> {
  if (decided) {
    if (!decided.loaded) problems.push(decided.report.error?.message ?? `${record} does not load`);
    return decided.loaded;
  }
  try {
    return await loadRecord(record);
  } catch (error) {
    problems.push(describeError(error).message);
    return undefined;
  }
}
