import type { PipelineHooks } from '../pipeline/hooks.js';

/** Progress and the rerun's live output go to stderr, so stdout carries only the summary. */
export function terminalHooks(stderr: NodeJS.WritableStream): PipelineHooks {
  return {
    info: (line) => stderr.write(`  ${line}\n`),
    group: async (title, run) => {
      stderr.write(`── ${title}\n`);
      return run();
    },
    output: (chunk) => stderr.write(chunk),
  };
}
