import { renderMarkdown } from '../report/markdown.js';
import { type Report, ReportSchema } from '../report/schema.js';
import { writeFileAtomic } from '../write-file-atomic.js';

export interface ReportFiles {
  json?: string;
  markdown?: string;
}

/** Writes the machine-readable and the PR-ready report; the JSON is checked against its own schema first. */
export async function writeReports(report: Report, files: ReportFiles): Promise<void> {
  const checked = ReportSchema.parse(report);
  await Promise.all([
    files.json ? writeFileAtomic(files.json, `${JSON.stringify(checked, null, 2)}\n`) : undefined,
    files.markdown ? writeFileAtomic(files.markdown, renderMarkdown(checked)) : undefined,
  ]);
}
