import { EVIDENCE_ARTIFACT_PREFIX } from '../constants.js';
import type { GitHubClient } from '../publish/octokit.js';
import type { Repository } from './base-run.js';

export interface EvidenceArtifact {
  id: number;
  name: string;
  sizeInBytes: number;
  /** `sha256:<hex>` of the zip as uploaded, when GitHub recorded one (artifacts v4). */
  digest: string | undefined;
}

const ARTIFACTS_PER_PAGE = 100;

/**
 * Names as the action writes them; the name becomes a folder name, so anything else (another tool's artifact, or
 * a name with a path in it) is not ours to unpack.
 */
function isEvidenceName(name: string): boolean {
  return name.startsWith(`${EVIDENCE_ARTIFACT_PREFIX}-`) && /^[A-Za-z0-9._-]+$/.test(name);
}

/** The run's repro-gate evidence artifacts that can still be downloaded, over every page of the listing. */
export async function evidenceArtifactsOf(octokit: GitHubClient, repository: Repository, runId: number): Promise<EvidenceArtifact[]> {
  const artifacts = await octokit.paginate(octokit.rest.actions.listWorkflowRunArtifacts, { ...repository, run_id: runId, per_page: ARTIFACTS_PER_PAGE });
  return artifacts
    .filter((artifact) => !artifact.expired && isEvidenceName(artifact.name))
    .map((artifact) => ({ id: artifact.id, name: artifact.name, sizeInBytes: artifact.size_in_bytes, digest: artifact.digest ?? undefined }));
}
