import * as cache from '@actions/cache';
import * as core from '@actions/core';
import type { VenvCache } from '../environment/index.js';

// The Actions cache behind the local venv folder. The cache is an accelerator: every failure is a warning,
// and a missing service (local runs, GHES, no runtime token) only rebuilds the venv.

const UNAVAILABLE =
  'Venv cache skipped: the Actions cache service is not available on this runner (no ACTIONS_RESULTS_URL, e.g. GHES or a local run). The venv is rebuilt on every run.';

export class ActionsVenvCache implements VenvCache {
  private warnedUnavailable = false;

  private available(): boolean {
    if (cache.isFeatureAvailable()) return true;
    if (!this.warnedUnavailable) core.warning(UNAVAILABLE);
    this.warnedUnavailable = true;
    return false;
  }

  async restore(key: string, dir: string): Promise<boolean> {
    if (!this.available()) return false;
    try {
      return (await cache.restoreCache([dir], key)) === key;
    } catch (error) {
      core.warning(`Venv cache restore failed for ${key}: ${(error as Error).message}`);
      return false;
    }
  }

  async save(key: string, dir: string): Promise<void> {
    if (!this.available()) return;
    try {
      await cache.saveCache([dir], key);
    } catch (error) {
      core.warning(`Venv cache save failed for ${key}: ${(error as Error).message}`);
    }
  }
}
