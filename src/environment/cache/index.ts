// The venv cache's housekeeping: how big it is, what was used when, and what to evict.
export { type CacheBound, cacheBound } from './bound.js';
export { enforceCacheBound, IN_USE_GRACE_MS } from './enforce-bound.js';
export { type CacheInventory, readCacheInventory, type VenvEntry } from './inventory.js';
export { markUsed } from './last-used.js';
export { keepLockFresh, tryLock, waitForLock } from './locks.js';
export { type PruneOptions, type PruneResult, pruneCache } from './prune.js';
export { formatSize, parseSize } from './size-notation.js';
export { discardChangedFolders, fingerprintFolder, type ProtectedCache } from './protected-folders.js';
