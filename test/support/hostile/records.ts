import { createHash } from 'node:crypto';
import { yamlText } from './harness.js';

// The building blocks of the corpus's records: a tiny run that needs no Python (the command writes its artifact
// and metrics with the shell), so a row costs one CLI call and no venv.

export const sha256 = (content: string | Buffer) => createHash('sha256').update(content).digest('hex');

export const HI = 'hi\n';
export const HI_SHA256 = sha256(HI);

/** Writes out/a.txt ("hi") and out/m.json ({"acc": 0.9}). */
export const OUTPUTS = `mkdir -p out && printf 'hi\\n' > out/a.txt && printf '{"acc": 0.9}' > out/m.json`;

/** A record that reproduces as it is: artifact out/a.txt, metric acc. */
export function baseRecord(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: 1,
    name: 'hostile',
    command: OUTPUTS,
    artifacts: [{ path: 'out/a.txt', sha256: HI_SHA256 }],
    metrics: { path: 'out/m.json', values: { acc: 0.9 } },
    ...overrides,
  };
}

/** The record as YAML text, for rows that need to know a field's line or append raw YAML. */
export const baseText = (overrides: Record<string, unknown> = {}) => yamlText(baseRecord(overrides));

/** 1-based line of the first line matching `pattern`. */
export function lineOf(text: string, pattern: RegExp): number {
  const index = text.split('\n').findIndex((line) => pattern.test(line));
  if (index === -1) throw new Error(`no line matches ${pattern}`);
  return index + 1;
}

/** A python3 -c command line, single-quoted for sh (the script must not contain a single quote). */
export function python(script: string, ...args: string[]): string {
  if (script.includes("'")) throw new Error('python(): use double quotes inside the script');
  return `python3 -c '${script}'${args.map((arg) => ` ${arg}`).join('')}`;
}
