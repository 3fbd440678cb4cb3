// The rerun probe, installed as `sitecustomize` on the command's PYTHONPATH. Every Python process of the command
// (the training, and any interpreter it starts) loads it at start-up and appends JSON lines to the trace file:
// where it ran, which files it could not open, and, at exit, which distributions it imported.
// It prints nothing and imports nothing the interpreter has not loaded already (a module imported here would be
// cached before the program's own path is set up, and a project's json.py could no longer shadow the standard one).
// It chains to the project's own sitecustomize.
// Each line is written as it happens (os._exit skips exit handlers, so only the `exit` line can be lost).

export const PROBE_MODULE_NAME = 'sitecustomize.py';

export const PROBE_SOURCE = String.raw`# Written by repro-gate for one run; see README "The rerun probe".
def _repro_gate_probe():
    import os
    import sys

    trace = os.environ.get("REPRO_GATE_TRACE")
    sandbox = os.environ.get("REPRO_GATE_SANDBOX")
    if not trace or not sandbox:
        return
    sandbox = os.path.join(os.path.realpath(sandbox), "")

    def in_sandbox(target):
        return os.path.realpath(target).startswith(sandbox)
    def encode(value):
        if value is None or isinstance(value, bool):
            return {None: "null", True: "true", False: "false"}[value]
        if isinstance(value, int):
            return str(value)
        if isinstance(value, str):
            return '"' + "".join(c if c >= " " and c not in '"\\' and not "\ud800" <= c <= "\udfff" else "\\u%04x" % ord(c) for c in value) + '"'
        if isinstance(value, (list, tuple)):
            return "[" + ",".join(encode(item) for item in value) + "]"
        return "{" + ",".join(encode(key) + ":" + encode(item) for key, item in value.items()) + "}"

    import _thread  # built in: nothing on the path can shadow it

    pid = os.getpid()
    # Per thread: the probe's own open of the trace must not be seen by its hook, while other threads' opens are.
    writing = set()
    budget = {"missing": 50, "read": 20000, "listed": 20000, "exiting": False}

    def write(event, **fields):
        me = _thread.get_ident()
        if me in writing:
            return
        writing.add(me)
        try:
            line = encode(dict(event=event, pid=pid, **fields)) + "\n"
            fd = os.open(trace, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
        except Exception:
            pass
        finally:
            writing.discard(me)

    script = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c", "-m") else None
    write(
        "start",
        ppid=os.getppid(),
        executable=sys.executable,
        prefix=sys.prefix,
        base_prefix=sys.base_prefix,
        version="%d.%d.%d" % sys.version_info[:3],
        script=os.path.abspath(script) if script else None,
        script_in_sandbox=bool(script) and in_sandbox(script),
        cwd=os.getcwd(),
    )

    # Declared data is hashed by repro-gate itself: its files (an image folder's thousands) are not listed as read.
    declared = tuple(os.path.join(os.path.realpath(entry), "") for entry in os.environ.get("REPRO_GATE_DECLARED_DATA", "").split(os.pathsep) if entry)
    declared_files = {entry[:-1] for entry in declared}
    seen = set()

    def audit(event, args):
        if budget["exiting"] or _thread.get_ident() in writing:
            return
        if event in SPAWN_EVENTS:
            spawned(event, args)
            return
        if event in LIST_EVENTS:
            listed(args[0])
            return
        if event == "import":
            # A folder put on the import path is searched from then on, even one that does not exist yet.
            path_listed(args[2])
            return
        if event != "open":
            return
        target, mode, flags = args
        if not isinstance(target, (str, bytes)) or os.fsdecode(target).endswith(".pyc"):
            return
        flags = flags or 0
        reads = ("r" in mode or "+" in mode) if isinstance(mode, str) else (flags & 3) != os.O_WRONLY
        creates = any(c in mode for c in "wax") if isinstance(mode, str) else bool(flags & os.O_CREAT)
        if not reads:
            return
        try:
            absolute = os.path.abspath(os.fsdecode(target))
            if absolute in seen:
                return
            real = os.path.realpath(absolute)
            if not real.startswith(sandbox):
                if len(seen) < 100000:
                    seen.add(absolute)
                return
            if not os.path.exists(real):
                # A file that is not there yet is looked for: its folder counts as listed, so a file added there later
                # counts (an optional config, a stop flag, a file the open would create).
                listed(os.path.dirname(real))
                # What the command could not open inside its sandbox: a data file left out of the copy.
                if budget["missing"] > 0 and not creates:
                    budget["missing"] -= 1
                    write("missing", path=absolute)
                return
            if len(seen) < 100000:
                seen.add(absolute)
            note_read(real)
        except Exception:
            pass

    SPAWN_EVENTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn")
    # Directory listings (os.walk, glob and pathlib go through these, and so does the import system, for every folder
    # it searches): a file added later matters to the training only in a folder it listed.
    LIST_EVENTS = ("os.listdir", "os.scandir")
    listings = set()

    def listed(target):
        try:
            if target is None:
                target = "."
            if isinstance(target, int):
                # A listing by file descriptor (shutil.rmtree, a TemporaryDirectory's cleanup): its folder, from /proc.
                try:
                    target = os.readlink("/proc/self/fd/%d" % target)
                except OSError:
                    target = None
            if not isinstance(target, (str, bytes)):
                # A folder the probe cannot place: any new file may matter.
                budget["listed"] = min(budget["listed"], 0)
                spend("listed")
                return
            absolute = os.path.abspath(os.fsdecode(target))
            # Once the list is cut, or for a folder already seen, no more work: a walk over a big tree lists many.
            if budget["listed"] < 0 or absolute in listings:
                return
            if len(listings) < 100000:
                listings.add(absolute)
            real = os.path.realpath(absolute)
            if real != absolute:
                if real in listings:
                    return
                listings.add(real)
            if (real + os.sep).startswith(sandbox) and spend("listed"):
                write("listed", path=real)
        except Exception:
            pass

    path_entries = set()

    def path_listed(entries):
        try:
            for entry in list(entries or ()):
                if isinstance(entry, str) and entry not in path_entries:
                    if len(path_entries) < 10000:
                        path_entries.add(entry)
                    listed(entry or ".")
        except Exception:
            pass

    def search_path_listed():
        # The import system listed the folders on its path before the probe was installed (importing encodings), and
        # keeps what it saw: each of them counts as listed, and so do the script's folder and the working folder.
        # An entry that does not exist yet (sys.path.insert(0, "vendor")) counts too: a file added there is imported.
        path_listed(sys.path)
        try:
            path_listed([os.getcwd()] + ([os.path.dirname(os.path.abspath(script))] if script else []))
        except Exception:
            # The working folder may be gone (a temporary folder the training removed).
            pass

    def spawned(event, args):
        # A child the probe does not run in (a shell, a compiled tool, a Python started with -I/-E/-S or without our
        # PYTHONPATH) may read files no one sees: the run's input set is then incomplete.
        try:
            if event == "os.system":
                command = args[0]
                write("spawn", what=(os.fsdecode(command) if isinstance(command, (str, bytes)) else str(command))[:300], probed=False)
                return
            if event == "subprocess.Popen":
                executable, argv, _cwd, env = args
            elif event == "os.spawn":
                _mode, executable, argv, env = args
            else:
                executable, argv, env = args
            argv = [os.fsdecode(a) if isinstance(a, (str, bytes)) else str(a) for a in (argv if isinstance(argv, (list, tuple)) else [argv])]
            program = os.fsdecode(executable) if isinstance(executable, (str, bytes)) else (argv[0] if argv else "")
            name = os.path.basename(program)
            python = name.startswith("python") and name[6:].replace(".", "").isdigit() or name == "python" or os.path.realpath(program) == os.path.realpath(sys.executable)
            options = [a for a in argv[1:] if a.startswith("-") and not a.startswith("--")][:5]
            isolated = any(flag in option for option in options for flag in "IES")
            environment = env if isinstance(env, dict) else None
            inherits = environment is None or any(os.fsdecode(key) == "REPRO_GATE_TRACE" for key in environment)
            if not (python and inherits and not isolated):
                write("spawn", what=" ".join(argv)[:300] or program[:300], probed=False)
        except Exception:
            write("spawn", what=event, probed=False)

    def note_read(real):
        # Every file of the sandbox a process read: the training's real input set (each line as it happens, as
        # os._exit in a worker skips the exit handlers).
        if real.startswith(declared) or real in declared_files or os.path.isdir(real):
            return
        if spend("read"):
            write("read", path=real)

    def spend(kind):
        # Past its budget, a kind of event is written once more, as "<kind>-truncated": its list is then incomplete.
        if budget[kind] <= 0:
            if budget[kind] == 0:
                budget[kind] = -1
                write(kind + "-truncated")
            return False
        budget[kind] -= 1
        return True

    sys.addaudithook(audit)
    search_path_listed()
    if script:
        try:
            real_script = os.path.realpath(script)
            if real_script.startswith(sandbox) and os.path.isfile(real_script):
                seen.add(os.path.abspath(script))
                note_read(real_script)
        except Exception:
            pass

    def at_exit():
        # The training may have added folders to its path since it started.
        search_path_listed()
        budget["exiting"] = True
        try:
            stdlib = set(sys.stdlib_module_names) | set(sys.builtin_module_names)
            top = {name.partition(".")[0] for name in list(sys.modules)} - stdlib
            top = {name for name in top if not name.startswith("_")}
            distributions = set()
            if top:
                import importlib.metadata

                mapping = importlib.metadata.packages_distributions()
                for name in top:
                    distributions.update(mapping.get(name, ()))
            files = [getattr(module, "__file__", None) for module in list(sys.modules.values())]
            local = sorted({os.path.abspath(f) for f in files if isinstance(f, str) and in_sandbox(f)})
            # A module loaded from a cached .pyc never opened its source: listed from the modules themselves.
            for module_file in local:
                if module_file not in seen and os.path.exists(module_file):
                    seen.add(module_file)
                    note_read(os.path.realpath(module_file))
            write("exit", distributions=sorted(distributions), sandbox_modules=local[:20], native=native_libraries())
        except Exception:
            pass

    def native_libraries():
        # The thread pools that decide how floats are summed, as threadpoolctl sees them (when the environment has it),
        # and the GPU stack torch loaded. Only looked at when a numeric library was imported: nothing is loaded otherwise.
        if not any(name in sys.modules for name in ("numpy", "scipy", "torch", "tensorflow", "sklearn")):
            return None
        found = {"libraries": []}
        try:
            import importlib.util

            if importlib.util.find_spec("threadpoolctl") is not None:
                import threadpoolctl
                import warnings

                # The probe prints nothing: threadpoolctl warns about some library combinations.
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pools = threadpoolctl.threadpool_info()[:20]
                for info in pools:
                    found["libraries"].append({
                        "api": str(info.get("user_api")),
                        "library": str(info.get("internal_api")),
                        "version": info.get("version") if isinstance(info.get("version"), str) else None,
                        "threads": info.get("num_threads") if isinstance(info.get("num_threads"), int) else None,
                        "architecture": info.get("architecture") if isinstance(info.get("architecture"), str) else None,
                    })
        except Exception:
            pass
        if not found["libraries"]:
            # Without threadpoolctl, the loaded libraries' names at least (no versions, no thread counts).
            known = (("openblas", "blas", "openblas"), ("mkl_rt", "blas", "mkl"), ("blis", "blas", "blis"), ("flexiblas", "blas", "flexiblas"), ("gomp", "openmp", "openmp"), ("iomp5", "openmp", "openmp"), ("libomp", "openmp", "openmp"))
            try:
                with open("/proc/self/maps") as maps:
                    names = {line.rsplit("/", 1)[-1].strip() for line in maps if ".so" in line}
                seen = set()
                for name in sorted(names):
                    for part, api, library in known:
                        if part in name and (api, library) not in seen:
                            seen.add((api, library))
                            found["libraries"].append({"api": api, "library": library, "version": None, "threads": None, "architecture": None})
            except Exception:
                pass
        torch = sys.modules.get("torch")
        if torch is not None:
            try:
                found["cuda"] = torch.version.cuda if isinstance(torch.version.cuda, str) else None
                # Only where the run itself started CUDA: is_available() would initialise it in every process that imported torch.
                found["cudnn"] = str(torch.backends.cudnn.version()) if found["cuda"] and torch.cuda.is_initialized() else None
            except Exception:
                pass
        return found

    import atexit  # built in: nothing on the path can shadow it

    atexit.register(at_exit)
    # After the exit handler is in place: whatever happens while seeding, the run's imports are still reported.
    try:
        _repro_gate_seeding(os, sys, write)
    except Exception as error:
        write("seed-failed", module="probe", calls=[], error=(type(error).__name__ + ": " + str(error))[:300])


def _repro_gate_seeding(os, sys, write):
    # The record's seeds, applied when the program itself imports each framework (never imported here), right after
    # the framework's own initialisation: as if the training's first line seeded it.
    plan = os.environ.get("REPRO_GATE_SEED_PLAN", "")
    strict = os.environ.get("REPRO_GATE_DETERMINISM") == "strict"
    if not plan and not strict:
        return
    seeds = {}
    for item in plan.split(","):
        name, _, value = item.partition("=")
        if name:
            seeds[name] = int(value) if value else None
    # With strict determinism, torch is configured even when no torch seed is recorded.
    if strict:
        seeds.setdefault("torch", None)
        seeds.setdefault("tensorflow", None)

    def seed(name, module):
        calls = []
        try:
            value = seeds[name]
            if name == "random" and value is not None:
                module.seed(value)
                calls.append("random.seed(%d)" % value)
            elif name == "numpy" and value is not None:
                module.random.seed(value)
                calls.append("numpy.random.seed(%d)" % value)
            elif name == "torch":
                if value is not None:
                    module.manual_seed(value)
                    calls.append("torch.manual_seed(%d)" % value)
                if strict:
                    module.use_deterministic_algorithms(True)
                    module.backends.cudnn.deterministic = True
                    module.backends.cudnn.benchmark = False
                    calls.append("torch.use_deterministic_algorithms(True)")
                    calls.append("cudnn.deterministic=True, cudnn.benchmark=False")
            elif name == "tensorflow":
                if value is not None:
                    module.random.set_seed(value)
                    calls.append("tf.random.set_seed(%d)" % value)
                if strict:
                    module.config.experimental.enable_op_determinism()
                    calls.append("tf.config.experimental.enable_op_determinism()")
            if calls:
                write("seeded", module=name, calls=calls)
        except Exception as error:
            write("seed-failed", module=name, calls=calls, error=(type(error).__name__ + ": " + str(error))[:300])

    class SeedingLoader:
        # Stands in for the framework's loader for the length of one import, then hands the module its own loader back.
        def __init__(self, loader, name):
            self.loader = loader
            self.name = name

        def __getattr__(self, attribute):
            return getattr(self.loader, attribute)

        def create_module(self, spec):
            return self.loader.create_module(spec)

        def exec_module(self, module):
            module.__loader__ = self.loader
            module.__spec__.loader = self.loader
            self.loader.exec_module(module)
            # Only an import seeds: a lookup alone (importlib.util.find_spec("torch"), as transformers does) leaves it pending.
            if self.name in pending:
                pending.discard(self.name)
                seed(self.name, module)

    finding = set()

    class SeedingFinder:
        def find_spec(self, name, path=None, target=None):
            if name not in pending or name in finding:
                return None
            finding.add(name)
            try:
                for finder in sys.meta_path:
                    find = getattr(finder, "find_spec", None)
                    if finder is self or find is None:
                        continue
                    spec = find(name, path, target)
                    if spec is not None:
                        break
                else:
                    return None
            finally:
                finding.discard(name)
            if spec.loader is None or not hasattr(spec.loader, "exec_module"):
                return spec
            spec.loader = SeedingLoader(spec.loader, name)
            return spec

    pending = set(seeds)
    for name in list(pending):
        module = sys.modules.get(name)
        if module is not None:
            pending.discard(name)
            seed(name, module)
    if pending:
        sys.meta_path.insert(0, SeedingFinder())


def _repro_gate_chain():
    # The project's own sitecustomize, if any, still runs: found on the path without this folder.
    import os
    import sys

    # The import system's own (always loaded) classes, so that nothing new is imported here either.
    finder = sys.modules["_frozen_importlib_external"].PathFinder
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [entry for entry in sys.path if os.path.abspath(entry or ".") != here]
    spec = finder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = sys.modules["_frozen_importlib"].module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


try:
    _repro_gate_probe()
finally:
    del _repro_gate_probe, _repro_gate_seeding
    _repro_gate_chain()
    del _repro_gate_chain
`;
