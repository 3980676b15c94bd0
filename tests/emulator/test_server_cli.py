"""Starting and stopping the emulator: in a thread, as ``python -m dotsync.emulator``, via click."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from dotsync.emulator import DEFAULT_PASSWORD, DEFAULT_USER, EmulatorConfig, EmulatorServer
from dotsync.emulator.cli import emulator_command

#: A sanity bound only: the start time is measured and reported, not asserted tightly.
START_BOUND = 10.0


def test_server_runs_in_a_thread_and_stops_cleanly() -> None:
    before = set(threading.enumerate())
    server = EmulatorServer(EmulatorConfig())
    with pytest.raises(RuntimeError):
        _ = server.url
    with server:
        url = server.url
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/_emulator/calls").status_code == 200
        with pytest.raises(RuntimeError, match="already running"):
            server.start()
    assert set(threading.enumerate()) == before
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/_emulator/calls", timeout=1)


def test_two_emulators_side_by_side() -> None:
    with EmulatorServer() as a, EmulatorServer() as b:
        assert a.port != b.port
        httpx.patch(f"{a.url}/contacts/v3/email/jo@example.com", json={},
                    auth=(DEFAULT_USER, DEFAULT_PASSWORD))
        assert len(a.state.contacts()) == 1 and b.state.contacts() == []


def test_a_busy_port_is_an_error() -> None:
    with EmulatorServer() as first, pytest.raises(OSError):
        EmulatorServer(port=first.port).start()


def test_restart_after_stop() -> None:
    server = EmulatorServer()
    with server:
        first = server.url
    with server:
        assert httpx.get(f"{server.url}/_emulator/calls").status_code == 200
    assert first.startswith("http://127.0.0.1:")


@contextmanager
def _subprocess(*args: str) -> Iterator[tuple[subprocess.Popen[str], str, float]]:
    """The emulator as a child process: (process, first line of stdout, seconds to it)."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "dotsync.emulator", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first_line = proc.stdout.readline().strip()  # type: ignore[union-attr]
        elapsed = time.monotonic() - started
        yield proc, first_line, elapsed
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]


def test_module_starts_quickly_and_serves_on_the_printed_port(capsys) -> None:
    with _subprocess("--port", "0") as (proc, url, to_first_line):
        first_line_at = time.monotonic()
        assert url.startswith("http://127.0.0.1:"), url
        r = httpx.get(f"{url}/v2/account-info", auth=(DEFAULT_USER, DEFAULT_PASSWORD))
        to_served = to_first_line + time.monotonic() - first_line_at
        assert r.status_code == 200
        endpoint = {p["name"]: p["value"] for p in r.json()["properties"]}["ApiEndpoint"]
        assert endpoint == url + "/"
        rest = [proc.stdout.readline().strip() for _ in range(2)]  # type: ignore[union-attr]
        assert rest[0] == f"API user: {DEFAULT_USER}"
        assert DEFAULT_PASSWORD in rest[1] and "default" in rest[1]
        assert to_first_line < START_BOUND
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    with capsys.disabled():
        print(f"\n[emulator start] python -m dotsync.emulator: base URL printed after "
              f"{to_first_line:.3f} s (served account-info by {to_served:.3f} s)")


def test_module_with_credentials_seed_and_faults(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"campaigns": [{"id": 42, "name": "Voucher",
                                               "status": "Triggered"}]}))
    with _subprocess("--port", "0", "--user", "apiuser-me@apiconnector.com", "--password",
                     "pw", "--seed", str(seed), "--latency", "0.05") as (proc, url, _):
        lines = [proc.stdout.readline().strip() for _ in range(2)]  # type: ignore[union-attr]
        assert lines[0] == "API user: apiuser-me@apiconnector.com"
        assert "pw" not in lines[1]                    # a chosen password is not echoed
        auth = ("apiuser-me@apiconnector.com", "pw")
        started = time.monotonic()
        r = httpx.get(f"{url}/v2/campaigns", auth=auth)
        assert time.monotonic() - started >= 0.05
        assert [c["id"] for c in r.json()] == [42]
        assert httpx.get(f"{url}/v2/campaigns",
                         auth=(DEFAULT_USER, DEFAULT_PASSWORD)).status_code == 401


def test_sigint_stops_it_cleanly() -> None:
    with _subprocess() as (proc, url, _):
        assert url.startswith("http://127.0.0.1:")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert "Traceback" not in proc.stderr.read()  # type: ignore[union-attr]


def test_nothing_is_left_to_import_once_the_url_is_announced() -> None:
    """Between the URL line and serving, nothing is imported: a caller that reads the URL
    and stops at once (as the SIGINT test does) waits for uvicorn's start and stop only.
    uvicorn used to import h11, its protocol modules and websockets (about 70 modules)
    there, which under load made that stop take longer than the test's bound."""
    code = ("import os, signal, sys\n"
            "from dotsync.emulator import server as s\n"
            "seen = {}\n"
            "def announce(url):\n"
            "    seen['announced'] = set(sys.modules)\n"
            "serving = s._QuickStopServer.main_loop\n"
            "async def main_loop(self):\n"
            "    seen['serving'] = set(sys.modules)\n"
            "    os.kill(os.getpid(), signal.SIGINT)\n"
            "    await serving(self)\n"
            "s._QuickStopServer.main_loop = main_loop\n"
            "s.serve(announce=announce)\n"
            "print(sorted(seen['serving'] - seen['announced']))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


#: Moments before uvicorn listens for signals itself: right after the URL is printed (a
#: caller that reads the URL line and stops at once), and while asyncio builds the loop.
_EARLY_STOPS = {
    "announce": "serve(announce=lambda url: os.kill(os.getpid(), SIG))\n",
    "loop set-up": ("def factory():\n"
                    "    os.kill(os.getpid(), SIG)\n"
                    "    return asyncio.new_event_loop()\n"
                    "uvicorn.Config.get_loop_factory = lambda self: factory\n"
                    "serve()\n"),
}


@pytest.mark.parametrize("moment", sorted(_EARLY_STOPS))
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_before_uvicorn_listens_still_stops_cleanly(sig: int, moment: str) -> None:
    code = ("import asyncio, os, uvicorn\n"
            "from dotsync.emulator.server import serve\n"
            f"SIG = {int(sig)}\n" + _EARLY_STOPS[moment] + "print('returned')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "returned"
    assert "Traceback" not in done.stderr and "never awaited" not in done.stderr


@pytest.mark.parametrize("args", [["--error-rate", "2"], ["--seed", "/no/such/file.json"],
                                  ["--port", "70000"], ["--import-delay", "-1"],
                                  ["--failed-import-status", "Exploded"]])
def test_cli_rejects_bad_options(args: list[str]) -> None:
    result = CliRunner().invoke(emulator_command, args)
    assert result.exit_code == 2, result.output


def test_cli_reports_a_bad_seed_and_a_busy_port(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text('{"campaingns": []}')
    result = CliRunner().invoke(emulator_command, ["--seed", str(seed)])
    assert result.exit_code == 2 and "campaingns" in result.output
    with EmulatorServer() as busy:
        result = CliRunner().invoke(emulator_command, ["--port", str(busy.port)])
        assert result.exit_code == 2 and "cannot listen" in result.output


def test_cli_help() -> None:
    result = CliRunner().invoke(emulator_command, ["--help"])
    assert result.exit_code == 0
    for option in ("--port", "--user", "--password", "--seed", "--latency", "--error-rate",
                   "--import-delay", "--drop-rate", "--rate-limit"):
        assert option in result.output
