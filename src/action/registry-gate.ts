import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as core from '@actions/core';
import * as github from '@actions/github';
import { baseBranchOf, baseCommitOf } from '../baseline/base-branch.js';
import { REGISTRY_MARKDOWN_NAME, SUMMARY_MAX_BYTES } from '../constants.js';
import { verifyRecords } from '../pipeline/verify.js';
import { uploadEvidence } from '../publish/evidence.js';
import { writeJobSummary } from '../publish/summary.js';
import { gateRegistry } from '../registry/gate.js';
import { registryPasses, renderRegistryMarkdown } from '../registry/report.js';
import { fitText } from '../report/fit.js';
import { actionsHooks } from './actions-hooks.js';
import type { ActionInputs } from './inputs.js';
import { evidenceArtifactName, publishStickyComment } from './publish.js';
import type { VerifyOptions } from '../pipeline/verify-record.js';

// `mode: registry`: the promotion gate. On a pull request the registry is checked against the base commit and every
// promotion it appends is judged by the base's policy with its version's record rerun; elsewhere (a push) the registry alone.

export async function runRegistryGate(inputs: ActionInputs, verifyOptions: VerifyOptions): Promise<void> {
  const { eventName, payload } = github.context;
  const baseRef = baseCommitOf(eventName, payload);
  const view = await core.group(`registry ${inputs.registry}`, () =>
    gateRegistry({
      registryDir: inputs.registry,
      shownDir: inputs.registry.replace(/\/+$/, ''),
      baseRef,
      baseLabel: baseRef === undefined ? undefined : (baseBranchOf(eventName, payload) ?? baseRef),
      // At the recorded commit: the version is what that commit's code built, whatever the pull request's code is.
      rerun: async (recordFile) => (await verifyRecords([recordFile], { ...verifyOptions, hooks: actionsHooks(), atRecorded: true, affectedOnly: false })).records[0]!,
    }),
  );
  const markdown = renderRegistryMarkdown(view);
  const passes = registryPasses(view);
  // The reruns' logs are in the evidence folder already; the verdict goes beside them.
  await writeFile(path.join(verifyOptions.evidenceDir, REGISTRY_MARKDOWN_NAME), `${markdown}\n`);
  const artifactName = evidenceArtifactName('registry');
  const uploaded = inputs['upload-evidence'] && (await uploadEvidence({ name: artifactName, rootDirectory: verifyOptions.evidenceDir }));
  const footer = uploaded ? `\n\n<sub>Evidence (${REGISTRY_MARKDOWN_NAME}, the reruns' logs): the \`${artifactName}\` artifact of this run.</sub>\n` : '';
  const whole = uploaded ? `The whole of it is ${REGISTRY_MARKDOWN_NAME} in the \`${artifactName}\` artifact.` : 'Run `repro-gate registry check` for the whole of it.';
  await writeJobSummary(fitText(markdown, SUMMARY_MAX_BYTES - Buffer.byteLength(footer), 'bytes', whole) + footer);
  const commentUrl = await publishStickyComment(inputs, (maxChars) => fitText(markdown, maxChars, 'chars', `This run's job summary has more. ${whole}`), inputs.comment === 'always' || !passes);
  core.setOutput('registry', passes ? 'pass' : 'fail');
  core.setOutput('comment-url', commentUrl ?? '');
  if (!passes && inputs['fail-on'] !== 'never') {
    const refused = view.promotions.filter((promotion) => !promotion.passes).map((promotion) => `${promotion.model} ${promotion.alias} → ${promotion.to}`);
    core.setFailed(`repro-gate: the model registry fails${refused.length > 0 ? ` (refused: ${refused.join(', ')})` : ''}${view.problems.length > 0 ? `; ${view.problems.length} problem(s)` : ''}`);
  }
}
