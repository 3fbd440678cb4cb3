import { randomUUID } from 'node:crypto';
import * as core from '@actions/core';
import type { PipelineHooks } from '../pipeline/hooks.js';

/**
 * Stages become collapsible log groups with their duration. The rerun's output is the PR's code talking,
 * so workflow commands are switched off while it streams: it cannot forge annotations or groups.
 */
export function actionsHooks(): PipelineHooks {
  let resumeToken: string | undefined;
  return {
    info: (line) => core.info(line),
    progress: (line) => core.info(line),
    group: (title, run) =>
      core.group(title, async () => {
        const started = performance.now();
        try {
          return await run();
        } finally {
          if (resumeToken) {
            process.stdout.write(`\n::${resumeToken}::\n`);
            resumeToken = undefined;
          }
          core.info(`${title} took ${((performance.now() - started) / 1000).toFixed(1)} s`);
        }
      }),
    output: (chunk) => {
      if (!resumeToken) {
        resumeToken = randomUUID();
        process.stdout.write(`::stop-commands::${resumeToken}\n`);
      }
      process.stdout.write(chunk);
    },
  };
}
