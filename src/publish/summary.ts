import * as core from '@actions/core';

/** The job summary is a convenience: a runner without GITHUB_STEP_SUMMARY gets a warning, not a failed step. */
export async function writeJobSummary(markdown: string): Promise<void> {
  try {
    await core.summary.addRaw(markdown, true).write();
  } catch (error) {
    core.warning(`Job summary not written: ${(error as Error).message}`);
  }
}
