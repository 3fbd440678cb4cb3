import { readFile } from 'node:fs/promises';

// Requirements that install the project itself (`-e .`, `./pkg`, `file:` URLs) make a venv that holds this
// checkout's code: cached under the requirements' hash, it would keep old code and pass a pull request falsely.

const LOCAL_REQUIREMENT = /^\s*(?:-e\b|--editable\b|\.{1,2}(?:\/|$)|\/|file:)|@\s*file:/;

/** Pure: whether any line of a requirements file installs from a local path. */
export function installsLocalPaths(text: string): boolean {
  return text.split('\n').some((line) => LOCAL_REQUIREMENT.test(line.replace(/(^|\s)#.*$/, '')));
}

export async function requirementsInstallLocalPaths(file: string): Promise<boolean> {
  return installsLocalPaths(await readFile(file, 'utf8'));
}

/** Pure: whether a requirements file pulls in other files (`-r base.txt`, `-c constraints.txt`), whose hashes a record does not hold. */
export function includesOtherFiles(text: string): boolean {
  return /^\s*(?:-[rc](?:\s|$|\S)|--requirement\b|--constraint\b)/m.test(text);
}
