export { parseDuration } from './duration.js';
export { rerunEnvironment } from './rerun-environment.js';
export { type CommandResult, runCommand } from './run-command.js';
export { createSandbox, type Sandbox } from './sandbox.js';
