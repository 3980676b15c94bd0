"""dotsync: keep Dotdigital in step with a shop's commerce data.

This package is plain Python (no Prefect): configuration, the Dotdigital client,
the local emulator and the staging store. Prefect flows live in ``flows/``.
"""

__version__ = "0.1.0"
