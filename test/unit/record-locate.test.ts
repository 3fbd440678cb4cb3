import { describe, expect, it } from 'vitest';
import { parseSource } from '../../src/record/locate.js';

const TEXT = `version: 1
name: lines
artifacts:
  - path: out/a.bin
    sha256: aaa
  -
    path: out/b.bin
    sha256: bbb
metrics:
  values: { loss: 0.5,
    "0": 1 }
thresholds:
  accuracy: 0.1
seeds: &seeds { python: 1 }
again: *seeds
`;

function lineOf(path: Array<string | number>): number | undefined {
  const parsed = parseSource(TEXT);
  if ('problem' in parsed) throw new Error(parsed.problem.message);
  return parsed.source.lineOf(path);
}

describe('a field\'s line in the record', () => {
  it('is the key\'s line for a field, and a list item\'s first line for an item', () => {
    expect(lineOf([])).toBe(1);
    expect(lineOf(['name'])).toBe(2);
    expect(lineOf(['artifacts', 0])).toBe(4);
    expect(lineOf(['artifacts', 0, 'sha256'])).toBe(5);
    expect(lineOf(['artifacts', 1, 'sha256'])).toBe(8);
    expect(lineOf(['metrics', 'values', 'loss'])).toBe(10);
    // A number that is a map's key, as the parsed value has it.
    expect(lineOf(['metrics', 'values', 0])).toBe(11);
    expect(lineOf(['thresholds', 'accuracy'])).toBe(13);
  });

  it('is the nearest existing parent\'s line for what the record does not have', () => {
    expect(lineOf(['artifacts', 7, 'sha256'])).toBe(3);
    expect(lineOf(['artifacts', 'first'])).toBe(3);
    expect(lineOf(['metrics', 'values', 'accuracy'])).toBe(10);
    expect(lineOf(['timeout'])).toBe(1);
    // Below a scalar, and through an alias: the field's own line.
    expect(lineOf(['name', 'first'])).toBe(2);
    expect(lineOf(['again', 'python'])).toBe(15);
  });

  it('is the key\'s own line on a flow mapping\'s continuation line', () => {
    const parsed = parseSource('a: 1\nb: { x: 1,\n  y: 2 }\n');
    if ('problem' in parsed) throw new Error(parsed.problem.message);
    expect(parsed.source.lineOf(['b', 'y'])).toBe(3);
  });
});
