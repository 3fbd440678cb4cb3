// Every child process repro-gate starts may run the pull request's code: the training, but also a `json.py`
// shadowing the stdlib in the interpreter probe, or a setup.py that pip builds. None of them may see the action's
// token or the runner's service tokens.

const SECRET_VARIABLES = new Set([
  'GITHUB_TOKEN',
  'ACTIONS_RUNTIME_TOKEN',
  'ACTIONS_ID_TOKEN_REQUEST_TOKEN',
  'ACTIONS_ID_TOKEN_REQUEST_URL',
  'ACTIONS_RESULTS_URL',
  'ACTIONS_CACHE_URL',
  'ACTIONS_RUNTIME_URL',
]);

/** Action inputs (`INPUT_GITHUB-TOKEN`…) and the runner's tokens and service URLs. */
export function isSecretVariable(name: string): boolean {
  return name.startsWith('INPUT_') || SECRET_VARIABLES.has(name);
}

/** The environment without action inputs and runner tokens. */
export function withoutSecrets(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(base).filter(([name]) => !isSecretVariable(name)));
}
