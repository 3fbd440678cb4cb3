import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { TOOL_VERSION } from '../../src/constants.js';
import { main } from '../../src/cli/main.js';
import { COMMAND_USAGE, COMMANDS } from '../../src/cli/usage.js';

/** A stream stand-in that keeps what the CLI writes. */
function sink() {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}

async function run(argv: string[]) {
  const stdout = sink();
  const stderr = sink();
  const status = await main(argv, stdout.stream, stderr.stream);
  return { status, stdout: stdout.text(), stderr: stderr.text() };
}

describe('repro-gate <command> --help', () => {
  it.each(COMMANDS.flatMap((command) => [[command, '--help'] as const, [command, '-h'] as const]))('%s %s prints that command\'s usage and exits 0', async (command, flag) => {
    const result = await run([command, flag]);
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`${COMMAND_USAGE[command]}\n`);
    expect(result.stdout).toMatch(new RegExp(`^Usage: repro-gate ${command}`));
    expect(result.stderr).toBe('');
  });

  it('answers help even after other options, which are then not checked', async () => {
    const result = await run(['record', '--artifact', 'out/model.pkl', '--no-such-option', '--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`${COMMAND_USAGE.record}\n`);
  });

  it('leaves a --help after `--` to the recorded command', async () => {
    // Without --artifact or --metrics the record is refused before anything runs, so nothing is executed here.
    const result = await run(['record', '--', 'python', 'train.py', '--help']);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^repro-gate: error: /);
  });

  it('documents the options a newcomer needs, including the new ones', () => {
    for (const option of ['--artifact', '--metrics', '--data', '--requirements', '--current-env', '--update', '--force', '--', '--help']) {
      expect(COMMAND_USAGE.record).toContain(option);
    }
    for (const option of ['--json', '--markdown', '--python', '--evidence-dir', '--keep-artifacts', '--base REF']) expect(COMMAND_USAGE.verify).toContain(option);
    for (const option of ['--expect', '--json', '--markdown']) expect(COMMAND_USAGE.merge).toContain(option);
    for (const option of ['list', 'prune', '--max-size', '--all', 'REPRO_GATE_CACHE_MAX_SIZE']) expect(COMMAND_USAGE.cache).toContain(option);
  });

  it('lists every command in the overview and points at per-command help', async () => {
    const result = await run(['--help']);
    expect(result.status).toBe(0);
    for (const command of COMMANDS) expect(result.stdout).toContain(`repro-gate ${command}`);
    expect(result.stdout).toContain('repro-gate <command> --help');
  });

  it('still prints the version and still rejects unknown options and commands with exit 2', async () => {
    expect(await run(['--version'])).toEqual({ status: 0, stdout: `${TOOL_VERSION}\n`, stderr: '' });
    const unknownOption = await run(['merge', '--bogus']);
    expect(unknownOption.status).toBe(2);
    expect(unknownOption.stderr).toMatch(/Unknown option '--bogus'/);
    const unknownCommand = await run(['frobnicate', '--help']);
    expect(unknownCommand.status).toBe(2);
    expect(unknownCommand.stderr).toMatch(/unknown command "frobnicate"/);
  });
});
