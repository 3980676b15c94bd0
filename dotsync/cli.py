"""The ``dotsync`` command line (SPEC §4)."""

from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="dotsync")
def main() -> None:
    """Keep Dotdigital in step with a shop's commerce data."""
