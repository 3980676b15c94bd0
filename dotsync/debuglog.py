"""The debug log: where a failure's traceback is kept when the terminal gets one line.

A run that cannot work (refused credentials, say) prints one clear line and exits;
the traceback behind it goes here instead, for whoever has to dig further. The file
is ``dotsync-debug.log`` in the working directory (beside the default staging store),
or the path in ``DOTSYNC_DEBUG_LOG``. It is written only when something fails, and
holds only exception text, which the client already scrubs of credentials.
"""

from __future__ import annotations

import os
import traceback
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_PATH = "dotsync-debug.log"


def path() -> Path:
    return Path(os.environ.get("DOTSYNC_DEBUG_LOG") or DEFAULT_PATH)


def keep(message: str, exc: BaseException) -> Path | None:
    """Append ``message`` and ``exc``'s traceback to the debug log.

    Returns the file's path, or None when it could not be written (a read-only
    directory must not turn one clear failure into another)."""
    target = path()
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        with target.open("a", encoding="utf-8", errors="backslashreplace") as f:
            f.write(f"--- {stamp} {message}\n{text}\n")
    except OSError:
        return None
    return target
