"""The layers only point down, and no module grows past the size one person can read.

``dotsync`` (plain Python) ← ``tasks`` (Prefect tasks) ← ``flows`` ← ``deployments``.
They are installed as ``dotsync.tasks``, ``dotsync.flows``, ``dotsync.deployments``
(and ``dotsync.data_contracts``, which is plain): a module's layer is its folder.
The plain package imports no Prefect and nothing from ``flows``, ``tasks`` or
``deployments`` (not even inside a function), so the client, the store, the emulator
and the sync steps work without Prefect; the flows import nothing from ``deployments``.
The Prefect commands of ``dotsync`` are added from the top (``deployments/cli.py``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: What each layer must not import, at module level or inside functions.
FORBIDDEN: dict[str, frozenset[str]] = {
    "dotsync": frozenset({"prefect", "flows", "tasks", "deployments"}),
    "data_contracts": frozenset({"prefect", "flows", "tasks", "deployments"}),
    "tasks": frozenset({"flows", "deployments"}),
    "flows": frozenset({"deployments"}),
}

#: The line cap for a module, and the modules still above it. Shrink this list; never
#: grow it. The emulator is a test double of Dotdigital, kept whole on purpose.
MAX_LINES = 400
OVER_THE_CAP: frozenset[str] = frozenset()
EXEMPT_FOLDERS = ("dotsync/emulator/",)


def _modules(package: str) -> Iterator[Path]:
    yield from sorted((ROOT / package).rglob("*.py"))


#: The Prefect layers and the contracts are folders of the checkout installed inside the
#: ``dotsync`` namespace (pyproject's package-dir): ``dotsync.flows`` is the flows layer.
INSIDE_DOTSYNC = ("flows", "tasks", "deployments", "data_contracts")


def _layer(module: str) -> str:
    """The layer of an imported module: ``dotsync.flows.sync`` is in ``flows``,
    ``dotsync.config`` in ``dotsync``, ``prefect.flows`` in ``prefect``."""
    parts = module.split(".")
    if parts[0] == "dotsync" and len(parts) > 1 and parts[1] in INSIDE_DOTSYNC:
        return parts[1]
    return parts[0]


def _imported(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, top-level package) of every import in ``tree``, wherever it is."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, _layer(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:  # from dotsync import flows
                yield node.lineno, _layer(f"{node.module}.{alias.name}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)
              and (getattr(node.func, "attr", None) or getattr(node.func, "id", None))
              == "import_module" and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            yield node.lineno, _layer(node.args[0].value)


def _violations(package: str) -> list[str]:
    found = []
    for path in _modules(package):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, top in _imported(tree):
            if top in FORBIDDEN[package]:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {top}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_only_point_down(package: str) -> None:
    assert _violations(package) == []


def test_the_check_sees_an_import_inside_a_function() -> None:
    source = ("def run():\n    from dotsync.flows.sync import sync\n    import prefect.states\n"
              "    importlib.import_module('dotsync.deployments.serve')\n")
    found = sorted(top for _, top in _imported(ast.parse(source)))
    assert found == ["deployments", "flows", "prefect"]


def _line_counts() -> dict[str, int]:
    counts = {}
    for package in ("dotsync", "data_contracts", "tasks", "flows", "deployments"):
        for path in _modules(package):
            name = path.relative_to(ROOT).as_posix()
            if not name.startswith(EXEMPT_FOLDERS):
                counts[name] = len(path.read_text(encoding="utf-8").splitlines())
    return counts


def test_no_module_is_over_the_line_cap() -> None:
    counts = _line_counts()
    over = {name: n for name, n in counts.items() if n > MAX_LINES and name not in OVER_THE_CAP}
    assert over == {}, f"split these by concern (at most {MAX_LINES} lines each): {over}"


def test_the_allow_list_only_shrinks() -> None:
    """A module that came under the cap leaves the list, so it cannot grow back."""
    counts = _line_counts()
    back_under = sorted(name for name in OVER_THE_CAP if counts.get(name, 0) <= MAX_LINES)
    assert back_under == [], f"remove from OVER_THE_CAP: {back_under}"


def test_the_check_sees_the_layers_inside_the_dotsync_namespace() -> None:
    source = ("from dotsync import flows\nimport dotsync.tasks.retry as r\n"
              "from dotsync.data_contracts import phones\nfrom dotsync.config import x\n"
              "from dotsync.deployments.cli import main\n")
    found = sorted(top for _, top in _imported(ast.parse(source)))
    assert found == ["data_contracts", "deployments", "dotsync", "flows", "tasks"]
