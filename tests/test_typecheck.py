"""The type checker runs as part of the suite: any mypy error fails it.

The scope and strictness are in ``pyproject.toml`` (``[tool.mypy]``): strict over
``dotsync/dotdigital`` (which also proves ``DotdigitalClient`` satisfies ``DotdigitalAPI``)
and ``dotsync/sync`` (the steps, typed against that protocol).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_reports_no_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-color-output", "--no-error-summary"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
