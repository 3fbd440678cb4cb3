// The registry's file names: the seed's layout (models/<model>/<version>/{…, checksum.txt}) and the per-model files.

export const DEFAULT_REGISTRY_DIR = 'models';
/** `sha256sum` lines for every file of a version but itself. */
export const CHECKSUM_FILE = 'checksum.txt';
export const VERSION_RECORD_FILE = 'run.yaml';
export const VERSION_METRICS_FILE = 'metrics.json';
/** What the version was built from: the record's path and commit, its data and config with their sha256. */
export const VERSION_MANIFEST_FILE = 'data_manifest.json';
export const PROMOTION_LOG_FILE = 'promotions.jsonl';
export const POLICY_FILE = 'policy.yaml';
/** The aliases as a mapping, for checkouts that cannot hold symlinks (Windows); otherwise aliases are symlinks. */
export const ALIASES_FILE = 'aliases.yaml';
/** Files of a model's folder that are neither versions nor aliases. */
export const MODEL_FILES: readonly string[] = [PROMOTION_LOG_FILE, POLICY_FILE, ALIASES_FILE];
/** Names publish writes into every version, besides the artifacts. */
export const VERSION_METADATA_FILES: readonly string[] = [VERSION_RECORD_FILE, VERSION_METRICS_FILE, VERSION_MANIFEST_FILE, CHECKSUM_FILE];

export const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
export const ALIAS_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;
