"""Failures that end a whole run (as opposed to one record's outcome)."""

from __future__ import annotations


class RunFailed(RuntimeError):
    """The run as a whole cannot go on (credentials, host, region, configuration)."""


class CredentialsRefused(RunFailed):
    """Dotdigital refused the API credentials: retrying cannot help (never retried)."""
