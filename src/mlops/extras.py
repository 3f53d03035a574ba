"""Which extra of the package installs a module, so that a command whose optional dependency is
missing says what to install instead of showing a traceback (each job installs only its extras:
docs/dependencies.md)."""

from __future__ import annotations

import re
from collections import Counter
from importlib.metadata import PackageNotFoundError, requires

DISTRIBUTION = "mlops-template"
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9._-]+)\s*(?:\[([^\]]*)\])?")
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def extra_of(module: str) -> str | None:
    """The smallest extra that installs the distribution providing ``module`` (``"serve"`` for
    ``fastapi``); a requirement such as ``dask[distributed]`` provides its extras' modules too.
    None when no extra of ours does (then the missing module is a bug, not an install step)."""
    wanted = _normalized(module.split(".")[0])
    try:
        requirements = requires(DISTRIBUTION) or []
    except PackageNotFoundError:
        return None
    sizes: Counter[str] = Counter()
    providers = set()
    for line in requirements:
        requirement, marker = _REQUIREMENT.match(line), _EXTRA.search(line)
        if requirement is None or marker is None or marker.group(1) == "all":
            continue
        sizes[marker.group(1)] += 1
        provided = [requirement.group(1), *(requirement.group(2) or "").split(",")]
        if wanted in {_normalized(name) for name in provided if name.strip()}:
            providers.add(marker.group(1))
    return min(providers, key=lambda extra: (sizes[extra], extra), default=None)


def install_hint(error: ModuleNotFoundError) -> str | None:
    """One line naming the extra to install for a missing module, or None."""
    extra = extra_of(error.name or "")
    if extra is None:
        return None
    return (
        f"this command needs {error.name!r}, which the {extra!r} extra installs: "
        f"pip install -e '.[{extra}]' (docs/dependencies.md lists each job's extras and lock)"
    )
