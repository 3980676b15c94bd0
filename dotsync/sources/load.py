"""``dotsync load --format PLATFORM ENTITY FILE``: platform payloads into the store.

The file is streamed (see :mod:`dotsync.sources.files`), each object mapped by the
platform module, and the rows written in batches through the store's own upsert
(:meth:`Store.upsert_rows`), so memory stays flat whatever the file's size and
loading a file twice changes nothing. An object that cannot be mapped is reported
with its position, its platform id and the reason; the others load.

References are resolved against the store, never guessed: an order with only a
``customer_id`` gets that staged customer's e-mail; a gift card's recipient id
must name a staged customer or the card is reported; an id of ``null`` is no
reference at all.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from dotsync.sources import STAGED_AS, TITLES, check_entity, documents, kinds, mapper, state
from dotsync.sources.base import Mapped, map_safely
from dotsync.sources.files import FileKindError, bad_line_reason, iter_objects
from dotsync.store import schema
from dotsync.store.db import Store, UpsertCounts
from dotsync.store.loader import (
    KEEP_PROBLEMS,
    MAX_KEY_LENGTH,
    LoadError,
    LoadReport,
    RowProblem,
    problems_file_for,
)
from dotsync.store.loader import _bad_text as unstorable

#: Characters the store cannot keep: NUL (PostgreSQL refuses it) and lone surrogates
#: (bytes that were not UTF-8, or a JSON ``\ud800`` escape).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: Rows mapped before each write to the store.
BATCH_ROWS = 10_000
#: Files at least this big are read and mapped in a second process by default.
PIPELINE_MIN_BYTES = 32 * 1024 * 1024
__all__ = ["KEEP_PROBLEMS", "load_objects", "load_platform_file", "mapped_batches"]


def _describe(platform: str, entity: str) -> str:
    from dotsync.sources import PLATFORMS

    module = PLATFORMS[platform]
    key = module.ENVELOPES.get(entity)
    kind = kinds.NAMES.get(kinds.expected_kind(platform, entity), entity)
    shape = f' ({{"{key}": [...]}}, one object or JSON Lines)' if key else ""
    return f"{TITLES[platform]} {entity}: objects each {kind}{shape}"


class _Batch:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.lines: dict[str, tuple[int, str | None]] = {}
        #: Documents that change staged rows (credit memos, shipments, gift card
        #: accounts): ``(mapped, position, platform id)``.
        self.documents: list[documents.Document] = []

    def __len__(self) -> int:
        return len(self.rows) + len(self.documents)


def load_platform_file(
    store: Store,
    platform: str,
    entity: str,
    path: str | Path,
    *,
    batch_rows: int = BATCH_ROWS,
    link_template: str | None = None,
    workers: int | None = None,
    keep_problems: int | None = None,
    problems_file: str | Path | None = None,
) -> LoadReport:
    """Map and upsert every object of ``path``; returns counts and problems.

    The report keeps the first ``keep_problems`` (default :data:`KEEP_PROBLEMS`)
    problems and counts the others
    (per reason too); ``problems_file`` receives every one as JSON Lines.

    ``workers=2`` reads and maps the file in a second process while this one writes
    to the store (the default for files of :data:`PIPELINE_MIN_BYTES` or more on a
    machine with two cores or more); ``workers=1`` does everything here.
    """
    try:
        check_entity(platform, entity)
    except ValueError as exc:
        raise LoadError(str(exc)) from None
    path = Path(path)
    if not path.is_file():
        raise LoadError(f"cannot read {path}: no such file")
    if workers is None:
        workers = 2 if (os.cpu_count() or 1) >= 2 \
            and path.stat().st_size >= PIPELINE_MIN_BYTES else 1
    staging = STAGED_AS.get(entity, entity)
    report = LoadReport(entity=staging, path=str(path), kind=platform,
                        keep_problems=KEEP_PROBLEMS if keep_problems is None
                        else keep_problems)
    try:
        with problems_file_for(report, problems_file):
            if workers >= 2:
                from dotsync.sources.pipeline import load_in_two_processes

                return load_in_two_processes(store, platform, entity, path, report,
                                              batch_rows=batch_rows,
                                              link_template=link_template)
            form: dict[str, str] = {}
            return load_objects(store, platform, entity,
                                _file_objects(platform, entity, path, form),
                                source=str(path), batch_rows=batch_rows,
                                link_template=link_template, form=form, report=report)
    except OSError as exc:
        raise LoadError(f"cannot read {path}: {exc.strerror or exc}") from None


def _file_objects(platform: str, entity: str, path: Path,
                  form: dict[str, str] | None = None) -> Iterable[tuple[int, Any]]:
    from dotsync.sources import PLATFORMS

    module = PLATFORMS[platform]
    return iter_objects(path, module.ENVELOPES, module.SINGLE,
                        kinds.expected_kind(platform, entity), _describe(platform, entity),
                        form)


def load_objects(
    store: Store,
    platform: str,
    entity: str,
    objects: Iterable[tuple[int, Any]],
    *,
    source: str = "",
    batch_rows: int = BATCH_ROWS,
    link_template: str | None = None,
    form: dict[str, str] | None = None,
    report: LoadReport | None = None,
) -> LoadReport:
    """Map and upsert ``(position, object)`` pairs (from a file or an API page)."""
    check_entity(platform, entity)
    staging = STAGED_AS.get(entity, entity)
    state.ensure(store.engine)
    if report is None:
        report = LoadReport(entity=staging, path=source, kind=platform,
                            keep_problems=KEEP_PROBLEMS)
    counts = [0, 0, 0]
    for batch in mapped_batches(platform, entity, objects, report,
                                batch_rows=batch_rows, link_template=link_template,
                                form=form):
        _write_counted(store, platform, entity, batch, report, counts,
                       (form or {}).get("unit", "element"))
    report.counts = UpsertCounts(*counts)
    report.problems.sort(key=lambda p: p.line)
    return report


def _write_counted(store: Store, platform: str, entity: str, batch: _Batch,
                   report: LoadReport, counts: list[int], unit: str = "element") -> None:
    def problem(line: int, ident: str | None, reason: str, field: str | None = None) -> None:
        report.add_problem(RowProblem(line, ident, field, reason, unit))

    got = _write(store, platform, entity, batch, problem)
    counts[0] += got.inserted
    counts[1] += got.updated
    counts[2] += got.unchanged


#: One mapped object: ``(position, platform id, row or rows, problem)``; plain tuples
#: so a batch of them crosses to the writing process cheaply.
MappedObject = tuple[int, "str | None", Any, "str | None"]


def mapped_objects(platform: str, entity: str, objects: Iterable[tuple[int, Any]],
                   report: LoadReport, *, chunk: int = BATCH_ROWS,
                   link_template: str | None = None,
                   form: dict[str, str] | None = None) -> Iterator[list[MappedObject]]:
    """Each object mapped (or its problem), ``chunk`` at a time. Objects that are no
    object at all or of the wrong kind go straight into ``report``, as does the
    object count. ``form["unit"]`` (set by the file reader) names what a position
    counts."""
    form = form if form is not None else {}
    m = mapper(platform, entity)
    expected = kinds.expected_kind(platform, entity)
    describe = _describe(platform, entity)
    kwargs = {"link_template": link_template} if entity == "certificates" else {}
    fn = (lambda p: m.fn(p, **kwargs)) if kwargs else m.fn
    out: list[MappedObject] = []

    def problem(line: int, ident: str | None, reason: str) -> None:
        report.add_problem(RowProblem(line, ident, None, reason,
                                      form.get("unit", "element")))

    try:
        for position, payload in objects:
            report.rows += 1
            bad = bad_line_reason(payload)
            if bad is not None:
                problem(position, None, bad)
                continue
            found = kinds.guess(platform, payload)
            if found is not None and found != expected:
                what = f"expected {describe}; found {kinds.NAMES.get(found, found)}"
                if report.rows == 1:
                    raise LoadError(what)
                problem(position, m.id_of(payload) if isinstance(payload, dict) else None,
                        f"{kinds.NAMES.get(found, found)}, not "
                        f"{kinds.NAMES.get(expected, expected)}")
                continue
            mapped = map_safely(fn, payload, m.id_of)
            out.append((position, mapped.platform_id, mapped.row, mapped.problem))
            if len(out) >= chunk:
                yield out
                out = []
    except FileKindError as exc:
        if report.rows == 0:
            raise LoadError(str(exc)) from None
        problem(report.rows + 1, None, f"reading stopped: {exc}")
    if out:
        yield out


def collect(platform: str, entity: str, mapped: list[MappedObject], batch: _Batch,
            report: LoadReport, unit: str) -> None:
    """Check mapped rows (storable text, a key) into ``batch``; problems to ``report``."""
    key = schema.ENTITY_KEYS[STAGED_AS.get(entity, entity)]
    many = mapper(platform, entity).many

    def problem(line: int, ident: str | None, reason: str, field: str | None = None) -> None:
        report.add_problem(RowProblem(line, ident, field, reason, unit))

    for position, ident, row, reason in mapped:
        _collect(Mapped(ident, row=row, problem=reason), position, entity, key, batch,
                 report, problem, many)


def mapped_batches(platform: str, entity: str, objects: Iterable[tuple[int, Any]],
                   report: LoadReport, *, batch_rows: int = BATCH_ROWS,
                   link_template: str | None = None,
                   form: dict[str, str] | None = None) -> Iterator[_Batch]:
    """Batches of mapped rows (at most about ``batch_rows``); problems and the object
    count go into ``report``. Pure: reads nothing but ``objects``, writes nothing."""
    form = form if form is not None else {}
    batch = _Batch()
    for mapped in mapped_objects(platform, entity, objects, report, chunk=batch_rows,
                                 link_template=link_template, form=form):
        collect(platform, entity, mapped, batch, report, form.get("unit", "element"))
        if len(batch) >= batch_rows:
            yield batch
            batch = _Batch()
    if len(batch):
        yield batch


def _collect(mapped: Mapped, position: int, entity: str, key: str, batch: _Batch,
             report: LoadReport, problem: Any, many: bool) -> None:
    if mapped.problem is not None or mapped.row is None:
        problem(position, mapped.platform_id, mapped.problem or "nothing to map")
        return
    if entity in STAGED_AS:
        batch.documents.append((mapped.row, position, mapped.platform_id))  # type: ignore[arg-type]
        return
    rows = mapped.row if many else [mapped.row]
    for row in rows:  # type: ignore[union-attr]
        # One C-level search per row; the per-value reasons only when it finds something.
        texts = [v for v in row.values() if isinstance(v, str)]
        bad = [] if not _UNSTORABLE.search("".join(texts)) else [
            (c, why) for c, v in row.items() if isinstance(v, str)
            and (why := unstorable(v)) is not None]
        if bad:
            field, why = bad[0]
            problem(position, mapped.platform_id, f"{field} {why}", field)
            continue
        value = row.get(key)
        if not value or len(value) > MAX_KEY_LENGTH:
            problem(position, mapped.platform_id, f"{key} is missing or longer than "
                    f"{MAX_KEY_LENGTH} characters", key)
            continue
        if value in batch.rows:
            report.duplicates += 1
        batch.rows[value] = row
        batch.lines[value] = (position, mapped.platform_id)


def _write(store: Store, platform: str, entity: str, batch: _Batch,
           problem: Any) -> UpsertCounts:
    if entity in STAGED_AS:
        return documents.write(store, platform, entity, batch.documents, problem)
    staging = entity
    rows = batch.rows
    if entity == "orders":
        _fill_order_emails(store, rows)
        if platform == "adobe-commerce":
            state.remember_keys(store.engine, platform, "orders", [
                (r["_entity_id"], k) for k, r in rows.items() if r.get("_entity_id")])
            # An order loaded after its credit memos, without total_refunded, keeps
            # what they gave back.
            sums = state.refund_sums(store.engine, platform, [
                r["_entity_id"] for r in rows.values()
                if r.get("_entity_id") and r.get("refunded") is None])
            for r in rows.values():
                if r.get("refunded") is None and r.get("_entity_id") in sums:
                    r["refunded"] = format(sums[r["_entity_id"]], "f")
    if entity == "certificates":
        refs = {r["_recipient_ref"] for r in rows.values() if r.get("_recipient_ref")}
        emails = _customer_emails(store, refs)
        for k in list(rows):
            ref = rows[k].get("_recipient_ref")
            if ref is None:
                continue
            if ref in emails:
                rows[k]["recipient_email"] = emails[ref]
            else:
                line, ident = batch.lines[k]
                problem(line, ident, f"the recipient customer {ref!r} is not staged "
                        "(load the customers first); the gift card was not loaded",
                        "recipient_email")
                del rows[k]
    cols = list(schema.ENTITY_COLUMNS[staging])
    return store.upsert_rows(staging, [tuple([r.get(c) for c in cols])
                                       for r in rows.values()])


def _customer_emails(store: Store, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    found = store.read_staged("customers", ids)
    return {k: e for k, e in zip(found["customer_id"], found["email"], strict=True) if e}


def _fill_order_emails(store: Store, rows: dict[str, dict[str, Any]]) -> None:
    """An order with only a ``customer_id`` takes that staged customer's e-mail; an id
    that names no staged customer leaves the e-mail empty (the contract then decides),
    never another customer's."""
    wanted = {r["customer_id"] for r in rows.values()
              if not r.get("customer_email") and r.get("customer_id")}
    emails = _customer_emails(store, wanted)
    for r in rows.values():
        if not r.get("customer_email") and r.get("customer_id") in emails:
            r["customer_email"] = emails[r["customer_id"]]
