import { TOOL_NAME } from '../constants.js';

export const COMMANDS = ['verify', 'record', 'merge', 'discover', 'cache', 'registry'] as const;
export type CommandName = (typeof COMMANDS)[number];

export function isCommandName(value: string | undefined): value is CommandName {
  return (COMMANDS as readonly string[]).includes(value ?? '');
}

const EXIT_STATUS = 'Exit status: 0 reproduced or within tolerance, 1 drift, 2 error or usage error.';

/** What `<command> --help` prints: the synopsis first, then every option, so a newcomer needs no README to start. */
export const COMMAND_USAGE: Record<CommandName, string> = {
  verify: `Usage: ${TOOL_NAME} verify <record>... [options]

Rebuilds each record's environment, reruns its command in an isolated copy of the working tree,
and compares artifacts and metrics with the record.

Options:
  --json FILE          write the report as JSON
  --markdown FILE      write the report as Markdown (what the PR comment shows)
  --python PATH        interpreter to build the venv from (default: python3 on PATH)
  --evidence-dir DIR   keep logs and evidence here (default: a new temporary folder, printed at the end)
  --keep-artifacts     copy the rerun's artifacts into the evidence folder
  --baseline DIR       earlier outputs of the records (a folder of artifacts at their paths, or unpacked evidence):
                       a numeric artifact found there with the recorded sha256 is compared element by element
  --base REF           also report how the record was loosened against its version at git REF
                       (tolerances widened, thresholds relaxed, checks removed)
  --fail-on-loosened   with --base: exit 1 when a record was loosened, even if it reproduces
  --runs N             when a record drifts, rerun it until it has run N times: reruns that agree are
                       deterministic drift (a real change), reruns that disagree nondeterministic training
  --vary LIST          diagnosis: rerun once per variation against the unvaried run and report which outputs
                       each changes (threads, hashseed, tz-locale, workdir, env-order, or all)
  --affected           rerun only records something they read changed for (their learned code.files, data, config,
                       requirements, code.watch globs, and with --base the record itself); the others are unaffected
  --all                rerun every record (the default)
  --jobs N             rerun up to N records at once (default 1: trainings share the cores, their output
                       interleaves, and they are isolated from your tree, not from each other); every
                       record's data is hashed at once whatever N is
  --at WHERE           head (default): rerun the code of the working tree; recorded: rerun the code of each record's
                       code.commit (exported outside the working tree) with the data as it is now, as a scheduled
                       audit does (needs the commit in the clone; a record marked code.dirty is refused)
  -h, --help           show this help

Every verify writes a verification statement into the evidence folder: provenance.json (an in-toto statement
whose predicate is a SLSA verification summary), predicate.json (the predicate alone) and checksums.txt (the
subjects in sha256sum format), ready for GitHub artifact attestations (see the README).

Long hashing and copying prints progress after 2 s (a line every 5 s in a log, one updating line in a terminal).
Hashing uses one thread per core; REPRO_GATE_HASH_THREADS=N sets how many.

${EXIT_STATUS}`,

  record: `Usage: ${TOOL_NAME} record --artifact PATH... [options] -- <command...>
       ${TOOL_NAME} record --update RECORD... [--force] [--runs N]

Runs the command the way verify reruns it and writes a run record (run.yaml) with every hash, seed, pin and
metric. Paths are relative to the current folder; everything after \`--\` is the command (its own --help stays its own).

Options:
  --artifact PATH            an output file to hash (repeatable; at least one --artifact, --numeric or --metrics)
  --numeric PATH             an output tensor file (.npy .npz .safetensors .pt .pth .pkl .joblib .json .csv) compared
                             tensor by tensor within tolerance; its per-tensor fingerprint is recorded (repeatable)
  --metrics FILE             a JSON file of metrics the command writes (nested keys flatten with ".")
  --data PATH[=MANIFEST]     an input file or folder to hash, optionally with its data manifest (repeatable)
  --config PATH              a config file to hash (repeatable)
  --requirements FILE        pip requirements: the command runs in a venv built from them (cached like verify's)
  --installer uv             with --requirements: install them with \`uv pip install\` instead of pip (faster; uv
                             ignores pip.conf and PIP_* variables, so check that the packages come out the same)
  --lockfile uv.lock         a uv project: the command runs in a venv synced from its lock (\`uv sync --frozen\`
                             after \`uv lock --check\`, its dependencies only; its own code runs from the copy)
  --group NAME, --extra NAME with --lockfile: a dependency group or extra to sync too (repeatable; the dev group
                             only when named)
  --current-env              record without --requirements: run in the current environment and freeze
                             the interpreter that actually ran
  --image NAME[:TAG]         run in a container of this local image (docker, else podman), pinned in the record
                             by its registry digest; --requirements are then installed into a venv inside it.
                             With --update: replace the record's image (the only way to change it)
  --network, --gpu           with --image: let the run reach the network (default: none); pass the host's GPUs
  --seed NAME=VALUE          a seed, exported as REPRO_SEED_<NAME> and applied in-process by the probe for python,
                             random, numpy, torch and tensorflow when the program imports them (repeatable)
  --determinism strict       also deterministic algorithms (torch, cuDNN, TF), one BLAS/OpenMP thread, PYTHONHASHSEED
  --runs N                   run the command N times (N ≥ 3 to calibrate; 5 recommended), each in a fresh sandbox:
                             nondeterministic metrics are recorded at the median with a calibrated tolerance,
                             numeric artifacts get per-tensor tolerances, other varying artifacts a warning
  --calibrate-factor K       with --runs: tolerance = K × the spread of the runs (default 3)
  --var NAME=VALUE           an environment variable set for the run (repeatable)
  --pass-env NAME            a host variable the run may see, e.g. HF_TOKEN; recorded by name only
                             (repeatable; every other host variable is withheld from the run)
  --watch GLOB               an input the probe cannot see (read by a C extension or a non-Python tool), as a glob
                             relative to the repository root (repeatable); the files the training read are learned
  --name NAME                the record's name (default: its folder's name)
  --out FILE                 where to write the record (default: run.yaml)
  --timeout DURATION         the rerun's time limit, e.g. 20m (default: 60m)
  --python PATH              the interpreter to build the venv from (default: python3 on PATH)
  --update RECORD...         rerun existing records and rewrite their measured fields (hashes, metrics,
                             packages), keeping their tolerances, thresholds and comments
  --force                    with --update: write the record even when a threshold fails
                             (--update keeps calibrated tolerances; with --runs N it calibrates them again)
  -h, --help                 show this help`,

  merge: `Usage: ${TOOL_NAME} merge <report.json|folder>... [options]

Merges report.json files (as the action's comment mode does) into one report.

Options:
  --expect RECORD      a record that must have a report; a missing one becomes an error (repeatable)
  --json FILE          write the merged report as JSON
  --markdown FILE      write the merged report as Markdown
  -h, --help           show this help

${EXIT_STATUS}`,

  discover: `Usage: ${TOOL_NAME} discover <record>...

Prints the job matrix for the reusable workflow as JSON: {"include": [{record, name, python}, ...]}.
A record that does not load still gets its entry (and a warning), so its own job reports the error.

Options:
  -h, --help           show this help`,

  cache: `Usage: ${TOOL_NAME} cache list
       ${TOOL_NAME} cache prune [--max-size SIZE] [--all]

Manages the venv cache (REPRO_GATE_CACHE_DIR, else $XDG_CACHE_HOME/repro-gate, else ~/.cache/repro-gate).
Its size is bounded by REPRO_GATE_CACHE_MAX_SIZE (default 10GiB): after each venv build, the least recently
used venvs are evicted.

Commands:
  list                 each venv's key, size and last use; pip's download cache; the total against the bound
  prune                evict least recently used venvs down to the bound, remove half-built venvs and stale locks

Options (prune):
  --max-size SIZE      the bound for this prune, e.g. 5GiB, 500MiB, 2GB or a number of bytes
  --all                remove every venv that is not being built, and pip's download cache
  -h, --help           show this help`,

  registry: `Usage: ${TOOL_NAME} registry publish <record> --model NAME --version X.Y.Z [--registry DIR]
       ${TOOL_NAME} registry check [--base REF] [--markdown FILE] [--registry DIR]
       ${TOOL_NAME} registry promote NAME VERSION --to ALIAS --reason TEXT [--report FILE] [--actor NAME] [--registry DIR]

A model registry in the repository (default folder: models/): DIR/NAME/X.Y.Z/ holds a version's artifacts, its
run.yaml, metrics.json, data_manifest.json and checksum.txt; aliases (staging, prod) are relative symlinks, or
entries of DIR/NAME/aliases.yaml; DIR/NAME/promotions.jsonl is the append-only promotion log, each line naming the
sha256 of the one before; DIR/NAME/policy.yaml is the promotion policy (see the README).

Commands:
  publish              copy the record's verified artifacts (the bytes it records), the record, its metrics and
                       inputs into a new version folder and write checksum.txt; a published version is immutable, and
                       the record must name a code.commit and not be code.dirty
  check                every version against its checksum.txt and its run.yaml, every alias (it resolves, and matches
                       its last promotion), the log's chain and the policy; with --base REF also that the log extends
                       REF's, that no version published at REF changed, and every promotion since REF by REF's policy
  promote              check the policy (checksums, verify verdict, metric thresholds, stage order, rollback
                       target), append to the log and move the alias atomically; the verdict comes from --report
                       (a verify --json report of the version's run.yaml) or from rerunning the version's record at
                       its recorded commit (a rollback to a version the alias held before is not rerun)

Options:
  --registry DIR       the registry folder (default: models)
  --model NAME         publish: the model's name (letters, digits, ".", "_", "-")
  --version X.Y.Z      publish: the new version (semantic version)
  --base REF           check: also check against the registry at git REF (a pull request's base branch)
  --markdown FILE      check: write the result as Markdown
  --to ALIAS           promote: the alias to move (lower case: staging, prod, ...)
  --reason TEXT        promote: why, written to the log
  --report FILE        promote: a verify --json report instead of a rerun
  --actor NAME         promote: who promotes (default: $GITHUB_ACTOR, else the user name)
  --python PATH        promote: interpreter for the rerun's venv (default: python3 on PATH)
  -h, --help           show this help

Exit status: 0 passes (published, promoted), 1 a check or the policy fails, 2 error or usage error.`,
};

/** The overview: one synopsis line per command. */
export const USAGE = `Usage:
  ${TOOL_NAME} verify <record>... [--json FILE] [--markdown FILE] [--python PATH] [--evidence-dir DIR] [--keep-artifacts] [--base REF [--fail-on-loosened]]
                     [--runs N] [--vary LIST] [--affected | --all] [--jobs N] [--at head|recorded]
  ${TOOL_NAME} record --artifact PATH... [--metrics FILE] [--data PATH[=MANIFEST]...] [--config PATH...]
                     [--requirements FILE [--installer uv] | --lockfile uv.lock [--group G] [--extra E] | --current-env] [--image NAME:TAG [--network] [--gpu]] [--seed NAME=VALUE...] [--var NAME=VALUE...] [--pass-env NAME...] [--name NAME]
                     [--out run.yaml] [--timeout 60m] [--python PATH] [--runs N [--calibrate-factor K]] [--determinism strict] -- <command...>
  ${TOOL_NAME} record --update RECORD... [--force] [--runs N [--calibrate-factor K]] [--image NAME:TAG]
  ${TOOL_NAME} merge <report.json|folder>... [--expect RECORD]... [--json FILE] [--markdown FILE]
  ${TOOL_NAME} discover <record>...
  ${TOOL_NAME} cache list | prune [--max-size SIZE] [--all]
  ${TOOL_NAME} registry publish | check | promote ...
  ${TOOL_NAME} --version

Run \`${TOOL_NAME} <command> --help\` for a command's options.

${EXIT_STATUS}`;

export const USAGE_HINT = `Run \`${TOOL_NAME} --help\` for usage.`;
