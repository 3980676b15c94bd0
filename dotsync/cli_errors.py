"""How the command line reports errors that happen while a command runs (SPEC §4).

Click prints its "Usage: ... Try --help" banner for any :class:`click.UsageError`, which
suits a mistyped option but not an unreachable database or a bad value in
``dotsync.toml``: the user did type the command right. Every command's callback is
wrapped here so that, once the arguments are parsed:

* a configuration problem (:class:`~dotsync.config.ConfigError`, a ``UsageError`` raised
  by the command itself, a staging store that cannot be opened) prints one line naming
  it and exits 2;
* anything else prints one line saying what failed and where its traceback was kept
  (:mod:`dotsync.debuglog`), and exits 1: it is not called a configuration error.

Errors in parsing the command line itself keep click's usage banner.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from dotsync import debuglog
from dotsync.config import ConfigError

EXIT_FAILED = 1
EXIT_CONFIG = 2


class ConfigurationError(click.ClickException):
    """A usage or configuration problem found while the command ran: one line, exit 2."""

    exit_code = EXIT_CONFIG

    def show(self, file: Any = None) -> None:
        click.echo(f"dotsync: {self.format_message()}", err=True, file=file)


class CommandFailed(click.ClickException):
    """The command could not finish for a reason that is not configuration: exit 1."""

    exit_code = EXIT_FAILED

    def show(self, file: Any = None) -> None:
        click.echo(f"dotsync: {self.format_message()}", err=True, file=file)


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _is_database_error(exc: BaseException) -> bool:
    try:
        import sqlalchemy as sa
    except ImportError:  # pragma: no cover - a dependency
        return False
    return isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError
                      | sa.exc.ArgumentError | sa.exc.NoSuchModuleError)


def guarded(callback: Callable[..., Any], name: str) -> Callable[..., Any]:
    """``callback`` with its runtime errors reported as this module says."""

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except (ConfigurationError, CommandFailed):
            raise
        except click.UsageError as exc:  # raised by the command's own checks
            raise ConfigurationError(exc.format_message()) from None
        except ConfigError as exc:
            raise ConfigurationError(str(exc)) from None
        except (click.exceptions.Exit, click.Abort, click.ClickException):
            raise
        except Exception as exc:
            if _is_database_error(exc):
                raise ConfigurationError(
                    "cannot use the staging store (DOTSYNC_DATABASE_URL): "
                    f"{type(exc).__name__}: {first_line(exc)}") from None
            where = debuglog.keep(f"dotsync {name} failed", exc)
            kept = f" (traceback in {where})" if where else ""
            raise CommandFailed(f"{name} failed: {type(exc).__name__}: "
                                f"{first_line(exc)}{kept}") from None

    return run


def guard_commands(group: click.Group) -> None:
    """Wrap the callback of every command of ``group`` (and of its subgroups) once."""
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            guard_commands(command)
        if command.callback is not None and not getattr(command, "_dotsync_guarded", False):
            command.callback = guarded(command.callback, name)
            command._dotsync_guarded = True  # type: ignore[attr-defined]
