"""Prefect tasks: thin, batch-sized wrappers around the plain steps in ``dotsync.sync``.

Each task works on a whole batch (a DataFrame or a set of keys), never on one
record, so Prefect's per-task cost (a few milliseconds) stays negligible.
"""
