import { describeError } from '../errors.js';
import { loadRecord } from '../record/load.js';

export interface MatrixEntry {
  record: string;
  name: string;
  /** The record's environment.python; `3.x` (latest) when it pins none. */
  python: string;
}

/**
 * One matrix entry per record, for the reusable workflow's fan-out. A record that does not load still gets
 * its entry, so its own job reports the error where the user looks for it.
 */
export async function discoverRecords(recordFiles: string[]): Promise<{ include: MatrixEntry[]; problems: string[] }> {
  const problems: string[] = [];
  const include = await Promise.all(
    recordFiles.map(async (record): Promise<MatrixEntry> => {
      try {
        const loaded = await loadRecord(record);
        return { record, name: loaded.record.name, python: loaded.record.environment?.python ?? '3.x' };
      } catch (error) {
        problems.push(describeError(error).message);
        return { record, name: record, python: '3.x' };
      }
    }),
  );
  return { include, problems };
}
