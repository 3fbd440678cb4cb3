import { describe, expect, it } from 'vitest';
import { cacheBound, formatSize, parseSize } from '../../src/environment/cache/index.js';
import { UserError } from '../../src/errors.js';

describe('cache size notation', () => {
  it.each([
    ['10GiB', 10 * 1024 ** 3],
    ['500MiB', 500 * 1024 ** 2],
    ['2GB', 2e9],
    ['1.5 GiB', 1.5 * 1024 ** 3],
    ['64kib', 64 * 1024],
    ['1TB', 1e12],
    ['123456', 123456],
    ['0', 0],
    ['  7 B ', 7],
  ])('reads %j as %d bytes', (text, bytes) => {
    expect(parseSize(text, 'REPRO_GATE_CACHE_MAX_SIZE')).toBe(bytes);
  });

  it.each(['', 'ten gigs', '10 GiBs', '-1GiB', '1.5', '10G', 'GiB', '1e9'])('refuses %j, naming where it came from and how to write one', (text) => {
    let error: unknown;
    try {
      parseSize(text, '--max-size');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toBe(`--max-size "${text}" is not a size`);
    expect((error as UserError).hint).toMatch(/10GiB, 500MiB, 2GB/);
  });

  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.00 KiB'],
    [26 * 1024 ** 2, '26.0 MiB'],
    [1.4 * 1024 ** 3, '1.40 GiB'],
    [10 * 1024 ** 3, '10.0 GiB'],
    [300 * 1024 ** 2, '300 MiB'],
  ])('writes %d bytes as %s', (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
  });

  it('bounds the cache at 10 GiB unless REPRO_GATE_CACHE_MAX_SIZE says otherwise', () => {
    expect(cacheBound({})).toEqual({ bytes: 10 * 1024 ** 3, source: 'default' });
    expect(cacheBound({ REPRO_GATE_CACHE_MAX_SIZE: '' })).toEqual({ bytes: 10 * 1024 ** 3, source: 'default' });
    expect(cacheBound({ REPRO_GATE_CACHE_MAX_SIZE: '2GB' })).toEqual({ bytes: 2e9, source: 'REPRO_GATE_CACHE_MAX_SIZE' });
    expect(() => cacheBound({ REPRO_GATE_CACHE_MAX_SIZE: 'lots' })).toThrow('REPRO_GATE_CACHE_MAX_SIZE "lots" is not a size');
  });
});
