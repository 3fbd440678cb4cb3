import type { PipelineHooks } from '../pipeline/hooks.js';

/** Progress and the rerun's live output go to stderr, so stdout carries only the summary. */
export function terminalHooks(stderr: NodeJS.WritableStream): PipelineHooks {
  const inPlace = 'isTTY' in stderr && Boolean(stderr.isTTY);
  return {
    info: (line) => stderr.write(`  ${line}\n`),
    // In a terminal, one line redrawn (carriage return, erase line) and ended by the final one.
    progress: (line, final) => stderr.write(inPlace ? `\r\u001b[2K  ${line}${final ? '\n' : ''}` : `  ${line}\n`),
    updatesInPlace: inPlace,
    group: async (title, run) => {
      stderr.write(`── ${title}\n`);
      return run();
    },
    output: (chunk) => stderr.write(chunk),
  };
}
