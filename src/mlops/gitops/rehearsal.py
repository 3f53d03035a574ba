"""Run a workflow job's steps here, as GitHub Actions would, to rehearse it without GitHub.

Only what the workflows in this repository use is understood: ``run:`` steps, step and job
``env:``, ``if:`` conditions and ``${{ }}`` expressions in GitHub's expression language
(literals, contexts, ``! < <= > >= == != && ||`` with GitHub's precedence and loose,
case-insensitive equality, ``format``, ``contains``, ``startsWith``, ``endsWith`` and the status
functions), ``continue-on-error``, step outputs through ``$GITHUB_OUTPUT``, the job summary
through ``$GITHUB_STEP_SUMMARY``, and job outputs. Anything else fails loudly.

Steps that reach GitHub or a registry (``uses:`` actions, package installs, ``cml``) are the
edges: they are not run but recorded, with the files they would read checked to exist, so a
rehearsal shows exactly what a workflow would send out.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops import dvc, git, yamlio
from mlops.errors import MlopsError
from mlops.gitops.local_github import REPOSITORY, TOKEN, LocalGitHub, local_github

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
SETUP_COMMANDS = ("python -m pip install", "npm install --global")
EDGE_COMMANDS = ("cml ",)
# What an edge action answers, for the steps after it: no image is built in a rehearsal, so the
# image's digest is a stand-in that the overlays are pinned to.
EDGE_OUTPUTS = {"docker/build-push-action": {"digest": "sha256:" + "0" * 64}}


class RehearsalError(MlopsError):
    """A step failed, or the workflow uses something a rehearsal does not understand."""


@dataclass
class StepResult:
    name: str
    kind: str  # run | edge | skipped
    command: str = ""
    returncode: int = 0
    outputs: dict[str, str] = field(default_factory=dict)
    output: str = ""
    summary: str = ""


@dataclass
class JobResult:
    job: str
    steps: list[StepResult]
    outputs: dict[str, str]
    succeeded: bool
    ran: bool = True

    def step(self, name: str) -> StepResult:
        return next(step for step in self.steps if step.name == name)

    @property
    def edges(self) -> list[str]:
        return [step.command for step in self.steps if step.kind == "edge"]


# GitHub's expression language as "Evaluate expressions in workflows and actions" documents it.
# Values are Python's: None (null), bool, int or float (number), str, list (array), dict (object).
_NUMBER = r"-?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
_TOKEN = re.compile(
    rf"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>{_NUMBER})(?![\w.])"
    r"|(?P<name>[A-Za-z_][\w-]*)|(?P<operator>&&|\|\||==|!=|<=|>=|[<>!()\[\].,*]))"
)
_KEYWORDS = {"true": True, "false": False, "null": None}
_CONTEXTS = {"github", "env", "vars", "job", "jobs", "steps", "runner", "secrets"}
_CONTEXTS |= {"strategy", "matrix", "needs", "inputs"}
_STATUS = frozenset({"success", "failure", "cancelled", "always"})
# Lowercased name: fewest and most arguments. Function names ignore case, as on GitHub.
_FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "format": (1, None),
    "contains": (2, 2),
    "startswith": (2, 2),
    "endswith": (2, 2),
    **{name: (0, 0) for name in _STATUS},
}
# Loosest first: || then &&, then == !=, then < <= > >=; then !, then . and [], then ( ).
_LEVELS = (("||",), ("&&",), ("==", "!="), ("<", "<=", ">", ">="))
_ORDER = {
    "<": lambda left, right: left < right,
    "<=": lambda left, right: left <= right,
    ">": lambda left, right: left > right,
    ">=": lambda left, right: left >= right,
}


def _number(text: str) -> int | float:
    lowered = text.lower()
    if "0x" in lowered:
        return int(lowered, 16)
    if "0o" in lowered:
        return int(lowered, 8)
    return float(lowered) if re.search(r"[.e]", lowered) else int(lowered)


class _Parser:
    """Recursive descent with precedence climbing over ``_LEVELS``; nodes are tuples."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens: list[tuple[str, str]] = []
        text, position = expression.rstrip(), 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if not match or not match.lastgroup:
                raise self.error(f"unexpected {text[position:].lstrip()[:1]!r}")
            self.tokens.append((match.lastgroup, match.group(match.lastgroup)))
            position = match.end()
        self.tokens.append(("end", ""))
        self.position = 0

    def error(self, reason: str) -> RehearsalError:
        return RehearsalError(
            f"a rehearsal does not understand the expression {self.expression!r}: {reason}"
        )

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.position]
        self.position += token[0] != "end"
        return token

    def accept(self, operator: str) -> bool:
        if self.tokens[self.position] == ("operator", operator):
            self.position += 1
            return True
        return False

    def expect(self, operator: str) -> None:
        if not self.accept(operator):
            raise self.error(
                f"expected {operator!r}, found {self.tokens[self.position][1] or 'the end'!r}"
            )

    def whole(self) -> tuple[Any, ...]:
        node = self.binary(0)
        if self.tokens[self.position][0] != "end":
            raise self.error(f"unexpected {self.tokens[self.position][1]!r}")
        return node

    def binary(self, level: int) -> tuple[Any, ...]:
        if level == len(_LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while self.tokens[self.position][0] == "operator" and (
            self.tokens[self.position][1] in _LEVELS[level]
        ):
            node = (self.take()[1], node, self.binary(level + 1))
        return node

    def unary(self) -> tuple[Any, ...]:
        return ("!", self.unary()) if self.accept("!") else self.postfix()

    def postfix(self) -> tuple[Any, ...]:
        node = self.primary()
        while True:
            if self.accept("."):
                kind, name = self.take()
                if kind != "name":
                    raise self.error(
                        "object filters (.*) are not supported"
                        if name == "*"
                        else f"a property name must follow '.', not {name or 'the end'!r}"
                    )
                node = ("[]", node, ("literal", name))
            elif self.accept("["):
                node = ("[]", node, self.binary(0))
                self.expect("]")
            else:
                return node

    def primary(self) -> tuple[Any, ...]:
        kind, text = self.take()
        if kind == "string":
            return ("literal", text[1:-1].replace("''", "'"))
        if kind == "number":
            return ("literal", _number(text))
        if (kind, text) == ("operator", "("):
            node = self.binary(0)
            self.expect(")")
            return node
        if kind == "name" and text in _KEYWORDS:
            return ("literal", _KEYWORDS[text])
        if kind == "name" and self.accept("("):
            return self.call(text)
        if kind == "name":
            if text.lower() not in _CONTEXTS:
                raise self.error(f"{text!r} is not a context")
            return ("context", text)
        raise self.error(f"unexpected {text or 'end'!r}")

    def call(self, name: str) -> tuple[Any, ...]:
        arguments: list[tuple[Any, ...]] = []
        if not self.accept(")"):
            arguments.append(self.binary(0))
            while self.accept(","):
                arguments.append(self.binary(0))
            self.expect(")")
        if name.lower() not in _FUNCTIONS:
            raise self.error(f"unknown function {name}()")
        fewest, most = _FUNCTIONS[name.lower()]
        if len(arguments) < fewest or (most is not None and len(arguments) > most):
            raise self.error(
                f"{name}() takes {fewest}{'' if most == fewest else ' or more'} arguments"
            )
        return ("call", name.lower(), *arguments)


def parse(expression: str) -> tuple[Any, ...]:
    """The syntax tree of an expression; a RehearsalError names what is not understood."""
    return _Parser(expression).whole()


def _value(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    return str(value)


def _lookup(value: Any, key: Any) -> Any:
    """``value.key`` or ``value[key]``, null when absent. Keys ignore case, as in GitHub's
    contexts; arrays take whole-number indices."""
    if isinstance(value, list):
        index = _to_number(key)
        whole = index == index and float(index).is_integer()
        return _value(value[int(index)]) if whole and 0 <= index < len(value) else None
    if not isinstance(value, dict) or isinstance(key, dict | list):
        return None
    key = _to_string(key, "")
    if key in value:
        return _value(value[key])
    folded = key.upper()
    return next((_value(v) for k, v in value.items() if str(k).upper() == folded), None)


def _truthy(value: Any) -> bool:
    """Falsy: false, 0, -0, NaN, '' and null."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int | float):
        return value == value and value != 0
    return value != "" if isinstance(value, str) else True


def _kind(value: Any) -> str:
    if value is None or isinstance(value, bool | str | list | dict):
        return type(value).__name__
    return "number"


def _to_number(value: Any) -> int | float:
    """null 0, true 1, false 0, a string its JSON number ('' 0), anything else NaN."""
    if value is None or isinstance(value, bool):
        return int(bool(value))
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        text = value.strip()
        return 0 if not text else _number(text) if re.fullmatch(_NUMBER, text) else float("nan")
    return float("nan")


def _to_string(value: Any, expression: str) -> str:
    """null '', booleans 'true' and 'false', numbers in decimal (exponential when large)."""
    if value is None or isinstance(value, bool):
        return {None: "", True: "true", False: "false"}[value]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[str(value)]
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, str):
        return value
    kind = "an array" if isinstance(value, list) else "an object"
    raise RehearsalError(f"{expression!r} gives {kind}, which GitHub does not cast to a string")


def _coerce(left: Any, right: Any) -> tuple[Any, Any]:
    """Operands of different types are compared as numbers."""
    if _kind(left) != _kind(right):
        return _to_number(left), _to_number(right)
    return left, right


def _equal(left: Any, right: Any) -> bool:
    left, right = _coerce(left, right)
    if isinstance(left, str):
        return left.upper() == right.upper()  # GitHub ignores case when comparing strings
    if isinstance(left, list | dict):
        return left is right  # only the same instance
    return bool(left == right)  # NaN equals nothing


def _compare(operator: str, left: Any, right: Any) -> bool:
    left, right = _coerce(left, right)
    if isinstance(left, str):
        left, right = left.upper(), right.upper()
    elif isinstance(left, list | dict):
        return False
    elif left is None:
        left = right = 0
    return bool(_ORDER[operator](left, right))  # False whenever NaN is an operand


def _format(template: Any, arguments: list[Any], expression: str) -> str:
    """``{N}`` is argument N; ``{{`` and ``}}`` are braces."""
    text, pieces, position = _to_string(template, expression), [], 0
    while position < len(text):
        if text.startswith(("{{", "}}"), position):
            pieces.append(text[position])
            position += 2
        elif text[position] == "{":
            end = text.find("}", position)
            index = text[position + 1 : end] if end != -1 else ""
            if not (index.isascii() and index.isdigit() and int(index) < len(arguments)):
                raise RehearsalError(f"{expression!r}: format() has no argument for {{{index}")
            pieces.append(_to_string(arguments[int(index)], expression))
            position = end + 1
        elif text[position] == "}":
            raise RehearsalError(f"{expression!r}: format() has an unmatched '}}' in {text!r}")
        else:
            pieces.append(text[position])
            position += 1
    return "".join(pieces)


def _call(name: str, arguments: list[Any], failed: bool | None, expression: str) -> Any:
    if name in _STATUS:
        if failed is None:
            raise RehearsalError(f"{expression!r}: {name}() belongs in an if: condition")
        return {"success": not failed, "failure": failed, "cancelled": False, "always": True}[name]
    if name == "format":
        return _format(arguments[0], arguments[1:], expression)
    search, item = arguments
    if name == "contains" and isinstance(search, list):
        return any(_equal(element, item) for element in search)
    if isinstance(search, list | dict) or isinstance(item, list | dict):
        return False
    haystack, needle = _to_string(search, expression).upper(), _to_string(item, expression).upper()
    if name == "contains":
        return needle in haystack
    return haystack.startswith(needle) if name == "startswith" else haystack.endswith(needle)


def _evaluate(
    node: tuple[Any, ...], context: dict[str, Any], failed: bool | None, expression: str
) -> Any:
    kind = node[0]
    if kind == "literal":
        return node[1]
    if kind == "context":
        value = _lookup(context, node[1])
        if value is None:
            raise RehearsalError(
                f"{expression!r} reads {node[1]}, which the rehearsal does not give"
            )
        return value

    def operand(index: int) -> Any:
        return _evaluate(node[index], context, failed, expression)

    if kind == "!":
        return not _truthy(operand(1))
    if kind == "&&":  # short-circuits, and gives an operand, not a boolean
        left = operand(1)
        return operand(2) if _truthy(left) else left
    if kind == "||":
        left = operand(1)
        return left if _truthy(left) else operand(2)
    if kind == "call":
        return _call(node[1], [operand(i) for i in range(2, len(node))], failed, expression)
    if kind == "[]":
        return _lookup(operand(1), operand(2))
    if kind in ("==", "!="):
        return _equal(operand(1), operand(2)) == (kind == "==")
    return _compare(kind, operand(1), operand(2))


def evaluate(expression: str, context: dict[str, Any], failed: bool | None = False) -> Any:
    """``expression``'s value in ``context``, by GitHub's rules. ``failed`` (whether an earlier
    step failed) answers the status functions; None, outside ``if:``, refuses them."""
    return _evaluate(parse(expression), context, failed, expression)


def expressions(text: str) -> Iterator[tuple[int, int, str]]:
    """Each ``${{ }}`` in ``text``: start, end and the expression. A ``}}`` inside a quoted
    string does not close it."""
    start = text.find("${{")
    while start != -1:
        position, quoted = start + 3, False
        while quoted or not text.startswith("}}", position):
            if position >= len(text):
                raise RehearsalError(f"an expression in {text!r} is not closed with '}}}}'")
            quoted ^= text[position] == "'"
            position += 1
        yield start, position + 2, text[start + 3 : position].strip()
        start = text.find("${{", position + 2)


def substitute(text: str, context: dict[str, Any]) -> str:
    pieces, last = [], 0
    for start, end, expression in expressions(text):
        value = evaluate(expression, context, failed=None)
        pieces += [text[last:start], _to_string(value, expression)]
        last = end
    return "".join(pieces) + text[last:]


def _calls_status(node: tuple[Any, ...]) -> bool:
    if node[0] == "call" and node[1] in _STATUS:
        return True
    return any(_calls_status(child) for child in node[1:] if isinstance(child, tuple))


def _condition(step: dict[str, Any], context: dict[str, Any], failed: bool) -> bool:
    """A step's or job's ``if:``. Without a status function it is ``success() && (...)``, so
    after a failure only ``always()``, ``failure()`` or ``!cancelled()`` conditions run."""
    condition = step.get("if", "")
    if isinstance(condition, bool):
        condition = "true" if condition else "false"
    condition = str(condition).strip()
    if not condition:
        return not failed
    spans = list(expressions(condition))
    if spans and spans[0][:2] != (0, len(condition)):
        raise RehearsalError(f"the condition {condition!r} mixes text and ${{{{ }}}}: always true")
    expression = spans[0][2] if spans else condition
    tree = parse(expression)
    if not _calls_status(tree):
        tree = ("&&", ("call", "success"), tree)
    return _truthy(_evaluate(tree, context, failed, expression))


def _outputs(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines() if path.exists() else []
    return dict(line.split("=", 1) for line in lines if "=" in line)


def run_job(
    workflow: Path,
    job: str,
    cwd: Path,
    context: dict[str, Any],
    extra_env: dict[str, str] | None = None,
) -> JobResult:
    """Run ``job`` of ``workflow`` in ``cwd``; ``context`` holds github, secrets, vars, needs."""
    document = yamlio.load(workflow.read_text())
    spec = document["jobs"][job]
    context = {**context, "steps": {}}
    if not _condition(spec, context, failed=False):
        return JobResult(job, [], {}, succeeded=True, ran=False)
    # The mlops beside this interpreter, whatever the caller's PATH says.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    base_env = {**os.environ, "PATH": path, **(extra_env or {})}
    declared = {**document.get("env", {}), **spec.get("env", {})}  # the workflow's, then the job's
    job_env = {key: substitute(str(value), context) for key, value in declared.items()}
    context["env"] = job_env
    results: list[StepResult] = []
    failed = False
    for number, step in enumerate(spec["steps"]):
        name = step.get("id") or step.get("name") or f"step {number}"
        if not _condition(step, context, failed):
            results.append(StepResult(name, "skipped"))
            continue
        if "uses" in step:
            outputs = EDGE_OUTPUTS.get(step["uses"].split("@")[0], {})
            results.append(StepResult(name, "edge", step["uses"], outputs=outputs))
            context["steps"][name] = {"outputs": outputs, "outcome": "success"}
            continue
        env = {**job_env}
        env |= {key: substitute(str(value), context) for key, value in step.get("env", {}).items()}
        command = substitute(step["run"], context)
        result = _run(name, command, cwd, {**base_env, **env})
        results.append(result)
        context["steps"][name] = {
            "outputs": result.outputs,
            "outcome": "success" if result.returncode == 0 else "failure",
        }
        if result.returncode and not step.get("continue-on-error"):
            failed = True
    outputs = {
        key: substitute(str(value), context) for key, value in spec.get("outputs", {}).items()
    }
    return JobResult(job, results, outputs, not failed)


def _run(name: str, command: str, cwd: Path, env: dict[str, str]) -> StepResult:
    if command.startswith(SETUP_COMMANDS):
        return StepResult(name, "skipped", command)
    if command.startswith(EDGE_COMMANDS):
        words = [
            re.sub(r"\$(\w+)", lambda match: env.get(match.group(1), ""), word)
            for word in shlex.split(command)
        ]
        files = [w for w in words if not w.startswith("-") and " " not in w and "/" in w]
        missing = [file for file in files if not (cwd / file).exists()]
        if missing:
            raise RehearsalError(f"{name}: cml would read files that do not exist: {missing}")
        return StepResult(name, "edge", " ".join(words))
    with tempfile.TemporaryDirectory() as scratch:
        output_file, summary_file = Path(scratch) / "output", Path(scratch) / "summary"
        step_files = {"GITHUB_OUTPUT": str(output_file), "GITHUB_STEP_SUMMARY": str(summary_file)}
        finished = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", command],
            cwd=cwd,
            env={**env, **step_files},
            capture_output=True,
            text=True,
            check=False,
        )
        outputs = _outputs(output_file)
        summary = summary_file.read_text() if summary_file.exists() else ""
    return StepResult(
        name,
        "run",
        command,
        finished.returncode,
        outputs,
        finished.stdout + finished.stderr,
        summary,
    )


@dataclass
class Project:
    """A clone with a bare local origin, a local DVC remote and a local GitHub stand-in, where
    workflow jobs run as they would on GitHub."""

    repo: Path
    origin: Path
    forge: LocalGitHub
    actor: str = "rehearsal"

    def git(self, *args: str) -> str:
        return git.run(*args, cwd=self.repo)

    def mlops(self, *args: str) -> str:
        """An ``mlops`` command in the clone, as a person (or the README) would type it."""
        finished = subprocess.run(
            [str(Path(sys.executable).parent / "mlops"), *args],
            cwd=self.repo,
            capture_output=True,
            text=True,
            check=False,
        )
        if finished.returncode:
            raise RehearsalError(f"mlops {' '.join(args)}: {finished.stderr or finished.stdout}")
        return finished.stdout

    def job(self, workflow: str, job: str, event: str, **context: Any) -> JobResult:
        """Run one job of ``.github/workflows/WORKFLOW.yml`` for ``event``."""
        github = {
            "event_name": event,
            "repository": REPOSITORY,
            "server_url": "https://github.invalid",
            "run_id": "1",
            "sha": self.git("rev-parse", "HEAD").strip(),
            "ref_name": self.git("branch", "--show-current").strip(),
            "actor": self.actor,
            "event": {"repository": {"default_branch": "main"}},
            **context.pop("github", {}),
        }
        return run_job(
            self.repo / ".github" / "workflows" / f"{workflow}.yml",
            job,
            self.repo,
            {"github": github, "secrets": {"GITHUB_TOKEN": TOKEN}, "vars": {}, **context},
            self.forge.env(),
        )

    def publish(self) -> None:
        """Push the branch and its data and models (git to origin, DVC to the remote)."""
        self.git("push", "--quiet", "origin", "HEAD")
        dvc.run("push", "--quiet", cwd=self.repo)


@contextmanager
def project(clone: Path, dvc_remote: Path) -> Iterator[Project]:
    """Give ``clone`` a bare origin beside it, ``dvc_remote`` as its DVC remote, and a forge."""
    origin = clone.parent / f"{clone.name}-origin.git"
    git.run("init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    git.run("remote", "set-url", "origin", str(origin), cwd=clone)
    remote = dvc.run("remote", "default", cwd=clone).stdout.strip()
    dvc.run("remote", "modify", "--local", remote, "url", str(dvc_remote), cwd=clone)
    with local_github() as forge:
        rehearsed = Project(clone, origin, forge)
        rehearsed.git("push", "--quiet", "origin", "HEAD:main")
        yield rehearsed
