"""Running the emulator: in a background thread (tests) or in the foreground (CLI).

The listening socket is bound before uvicorn starts, so the real port is known at once even
for port 0 (a free port): the CLI can print its URL first, and tests never race for a port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import uvicorn

from dotsync.emulator.app import create_app
from dotsync.emulator.config import DEFAULT_PASSWORD, DEFAULT_USER, EmulatorConfig
from dotsync.emulator.state import EmulatorState

START_TIMEOUT = 10.0

#: Seconds the emulator keeps an idle connection open (uvicorn's default, and a common
#: server's): the client must stop reusing a connection before a server closes it.
KEEP_ALIVE = 5


def _bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio turns on TCP_NODELAY only for sockets whose proto says
    # TCP, and without it every response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _uvicorn_config(app: Any, log_level: str) -> uvicorn.Config:
    """uvicorn's settings, loaded: its protocol and loop modules are imported here.

    Loaded at once so that nothing is left to import between announcing the URL and
    serving (or stopping): uvicorn otherwise imports h11, its protocol modules and, for
    ``ws="auto"``, the websockets package (about 70 modules) only once ``run`` starts,
    and under load a stop request that came meanwhile waited for all of them. The
    emulator has no WebSocket endpoint, so ``ws="none"``.
    """
    config = uvicorn.Config(app, lifespan="off", log_level=log_level, access_log=False,
                            proxy_headers=False, server_header=False, date_header=True,
                            timeout_graceful_shutdown=2, timeout_keep_alive=KEEP_ALIVE, ws="none")
    config.load()
    config.get_loop_factory()  # imports uvicorn's loop module now, not inside run()
    return config


class _QuickStopServer(uvicorn.Server):
    """uvicorn checks ``should_exit`` every 0.1 s; this checks every 0.01 s.

    A test suite starts and stops hundreds of emulators, so the tenth of a second per stop
    adds up. uvicorn's own ``on_tick`` (the Date header, limits) still runs every 0.1 s.
    """

    #: Set by a stop request that came before uvicorn listened for signals itself.
    stop_requested: threading.Event | None = None

    async def main_loop(self) -> None:
        counter = 0
        should_exit = await self.on_tick(counter)
        ticks = 0
        while not should_exit:
            await asyncio.sleep(0.01)
            if self.stop_requested is not None and self.stop_requested.is_set():
                self.should_exit = True
            if self.should_exit:
                break
            ticks += 1
            if ticks % 10 == 0:
                counter = (counter + 1) % 864000
                should_exit = await self.on_tick(counter)


class EmulatorServer:
    """The emulator on 127.0.0.1 in a background thread; a context manager.

    ``with EmulatorServer(EmulatorConfig(import_delay=0.5)) as server:`` gives
    ``server.url`` (``http://127.0.0.1:PORT``, no trailing slash) and ``server.state``
    (an :class:`EmulatorState`). Leaving the block stops uvicorn and joins its thread.
    """

    def __init__(self, config: EmulatorConfig | None = None, port: int = 0,
                 log_level: str = "warning") -> None:
        self.config = config or EmulatorConfig()
        self.state = EmulatorState(self.config)
        self.app = create_app(state=self.state)
        self._port = port
        self._log_level = log_level
        self._server: _QuickStopServer | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.port: int = 0

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("the emulator is not running")
        return f"http://{self.config.host}:{self.port}"

    def start(self) -> EmulatorServer:
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        self._sock = _bind(self.config.host, self._port)
        self.port = self._sock.getsockname()[1]
        self._server = _QuickStopServer(_uvicorn_config(self.app, self._log_level))
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._sock]},
                                        name=f"dotsync-emulator-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive():
                self._cleanup()
                raise RuntimeError("the emulator failed to start")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the emulator did not start in time")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop uvicorn and the state's import worker; pending imports stay pending."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout=5)
        self.state.close()
        self._cleanup()

    def _cleanup(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = None
        self._thread = None
        self._server = None
        self.port = 0

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def serve(port: int = 0, user: str = DEFAULT_USER, password: str = DEFAULT_PASSWORD,
          seed_path: str | Path | None = None, *,
          announce: Callable[[str], None] | None = None, log_level: str = "warning",
          **faults: Any) -> None:
    """Run the emulator in the foreground until interrupted (Ctrl-C or SIGTERM).

    ``announce(url)`` is called once the socket is bound and before serving, so a caller can
    print the base URL first. ``faults`` are :class:`EmulatorConfig` fields (``latency``,
    ``error_rate``, ``drop_rate``, ``import_delay``, ``rate_limit_per_minute``…).
    """
    faults.setdefault("tune_gc", True)  # the foreground emulator owns its process
    config = EmulatorConfig(user=user, password=password, seed=seed_path, **faults)
    app = create_app(config)
    sock = _bind(config.host, port)
    try:
        with _stop_requests() as stop:
            logging.getLogger("uvicorn.error").setLevel(log_level.upper())
            # Everything that imports or builds is done before the URL is announced: a
            # caller that reads the URL and stops at once waits only for uvicorn's own
            # start and stop, not for module imports (slow under load).
            server = _QuickStopServer(_uvicorn_config(app, log_level))
            server.stop_requested = stop
            url = f"http://{config.host}:{sock.getsockname()[1]}"
            if announce is not None:
                announce(url)  # the socket already listens: clients may connect now
            if not stop.is_set():
                server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # a second Ctrl-C after our handler was put back: stopping anyway
    finally:
        sock.close()


@contextlib.contextmanager
def _stop_requests() -> Iterator[threading.Event]:
    """Ctrl-C and SIGTERM as a request to stop, from before the URL is announced.

    uvicorn listens for both signals only once its event loop runs. A signal that came
    earlier (a caller reading the URL line and stopping at once) used to raise
    ``KeyboardInterrupt`` wherever start-up was, sometimes inside asyncio's loop set-up,
    which then printed a traceback or hung. Here every such signal just sets an event that
    the server checks on each tick; uvicorn's own handlers take over while it serves and,
    when it re-raises the signal after a graceful shutdown, it lands here again.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def request(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
