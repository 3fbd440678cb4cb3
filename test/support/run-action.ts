import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from './fixture-repo.js';

export const ACTION = path.join(PROJECT_ROOT, 'dist', 'index.js');
const EXAMPLES = path.join(PROJECT_ROOT, 'node_modules', '@octokit', 'webhooks-examples', 'api.github.com', 'index.json');

interface WebhookExamples {
  name: string;
  examples: Array<Record<string, any>>;
}

/** A real webhook payload from @octokit/webhooks-examples. */
export async function webhookExample(event: string, match: (example: Record<string, any>) => boolean): Promise<Record<string, any>> {
  const all = JSON.parse(await readFile(EXAMPLES, 'utf8')) as WebhookExamples[];
  const example = all.find((entry) => entry.name === event)?.examples.find(match);
  if (!example) throw new Error(`no ${event} example matches`);
  return structuredClone(example);
}

export interface ActionRun {
  status: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
}

/** Parses a GITHUB_OUTPUT file as the runner does: `name<<delimiter` blocks and `name=value` lines. */
export function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^=<]+)<<(.+)$/.exec(lines[i]!);
    if (heredoc) {
      const end = lines.indexOf(heredoc[2]!, i + 1);
      outputs[heredoc[1]!] = lines.slice(i + 1, end).join('\n');
      i = end;
    } else if (lines[i]!.includes('=')) {
      const [name, ...value] = lines[i]!.split('=');
      outputs[name!] = value.join('=');
    }
  }
  return outputs;
}

export interface RunActionOptions {
  cwd: string;
  inputs: Record<string, string>;
  eventName: string;
  payload: Record<string, any>;
  env: NodeJS.ProcessEnv;
}

/** Runs the bundled dist/index.js the way the runner does: INPUT_* variables, file commands, an event payload. */
export async function runAction(options: RunActionOptions): Promise<ActionRun> {
  const runnerDir = await mkdtemp(path.join(tmpdir(), 'repro-gate-runner-'));
  const files = {
    GITHUB_OUTPUT: path.join(runnerDir, 'output'),
    GITHUB_STEP_SUMMARY: path.join(runnerDir, 'summary'),
    GITHUB_ENV: path.join(runnerDir, 'env'),
    GITHUB_STATE: path.join(runnerDir, 'state'),
    GITHUB_PATH: path.join(runnerDir, 'path'),
    GITHUB_EVENT_PATH: path.join(runnerDir, 'event.json'),
  };
  await Promise.all([
    ...Object.values(files).filter((file) => !file.endsWith('.json')).map((file) => writeFile(file, '')),
    writeFile(files.GITHUB_EVENT_PATH, JSON.stringify(options.payload)),
  ]);
  const inputs = Object.fromEntries(Object.entries(options.inputs).map(([name, value]) => [`INPUT_${name.toUpperCase()}`, value]));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PIP_RETRIES: '0',
    PIP_DISABLE_PIP_VERSION_CHECK: '1',
    GITHUB_ACTIONS: 'true',
    CI: 'true',
    GITHUB_EVENT_NAME: options.eventName,
    GITHUB_REPOSITORY: options.payload.repository?.full_name ?? 'Codertocat/Hello-World',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_WORKFLOW: 'repro',
    GITHUB_JOB: 'reproduce',
    GITHUB_RUN_ID: '4242',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_WORKSPACE: options.cwd,
    RUNNER_TEMP: runnerDir,
    RUNNER_OS: 'Linux',
    ...files,
    ...inputs,
    ...options.env,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ACTION], { cwd: options.cwd, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', async (status) => {
      resolve({
        status,
        stdout,
        stderr,
        outputs: parseOutputs(await readFile(files.GITHUB_OUTPUT, 'utf8')),
        summary: await readFile(files.GITHUB_STEP_SUMMARY, 'utf8'),
      });
    });
  });
}
