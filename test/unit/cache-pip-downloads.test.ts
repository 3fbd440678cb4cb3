import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pipEnvironment } from '../../src/environment/pip.js';

describe("pip's download cache for venv builds", () => {
  it('lives in the repro-gate cache folder by default', () => {
    const env = pipEnvironment('/cache/root', { PATH: '/usr/bin' });
    expect(env.PIP_CACHE_DIR).toBe(path.join('/cache/root', 'pip'));
    expect(env.PATH).toBe('/usr/bin');
  });

  it('respects a PIP_CACHE_DIR the user set, and treats an empty one as unset', () => {
    expect(pipEnvironment('/cache/root', { PIP_CACHE_DIR: '/shared/pip' }).PIP_CACHE_DIR).toBe('/shared/pip');
    expect(pipEnvironment('/cache/root', { PIP_CACHE_DIR: '' }).PIP_CACHE_DIR).toBe(path.join('/cache/root', 'pip'));
  });

  it('keeps secrets out of pip, which may run a setup.py from the pull request', () => {
    const env = pipEnvironment('/cache/root', { GITHUB_TOKEN: 'secret', 'INPUT_GITHUB-TOKEN': 'secret', HOME: '/home/u' });
    expect(env.GITHUB_TOKEN).toBeUndefined();
    expect(env['INPUT_GITHUB-TOKEN']).toBeUndefined();
    expect(env.HOME).toBe('/home/u');
  });
});
