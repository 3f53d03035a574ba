"""Each job's lock holds what its commands import.

A static walk, with no package imported: from each ``mlops`` command that a workflow job, the
image or a nox session runs, through the modules of ``src/mlops`` it reaches (imports at module
level and inside functions alike), to the third-party modules, mapped to their distributions.
Two kinds of use are not imports and are followed too: ``python -m NAME`` run as a subprocess of
this interpreter (DVC) and ``importlib.metadata.distribution("NAME")`` (the data source). An
import inside a function may be left out of a lock only where ``OPTIONAL`` says why.
"""

from __future__ import annotations

import ast
import re
import shlex
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.test_workflows import (
    image_lock,
    job_locks,
    load,
    locked,
    normalize,
    nox_locks,
    steps,
    workflows,
)

SRC = ROOT / "src" / "mlops"
OURS = ("mlops", "project")  # the platform and the team's package
# Submodules that need a distribution of their own beside their top-level package's.
SUBMODULE_DISTRIBUTIONS = {"dask.distributed": "distributed"}
# Modules that run `mlops` commands as subprocesses (the lifecycle's service).
RUNS_COMMANDS = {"mlops.serving.serving_process": [("serve",)]}
# Imports inside functions that a job may lack (top-level module -> why its commands do without).
CLUSTER_ONLY = "only with --scheduler or --local-cluster, which no job passes"
REGISTRY_SOURCE = "serve --registered/--stage only: the image serves its baked-in --model"
# schema.py builds the data contract's pandera checks for `mlops validate` (a stage of `dvc
# repro`) alone; the service, monitoring and the release read the contract's types only.
CONTRACT_CHECKS = "the contract's checks, built by mlops validate and monitor drift alone"
RELEASE_JOBS = ("register", "image", "staging", "production")
OPTIONAL = {
    "*": {
        "dask": CLUSTER_ONLY,
        # fastpath.py: an optimisation; without treelite the pipeline itself scores.
        "treelite": "the fast path's tree walk, which falls back to the pipeline without it",
    },
    # The registry sources of `mlops serve` need a clone of the repository with its tags.
    "image": {"dvc": REGISTRY_SOURCE, "gto": REGISTRY_SOURCE, "pandera": CONTRACT_CHECKS},
    **{
        job: {"pandera": CONTRACT_CHECKS}
        for job in (f"release.yml/{name}" for name in RELEASE_JOBS)
    },
}

Requirement = tuple[str, bool]  # (dotted module name or "dist:NAME", reached only lazily)


def _resolve(node: ast.ImportFrom, module: str, package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")[: None if package else -1]
    parts = parts[: len(parts) - node.level + 1]
    return ".".join([*parts, *([node.module] if node.module else [])])


def _uses(tree: ast.AST, module: str, package: bool = False) -> list[Requirement]:
    """What a module's code imports or runs: ``(name, lazy)``, lazy when inside a function.
    ``if TYPE_CHECKING:`` blocks are annotations only."""
    found: list[Requirement] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    visit_node(other, lazy)
            elif isinstance(child, ast.Try) and _catches_import_error(child):
                # An optional dependency: the code does without it (e.g. fastpath's treelite).
                for other in [*child.handlers, *child.orelse, *child.finalbody]:
                    visit_node(other, lazy)
            else:
                visit_node(child, lazy)

    def visit_node(node: ast.AST, lazy: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend((alias.name, lazy) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            name = _resolve(node, module, package)
            found.append((name, lazy))
            if name.split(".")[0] in OURS:  # `from mlops import dvc` imports a module
                found.extend((f"{name}.{alias.name}", lazy) for alias in node.names)
        elif isinstance(node, ast.List | ast.Tuple):
            # [sys.executable, "-m", "dvc", ...]: the module run as a subprocess
            words = [ast.unparse(element) for element in node.elts[:3]]
            if words[:2] == ["sys.executable", "'-m'"] and len(words) == 3:
                found.append((ast.literal_eval(words[2]), True))
        elif (
            isinstance(node, ast.Call)
            and ast.unparse(node.func).endswith("distribution")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.append((f"dist:{node.args[0].value}", True))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            lazy = True
        visit(node, lazy)

    visit(tree, False)
    return found


def _catches_import_error(node: ast.Try) -> bool:
    caught = " ".join(ast.unparse(handler.type) for handler in node.handlers if handler.type)
    return bool(re.search(r"\b(ImportError|ModuleNotFoundError)\b", caught))


def _source(name: str) -> Path | None:
    path = SRC.parent.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@cache
def _module_uses(name: str) -> tuple[Requirement, ...]:
    path = _source(name)
    if path is None:  # `from mlops.x import function`: not a module
        return ()
    uses = _uses(ast.parse(path.read_text()), name, path.name == "__init__.py")
    return (*uses, *((f"mlops.cli:{' '.join(c)}", True) for c in RUNS_COMMANDS.get(name, [])))


@cache
def _cli() -> tuple[ast.Module, dict[tuple[str, ...], ast.FunctionDef]]:
    """The cli package without its command functions (every module of it is imported at each
    start), and each command path's function."""
    top: list[ast.stmt] = []
    commands = {}
    for path in sorted((SRC / "cli").glob("*.py")):
        tree = ast.parse(path.read_text())
        groups = {"app": ()}
        for node in ast.walk(tree):  # app.add_typer(data_app, name="data")
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "app.add_typer":
                (name,) = (kw.value.value for kw in node.keywords if kw.arg == "name")
                groups[node.args[0].id] = (name,)
        for node in tree.body:
            for decorator in getattr(node, "decorator_list", []):
                if isinstance(decorator, ast.Call) and ast.unparse(decorator.func).endswith(
                    ".command"
                ):
                    group = ast.unparse(decorator.func).split(".")[0]
                    commands[(*groups[group], decorator.args[0].value)] = node
        top += [node for node in tree.body if not isinstance(node, ast.FunctionDef)]
    return ast.Module(body=top, type_ignores=[]), commands


def _command(words: list[str]) -> tuple[str, ...]:
    """The command path in an `mlops` command line: ``("registry", "fetch")``."""
    commands = _cli()[1]
    path = tuple(words[:2]) if tuple(words[:2]) in commands else tuple(words[:1])
    assert path in commands, f"no `mlops {' '.join(words)}`"
    return path


def _pipeline_stages() -> list[tuple[str, ...]]:
    """`mlops pipeline` runs `dvc repro`: the stages' own `mlops` commands."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].values()
    return [_command(shlex.split(stage["cmd"])[1:]) for stage in stages]


def _data_source() -> str | None:
    return yaml.safe_load((ROOT / "params.yaml").read_text())["data"].get("source")


@cache
def command_uses(path: tuple[str, ...]) -> dict[str, bool]:
    """Every third-party module (or ``dist:NAME``) that ``mlops PATH`` may use: name -> lazy.
    A name reached both ways is eager."""
    top, commands = _cli()
    seeds = [*_uses(top, "mlops.cli"), *_uses(ast.Module(commands[path].body, []), "mlops.cli")]
    seeds = [(name, False) for name, _ in seeds]  # the command's own body runs: none is lazy
    if path == ("pipeline",):
        seeds += [(f"mlops.cli:{' '.join(stage)}", False) for stage in _pipeline_stages()]
    reached: dict[str, bool] = {}
    pending = list(seeds)
    while pending:
        name, lazy = pending.pop()
        if name in reached and reached[name] <= lazy:
            continue
        reached[name] = lazy
        if name.startswith("mlops.cli:"):
            sub = command_uses(tuple(name.removeprefix("mlops.cli:").split()))
            pending += [(other, lazy or other_lazy) for other, other_lazy in sub.items()]
        elif name == "project.sources" and _data_source():
            pending.append((_data_source(), True))  # the module params.yaml names
        elif name.split(".")[0] in OURS:
            pending += [(other, lazy or other_lazy) for other, other_lazy in _module_uses(name)]
    return {
        name: lazy
        for name, lazy in reached.items()
        if name.split(".")[0] not in (*OURS, "__future__", *sys.stdlib_module_names)
        and not name.startswith("mlops.cli:")
    }


@cache
def _installed() -> dict[str, list[str]]:
    return packages_distributions()  # a scan of every installed distribution: once


def distributions(module: str) -> tuple[set[str], set[str]]:
    """The distributions a module (or ``dist:NAME``) needs, by what this environment installs:
    any one of the first set (ruamel.yaml or ruamel.yaml.clib provide `ruamel`), all of the
    second."""
    if module.startswith("dist:"):
        return {normalize(module.removeprefix("dist:"))}, set()
    providers = _installed().get(module.split(".")[0])
    assert providers, f"{module} is imported but no installed distribution provides it"
    also = SUBMODULE_DISTRIBUTIONS.get(".".join(module.split(".")[:2]))
    return {normalize(name) for name in providers}, {also} if also else set()


def missing(commands: list[tuple[str, ...]], lock: str, job: str) -> dict[str, str]:
    """What the commands may use that the lock lacks: distributions -> the module needing them."""
    pins = set(locked(lock))
    optional = {**OPTIONAL["*"], **OPTIONAL.get(job, {})}
    gaps = {}
    for command in commands:
        for module, lazy in command_uses(command).items():
            if lazy and module.split(".")[0] in optional:
                continue
            providers, also = distributions(module)
            if not (providers & pins and also <= pins):
                gaps[", ".join(sorted(providers | also))] = f"{module} (mlops {' '.join(command)})"
    return gaps


def _workflow_jobs() -> list[tuple[str, str, list[tuple[str, ...]]]]:
    """(job, lock, the `mlops` commands it runs) for every workflow job that installs a lock."""
    jobs = []
    for (name, job), lock in sorted(job_locks().items()):
        runs = [step.get("run", "") for step in load(name)["jobs"][job]["steps"]]
        commands = [_command(shlex.split(run)[1:]) for run in runs if run.startswith("mlops ")]
        jobs.append((f"{name}/{job}", lock, commands))
    return jobs


def _image() -> tuple[str, str, list[tuple[str, ...]]]:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    entrypoint = yaml.safe_load(re.search(r"^ENTRYPOINT (.*)$", dockerfile, re.MULTILINE)[1])
    assert entrypoint[0] == "mlops"
    return "image", image_lock(), [_command(entrypoint[1:])]


def _nox_sessions() -> list[tuple[str, str, list[tuple[str, ...]]]]:
    """(session, lock, commands) for the nox sessions that run `mlops`."""
    locks = {"ALL_LOCK": "requirements/all.lock", "TEST_LOCK": "requirements/test.lock"}
    text = (ROOT / "noxfile.py").read_text()
    locks |= dict(re.findall(r'^(\w+_LOCK) = "(requirements/[\w.-]+)"$', text, re.MULTILINE))
    sessions = []
    for function in ast.parse(text).body:
        if not isinstance(function, ast.FunctionDef):
            continue
        calls = [node for node in ast.walk(function) if isinstance(node, ast.Call)]
        install = [call for call in calls if ast.unparse(call.func) == "_install"]
        runs = [
            [ast.literal_eval(arg) for arg in call.args if isinstance(arg, ast.Constant)]
            for call in calls
            if ast.unparse(call.func) == "session.run"
            and call.args
            and ast.unparse(call.args[0]) == "'mlops'"
        ]
        if install and runs:
            lock = locks[install[0].args[1].id] if len(install[0].args) > 1 else locks["ALL_LOCK"]
            sessions.append((f"nox -s {function.name}", lock, [_command(w[1:]) for w in runs]))
    return sessions


def _jobs() -> list[tuple[str, str, list[tuple[str, ...]]]]:
    return [*_workflow_jobs(), _image(), *_nox_sessions()]


@pytest.mark.parametrize(("job", "lock", "commands"), _jobs(), ids=[job[0] for job in _jobs()])
def test_each_job_lock_holds_what_its_commands_import(
    job: str, lock: str, commands: list[tuple[str, ...]]
) -> None:
    assert commands, f"{job} runs no mlops command"
    assert missing(commands, lock, job) == {}, f"{job} installs {lock}"


def test_the_walk_sees_what_each_extra_is_for() -> None:
    """The walk itself: it finds the imports the extras exist for, at the depth they are at."""
    serve = command_uses(("serve",))
    assert [serve[name] for name in ("fastapi", "uvicorn", "prometheus_client")] == [False] * 3
    assert [serve["gto.api"], serve["dvc"]] == [True, True]  # only where a registry source fetches
    assert command_uses(("monitor", "drift"))["dask.distributed"]  # a cluster only
    assert distributions("dask.distributed") == ({"dask"}, {"distributed"})
    assert not command_uses(("deploy", "wait"))["prometheus_client.parser"]
    pipeline = command_uses(("pipeline",))
    assert not pipeline["matplotlib"]  # `mlops evaluate`, a stage of `dvc repro`
    assert pipeline["dvc"]  # `dvc repro` runs as a subprocess of this interpreter
    assert "fastapi" not in command_uses(("registry", "register"))


def test_the_optional_imports_stay_out_of_reach_of_the_jobs() -> None:
    """What OPTIONAL leaves out needs flags that no job passes."""
    runs = [step.get("run", "") for name in workflows() for step in steps(load(name))]
    assert not [run for run in runs if re.search(r"--scheduler|--local-cluster", run)]
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    deployments = "".join(path.read_text() for path in (ROOT / "deploy/k8s").rglob("*.yaml"))
    for flag in ("--registered", "--stage"):
        assert flag not in dockerfile + deployments


def test_the_image_holds_pandera_only_while_the_service_imports_it() -> None:
    """pandera is the pipeline's: the service reaches ``mlops.schema`` for the contract's types,
    never at load for its checks, so the image goes without it."""
    eager = {name.split(".")[0] for name, lazy in command_uses(("serve",)).items() if not lazy}
    assert ("pandera" in locked(image_lock())) == ("pandera" in eager)


def _extra_requirements(extra: str | None, extras: dict[str, list[str]], base: list[str]) -> set:
    names = set()
    for requirement in base if extra is None else extras[extra]:
        name, _, nested = re.match(r"([\w.-]+)(\[([\w,-]+)\])?", requirement).groups()
        if normalize(name) == "mlops-template":
            for other in nested.split(","):
                names |= _extra_requirements(other, extras, base)
        else:
            names.add(normalize(name))
    return names


@pytest.mark.parametrize("lock", sorted(nox_locks()))
def test_each_lock_holds_the_base_and_its_extras(lock: str) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras, base = project["optional-dependencies"], project["dependencies"]
    wanted = _extra_requirements(None, extras, base)
    for extra in nox_locks()[lock]:
        wanted |= _extra_requirements(extra, extras, base)
    assert wanted - set(locked(lock)) == set()
