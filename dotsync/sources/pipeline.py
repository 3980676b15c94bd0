"""``load --format`` on two cores: read and map in a child process, write in this one.

The child parses the file and maps each object (the larger share of the work); it
hands the mapped rows over :data:`HANDOVER_ROWS` at a time as plain tuples. This
process checks them (storable text, a key), gathers them into batches of
``batch_rows`` and writes them, so the work is split about evenly between the two
cores. At most two handovers wait between the processes: memory stays flat.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_module
from pathlib import Path
from typing import Any

from dotsync.sources import state
from dotsync.sources.load import (
    _Batch,
    _file_objects,
    _write_counted,
    collect,
    mapped_objects,
)
from dotsync.store.db import Store, UpsertCounts
from dotsync.store.loader import LoadError, LoadReport

#: Objects the reading process hands over at a time: a small batch stays in the
#: CPU's caches while it is built (10,000 mapped rows held at once made the mapping
#: a quarter slower) and pickles quickly.
HANDOVER_ROWS = 1_000


def _produce(platform: str, entity: str, path: str, chunk: int,
             link_template: str | None, channel: Any) -> None:
    """The reading process: parse and map, hand the mapped objects over."""
    report = LoadReport(entity=entity, path=path)
    form: dict[str, str] = {}
    try:
        for mapped in mapped_objects(platform, entity,
                                     _file_objects(platform, entity, Path(path), form),
                                     report, chunk=chunk, link_template=link_template,
                                     form=form):
            channel.put(("mapped", (mapped, form.get("unit", "element")),
                         list(report.problems), report.rows))
            # Handed over: the writing process counts and keeps them.
            report.problems.clear()
        channel.put(("done", None, list(report.problems), report.rows))
    except LoadError as exc:
        channel.put(("error", str(exc), [], report.rows))
    except OSError as exc:
        channel.put(("error", f"cannot read {path}: {exc.strerror or exc}", [],
                     report.rows))
    except BaseException as exc:  # reported to the writing process, never lost
        channel.put(("error", f"reading failed: {type(exc).__name__}: {exc}", [],
                     report.rows))


def load_in_two_processes(store: Store, platform: str, entity: str, path: Path,
                          report: LoadReport, *, batch_rows: int,
                          link_template: str | None) -> LoadReport:
    """Read and map in a child process while this one checks and writes."""
    state.ensure(store.engine)
    counts = [0, 0, 0]
    batch = _Batch()
    unit = "element"
    ctx = multiprocessing.get_context("spawn")
    channel = ctx.Queue(maxsize=2)
    child = ctx.Process(target=_produce, args=(platform, entity, str(path),
                                               min(batch_rows, HANDOVER_ROWS),
                                               link_template, channel), daemon=True)
    child.start()
    try:
        while True:
            try:
                kind, payload, problems, rows = channel.get(timeout=5)
            except queue_module.Empty:
                if not child.is_alive():
                    raise LoadError("the reading process stopped without a word "
                                    f"(exit code {child.exitcode})") from None
                continue
            for found in problems:
                report.add_problem(found)
            report.rows = rows
            if kind == "error":
                raise LoadError(payload)
            if kind == "done":
                break
            mapped, unit = payload
            collect(platform, entity, mapped, batch, report, unit)
            if len(batch) >= batch_rows:
                _write_counted(store, platform, entity, batch, report, counts, unit)
                batch = _Batch()
        if len(batch):
            _write_counted(store, platform, entity, batch, report, counts, unit)
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
    report.counts = UpsertCounts(*counts)
    report.problems.sort(key=lambda p: p.line)
    return report
