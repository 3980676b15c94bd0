"""The type checker runs as part of the suite: any mypy error fails it.

The scope and strictness are in ``pyproject.toml`` (``[tool.mypy]``): strict over
``dotsync/dotdigital`` (which also proves ``DotdigitalClient`` satisfies ``DotdigitalAPI``)
and ``dotsync/sync`` (the steps, typed against that protocol).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _installed_layout() -> Path:
    """The installed layout made of symbolic links, for mypy to read: it has no notion of
    setuptools' package-dir, so in the checkout it cannot find ``dotsync.flows``,
    ``dotsync.data_contracts`` & co., and their types would silently become ``Any``. Kept
    under ``.mypy_cache`` (ignored by git) so mypy's cache still applies between runs."""
    tree = ROOT / ".mypy_cache" / "installed-layout"
    top = tree / "dotsync"
    if top.exists():
        shutil.rmtree(top)
    top.mkdir(parents=True)
    for entry in (ROOT / "dotsync").iterdir():
        if entry.name != "__pycache__":
            (top / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    for folder in ("flows", "tasks", "deployments", "data_contracts"):
        (top / folder).symlink_to(ROOT / folder, target_is_directory=True)
    return tree


def test_mypy_reports_no_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-color-output", "--no-error-summary",
         "--config-file", str(ROOT / "pyproject.toml")],
        cwd=_installed_layout(), capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
