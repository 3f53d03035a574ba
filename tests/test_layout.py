"""The package's layout holds: a kernel, capability folders stacked one way, the team's code
apart. A module may import the kernel, its own folder and the folders below its own; the
kernel imports no folder; the team's package uses only the kernel and the data folder."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
# Lowest first: each capability may use those before it (monitoring reads the collector's
# files, the registry scores a champion, gitops runs the others, the cli offers them all).
STACK = ("data", "pipeline", "serving", "registry", "monitoring", "gitops", "cli")
KERNEL = "kernel"


def _place(path: Path, src: Path) -> str:
    """The folder a module belongs to: a capability, or the kernel (top-level modules)."""
    parts = path.relative_to(src / "mlops").parts
    return parts[0] if len(parts) > 1 else KERNEL


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _target(name: str) -> str | None:
    """The place a dotted import lands in: a capability, the kernel, the team's package."""
    parts = name.split(".")
    if parts[0] == "project":
        return "project"
    if parts[0] != "mlops" or len(parts) == 1:
        return None
    return parts[1] if parts[1] in STACK else KERNEL


def _crossings(src: Path = SRC) -> list[tuple[str, str, str]]:
    """Every import from one place into another: (from, to, where)."""
    found = []
    for path in sorted((src / "mlops").rglob("*.py")):
        place = _place(path, src)
        for name in _imports(path):
            target = _target(name)
            if target not in (None, place):
                found.append((place, target, f"{path.relative_to(src)} imports {name}"))
    return found


def _against_the_direction(src: Path = SRC) -> list[str]:
    return [
        where
        for place, target, where in _crossings(src)
        if target in STACK and (place == KERNEL or STACK.index(target) > STACK.index(place))
    ]


def test_capabilities_import_only_the_kernel_their_own_folder_and_those_below() -> None:
    assert _against_the_direction() == []


def test_the_teams_package_uses_only_the_kernel_and_the_data_folder() -> None:
    wrong = [
        f"{path.relative_to(SRC)} imports {name}"
        for path in sorted((SRC / "project").rglob("*.py"))
        for name in _imports(path)
        if _target(name) not in (None, KERNEL, "data", "project")
    ]
    assert wrong == []


def test_the_kernel_does_not_import_the_teams_package() -> None:
    assert [
        where for place, target, where in _crossings() if (place, target) == (KERNEL, "project")
    ] == []


def test_the_check_sees_imports_against_the_direction(tmp_path: Path) -> None:
    """The rule is live: upward imports, and the kernel importing a folder, are reported."""
    (tmp_path / "mlops" / "data").mkdir(parents=True)
    (tmp_path / "mlops" / "data" / "validate.py").write_text(
        "from mlops.registry import gate\nfrom mlops.data import split\nfrom mlops import paths\n"
    )
    (tmp_path / "mlops" / "tables.py").write_text("def f():\n    from mlops.serving import batch\n")
    assert sorted(_against_the_direction(tmp_path)) == [
        "mlops/data/validate.py imports mlops.registry",
        "mlops/data/validate.py imports mlops.registry.gate",
        "mlops/tables.py imports mlops.serving",
        "mlops/tables.py imports mlops.serving.batch",
    ]
