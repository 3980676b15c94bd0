"""Run one dotsync command or flow in this process with the ledger lock traced and gated.

    python -m tests.e2e.writer_trace LABEL -- --account one sync --poll-interval 0.05
    python -m tests.e2e.writer_trace LABEL --replay ACCOUNT

A test starts several of these as separate processes (as separate workers would run
them) and decides from the trace, not from timing, whether the account's ledger ever
had two writers. The lock itself is the real one (:mod:`dotsync.store.writer`); only
its holder is wrapped, so that:

- each acquisition appends ``acquire`` to the trace file (``WRITER_TRACE``) *after*
  the lock is taken, and each release appends ``release`` *before* it is given back:
  so if the lock works, one holder's ``release`` is always written before the next
  holder's ``acquire``, whatever the scheduling;
- the first failed try of a wait appends ``wait``;
- with ``WRITER_GATE`` set (a folder), a holder stops right after taking the lock until
  the file ``LABEL.N`` appears there (N: this process's Nth acquisition). The test opens
  each gate only when it has seen what it wants while the lock is held.

Times are ``time.monotonic_ns()``: one system-wide clock on Linux, so the order of
lines from different processes is meaningful (the file is appended with O_APPEND, one
``write`` per line).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

TRACE_ENV = "WRITER_TRACE"
GATE_ENV = "WRITER_GATE"
#: How long a gated holder waits for its gate before going on (the test has failed by then).
GATE_TIMEOUT = 900.0


def _log(label: str, event: str, n: int) -> None:
    line = json.dumps({"label": label, "event": event, "n": n, "pid": os.getpid(),
                       "ns": time.monotonic_ns()}) + "\n"
    fd = os.open(os.environ[TRACE_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_trace(path: Path) -> list[dict[str, Any]]:
    """The trace's events in the order they were written."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def install(label: str) -> None:
    """Wrap every ledger-lock holder this process makes."""
    from dotsync.store import writer

    real = writer._holder_for
    acquisitions = 0
    gate = os.environ.get(GATE_ENV)

    class Traced(writer._Holder):
        def __init__(self, inner: writer._Holder) -> None:
            self.inner = inner
            self.held = False
            self.waited = False

        def try_acquire(self) -> bool:
            nonlocal acquisitions
            if not self.inner.try_acquire():
                if not self.waited:
                    self.waited = True
                    _log(label, "wait", acquisitions + 1)
                return False
            acquisitions += 1
            self.held = True
            _log(label, "acquire", acquisitions)
            if gate:
                opened = Path(gate) / f"{label}.{acquisitions}"
                deadline = time.monotonic() + GATE_TIMEOUT
                while not opened.exists() and time.monotonic() < deadline:
                    time.sleep(0.05)
            return True

        def release(self) -> None:
            if self.held:
                self.held = False
                _log(label, "release", acquisitions)
            self.inner.release()

    writer._holder_for = lambda engine: Traced(real(engine))  # type: ignore[assignment]


def main(argv: list[str]) -> int:
    label, rest = argv[0], argv[1:]
    install(label)
    if rest[:1] == ["--replay"]:
        from dotsync.flows.replay import replay

        state = replay(account=rest[1], return_state=True)
        print(f"replay: {state.type.value}: {state.message}", flush=True)
        return 0 if state.is_completed() else 1
    from dotsync.deployments.cli import main as dotsync

    try:
        dotsync(rest[1:] if rest[:1] == ["--"] else rest, prog_name="dotsync")
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
