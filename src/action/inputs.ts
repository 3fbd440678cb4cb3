import * as core from '@actions/core';
import { z } from 'zod';
import { MAX_RECORD_RUNS } from '../constants.js';
import { UserError } from '../errors.js';
import { parseVaryList } from '../rerun/variations/variations.js';

// Every action input is validated here, and every message names the input and says what it accepts.

const BooleanInput = z.enum(['true', 'false']).transform((value) => value === 'true');

const ActionInputsSchema = z.object({
  mode: z.enum(['verify', 'comment', 'discover', 'audit', 'registry']),
  records: z.array(z.string().min(1)).min(1, 'needs at least one path or glob'),
  reports: z.string(),
  'expect-records': z.array(z.string().min(1)),
  'github-token': z.string(),
  comment: z.enum(['always', 'on-drift', 'never']),
  'fail-on': z.enum(['drift', 'error', 'never']),
  'fail-on-loosened': BooleanInput,
  python: z.string().min(1),
  cache: BooleanInput,
  'upload-evidence': BooleanInput,
  baseline: z.enum(['auto', 'none']),
  runs: z
    .string()
    .regex(/^\d+$/, `must be a whole number from 1 to ${MAX_RECORD_RUNS}`)
    .transform(Number)
    .refine((runs) => runs >= 1 && runs <= MAX_RECORD_RUNS, `must be a whole number from 1 to ${MAX_RECORD_RUNS}`),
  vary: z.string(),
  rerun: z.enum(['all', 'affected']),
  at: z.enum(['head', 'recorded']),
  'working-directory': z.string(),
  registry: z.string().min(1),
});

export type ActionInputs = z.infer<typeof ActionInputsSchema>;
type InputName = keyof ActionInputs;

const DEFAULTS: Record<InputName, string> = {
  mode: 'verify',
  records: 'run.yaml',
  reports: '',
  'expect-records': '',
  'github-token': '',
  comment: 'always',
  'fail-on': 'drift',
  'fail-on-loosened': 'false',
  python: 'python3',
  cache: 'true',
  'upload-evidence': 'true',
  baseline: 'auto',
  runs: '1',
  vary: '',
  rerun: 'all',
  at: 'head',
  'working-directory': '.',
  registry: 'models',
};

const lines = (text: string) =>
  text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);

function rawInputs(): Record<InputName, unknown> {
  const read = (name: InputName) => core.getInput(name).trim() || DEFAULTS[name];
  return {
    mode: read('mode'),
    records: lines(read('records')),
    reports: read('reports'),
    'expect-records': lines(read('expect-records')),
    'github-token': core.getInput('github-token'),
    comment: read('comment'),
    'fail-on': read('fail-on'),
    'fail-on-loosened': read('fail-on-loosened').toLowerCase(),
    python: read('python'),
    cache: read('cache').toLowerCase(),
    'upload-evidence': read('upload-evidence').toLowerCase(),
    baseline: read('baseline'),
    runs: read('runs'),
    vary: read('vary'),
    rerun: read('rerun'),
    at: read('at'),
    'working-directory': read('working-directory'),
    registry: read('registry'),
  };
}

export function readActionInputs(): ActionInputs {
  const token = core.getInput('github-token');
  // Masked before anything can print it.
  if (token) core.setSecret(token);
  const raw = rawInputs();
  const result = ActionInputsSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const name = String(issue.path[0]);
    const got = name === 'github-token' ? '' : ` (got ${JSON.stringify(raw[name as InputName])})`;
    const accepted = issue.code === 'invalid_value' ? `must be one of ${issue.values.join(', ')}` : issue.message;
    throw new UserError(`input "${name}" ${accepted}${got}`, `Fix "${name}" in the workflow step's \`with:\` block; see the README's input table.`);
  }
  // The names are checked here, before anything runs: a typo fails the step at once.
  if (result.data.vary) parseVaryList(result.data.vary);
  const atRecorded = result.data.at === 'recorded' || result.data.mode === 'audit';
  if (atRecorded && result.data.rerun === 'affected') {
    throw new UserError('input "rerun: affected" cannot be combined with reruns at the recorded commit (`at: recorded`, or `mode: audit`)', 'An audit reruns every record at its recorded commit: leave "rerun" at `all`.');
  }
  if (result.data.mode === 'comment' && !result.data.reports) {
    throw new UserError('input "reports" is required when mode is comment', 'Set it to the folder holding the downloaded report.json files.');
  }
  return result.data;
}
