"""``dotsync load``: files (CSV, JSON Lines, a JSON array, Parquet) into the staging store.

A file-level problem (unreadable file, unknown format, unknown columns in a CSV or
Parquet header) refuses the whole file with a message naming it. A row-level problem
(no key, bytes that are not UTF-8, a JSON line that does not parse, a JSON object
with a key that is not a column) rejects that row only, with its position and field,
and every other row is still loaded. Values are kept exactly as given: nothing is
trimmed, re-cased or re-formatted here; the data contracts judge them.

Files are streamed (see :mod:`dotsync.store.readers`) and upserted ``chunk_rows``
rows at a time, so memory stays flat whatever the file's size. A key repeated within
the file is counted once (by its first occurrence) and the last occurrence wins.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import pandas as pd

from dotsync.store import keys as record_keys
from dotsync.store import schema
from dotsync.store.db import Store, UpsertCounts
from dotsync.store.frames import as_text
from dotsync.store.readers import FORMATS, FileProblem, Row, chunked, open_rows

__all__ = ["FORMATS", "KEEP_PROBLEMS", "MAX_KEY_LENGTH", "LoadError", "LoadReport",
           "RowProblem", "load_file", "problems_file_for"]


#: Longest record key dotsync keeps (the ledger's key column).
MAX_KEY_LENGTH = 512
#: Problems a load keeps in its report (all of them are counted, per reason too, and
#: written to the problems file when there is one): a file of millions of bad rows
#: must not fill the memory.
KEEP_PROBLEMS = 1_000


class LoadError(Exception):
    """The file as a whole cannot be loaded; the message says why."""


@dataclass(frozen=True)
class RowProblem:
    """A row that was not loaded. ``line`` is its position in the file, counted in
    ``unit`` (``line`` for CSV and JSON Lines, ``element`` of a JSON array, ``row``
    of a Parquet file)."""

    line: int
    key: str | None
    field: str | None
    reason: str
    unit: str = "line"

    @property
    def where(self) -> str:
        return f"{self.unit} {self.line}" + (f" ({self.key})" if self.key else "")


@dataclass
class LoadReport:
    entity: str
    path: str
    rows: int = 0
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    problems: list[RowProblem] = field(default_factory=list)
    duplicates: int = 0
    #: What was read: ``csv``, ``jsonl``, ``json-array`` or ``parquet``.
    kind: str = ""
    #: :meth:`add_problem` keeps at most this many in ``problems`` (None: all) and
    #: counts the rest in ``problems_left_out``, so a huge file of bad rows cannot
    #: fill the memory; every problem goes to ``problems_out`` (JSON Lines) if set.
    keep_problems: int | None = None
    problems_left_out: int = 0
    #: Problems per reason (at most :data:`MAX_REASONS` distinct, then "other").
    reasons: dict[str, int] = field(default_factory=dict)
    problems_out: IO[str] | None = field(default=None, repr=False, compare=False)

    def add_problem(self, problem: RowProblem) -> None:
        """Count ``problem``, keep it if there is room, and write it out."""
        self._count(problem.reason, 1)
        self._keep(problem)
        if self.problems_out is not None:
            self.problems_out.write(json.dumps(_problem_dict(problem)) + "\n")

    def _count(self, reason: str, n: int) -> None:
        if reason not in self.reasons and len(self.reasons) >= MAX_REASONS:
            reason = OTHER_REASONS
        self.reasons[reason] = self.reasons.get(reason, 0) + n

    def _keep(self, problem: RowProblem) -> None:
        if self.keep_problems is None or len(self.problems) < self.keep_problems:
            self.problems.append(problem)
        else:
            self.problems_left_out += 1

    def absorb(self, other: LoadReport) -> None:
        """Add ``other``'s counts and problems to this report (one report for a load
        made of several parts, such as the pages of an extraction), within this
        report's bound. ``other`` wrote its problems out itself, if it had a file."""
        self.rows += other.rows
        self.duplicates += other.duplicates
        self.counts = _add(self.counts, other.counts)
        for problem in other.problems:
            self._keep(problem)
        self.problems_left_out += other.problems_left_out
        for reason, count in other.reasons.items():
            self._count(reason, count)

    @property
    def rejected(self) -> int:
        """Every problem, kept in ``problems`` or not."""
        return len(self.problems) + self.problems_left_out

    @property
    def loaded(self) -> int:
        """Distinct keys written or confirmed unchanged."""
        c = self.counts
        return c.inserted + c.updated + c.unchanged

    @property
    def nothing_loaded(self) -> bool:
        """Rows were read but not one could be loaded: a wrong file, or the wrong entity.

        ``dotsync load`` exits 1 then, with the first reasons."""
        return self.loaded == 0 and bool(self.problems)

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "file": self.path,
            "format": self.kind,
            "rows": self.rows,
            "inserted": self.counts.inserted,
            "updated": self.counts.updated,
            "unchanged": self.counts.unchanged,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "problems": [_problem_dict(p) for p in self.problems],
            **({"problems_left_out": self.problems_left_out, "reasons": self.reasons}
               if self.problems_left_out else {}),
        }


#: Distinct reasons counted one by one in :attr:`LoadReport.reasons`.
MAX_REASONS = 100
OTHER_REASONS = "(other reasons)"


def _problem_dict(p: RowProblem) -> dict[str, Any]:
    return {"line": p.line, "unit": p.unit, "key": p.key, "field": p.field,
            "reason": p.reason}


def _bad_text(value: str) -> str | None:
    """Why a value cannot be stored as text, or None.

    Bytes that were not UTF-8 survive decoding as surrogates; a JSON ``\\ud800`` escape
    is a lone surrogate too; and PostgreSQL refuses the NUL character.
    """
    for ch in value:
        if "\ud800" <= ch <= "\udfff":
            return "is not valid UTF-8 text in the file" if "\udc80" <= ch <= "\udcff" \
                else "holds a lone surrogate (not valid Unicode text)"
        if ch == "\x00":
            return "holds a NUL character"
    return None


def _add(a: UpsertCounts, b: UpsertCounts) -> UpsertCounts:
    return UpsertCounts(a.inserted + b.inserted, a.updated + b.updated,
                        a.unchanged + b.unchanged)


class _SeenKeys:
    """The keys loaded so far, as 64-bit hashes in sorted arrays (one per chunk): 8
    bytes a key, so a repeated key is found across chunks without holding every key's
    text. A lookup is a binary search per array, whose temporaries are chunk-sized
    (``np.isin`` would sort a copy of everything seen, a peak growing with the file)."""

    def __init__(self) -> None:
        self._parts: list[np.ndarray] = []

    @staticmethod
    def _hash(keys: list[str]) -> np.ndarray:
        return pd.util.hash_array(np.asarray(keys, dtype=object), categorize=False)

    def seen(self, keys: list[str]) -> np.ndarray:
        hashed = self._hash(keys)
        found = np.zeros(len(keys), dtype=bool)
        for part in self._parts:
            at = np.minimum(np.searchsorted(part, hashed), len(part) - 1)
            found |= part[at] == hashed
        return found

    def add(self, keys: list[str]) -> None:
        self._parts.append(np.unique(self._hash(keys)))
        if len(self._parts) > 64:  # a very long file: fewer, larger arrays
            self._parts = [np.unique(np.concatenate(self._parts))]


@contextmanager
def problems_file_for(report: LoadReport, path: str | Path | None) -> Iterator[LoadReport]:
    """``report`` writing every problem to ``path`` (JSON Lines) while in use, or as
    it is for None; a path that cannot be written is a :class:`LoadError` naming it."""
    if path is None:
        yield report
        return
    try:
        out = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise LoadError(f"cannot write {path}: {exc.strerror or exc}") from None
    report.problems_out = out
    try:
        yield report
    finally:
        report.problems_out = None
        out.close()


def load_file(store: Store, entity: str, path: str | Path,
              chunk_rows: int = 20_000,
              on_progress: Callable[[int], None] | None = None, *,
              keep_problems: int | Literal["default"] | None = "default",
              problems_file: str | Path | None = None) -> LoadReport:
    """Upsert the rows of ``path`` into the staging table of ``entity``.

    The file is read as a stream and written ``chunk_rows`` rows at a time;
    ``on_progress`` is told the rows read so far after each chunk. The report keeps
    the first ``keep_problems`` problems (default :data:`KEEP_PROBLEMS`; None: all)
    and counts the others per reason; ``problems_file`` receives every one as JSON
    Lines.
    """
    if entity not in schema.ENTITY_COLUMNS:
        raise LoadError(f"unknown entity {entity!r}; use "
                        f"{', '.join(schema.STAGED_ENTITIES[:-1])} or "
                        f"{schema.STAGED_ENTITIES[-1]}")
    path = Path(path)
    try:
        opened = open_rows(path, chunk_rows=chunk_rows)
    except FileProblem as exc:
        raise LoadError(str(exc)) from None
    allowed = schema.ENTITY_COLUMNS[entity]
    allowed_set = frozenset(allowed)
    if opened.header is not None:
        unknown = [c for c in opened.header if c not in allowed_set]
        if unknown:
            opened.rows.close()  # type: ignore[attr-defined]
            raise LoadError(_unknown_columns(entity, unknown, allowed))
    report = LoadReport(entity=entity, path=str(path), kind=opened.kind,
                        keep_problems=KEEP_PROBLEMS if keep_problems == "default"
                        else keep_problems)
    try:
        with problems_file_for(report, problems_file):
            return _load_rows(store, entity, opened, chunk_rows, on_progress, report)
    finally:
        close = getattr(opened.rows, "close", None)
        if close is not None:
            close()


def _load_rows(store: Store, entity: str, opened: Any, chunk_rows: int,
               on_progress: Callable[[int], None] | None, report: LoadReport) -> LoadReport:
    allowed = schema.ENTITY_COLUMNS[entity]
    allowed_set = frozenset(allowed)
    key = record_keys.columns(entity)
    seen = _SeenKeys()
    for part in chunked(opened.rows, chunk_rows):
        report.rows += len(part)
        kept = _chunk_records(part, entity, key, allowed, allowed_set, opened.unit, report)
        if not kept:
            continue
        keys = list(kept)
        repeated = seen.seen(keys)
        report.duplicates += int(repeated.sum())
        seen.add(keys)
        frame = pd.DataFrame(list(kept.values()), columns=list(allowed), dtype=object)
        fresh = frame[~repeated]
        if repeated.any():
            # Written (the last occurrence wins) but counted once, by its first occurrence.
            store.upsert_staged(entity, frame[repeated])
        report.counts = _add(report.counts, store.upsert_staged(entity, fresh))
        if on_progress is not None:
            on_progress(report.rows)
    if on_progress is not None:
        on_progress(report.rows)
    return report


def _unknown_columns(entity: str, unknown: list[str], allowed: tuple[str, ...]) -> str:
    return (f"unknown column{'s' if len(unknown) > 1 else ''} for {entity}: "
            f"{', '.join(repr(c) for c in unknown)} (allowed: {', '.join(allowed)})")


def _chunk_records(part: list[Row], entity: str, key: tuple[str, ...], allowed: tuple[str, ...],
                   allowed_set: frozenset[str], unit: str,
                   report: LoadReport) -> dict[str, dict[str, Any]]:
    """The loadable records of one chunk by key (the last of a repeated key wins);
    the others go to ``report.problems``."""
    kept: dict[str, dict[str, Any]] = {}
    for row in part:
        record = row.record
        if row.problem is not None or record is None:
            shown = _shown_key(entity, record) if record else None
            report.add_problem(RowProblem(row.position, shown, None,
                                              row.problem or "unreadable", unit))
            continue
        unknown = [c for c in record if c not in allowed_set]
        if unknown:
            shown = _shown_key(entity, record)
            report.add_problem(RowProblem(
                row.position, shown if shown and not _bad_text(shown) else None,
                str(unknown[0]), _unknown_columns(entity, [str(c) for c in unknown], allowed),
                unit))
            continue
        values = {c: as_text(record.get(c)) for c in allowed}
        bad = [(c, why) for c, v in values.items() if isinstance(v, str)
               and (why := _bad_text(v)) is not None]
        key_value = record_keys.of_values(entity, values)
        if bad:
            field_name, why = bad[0]
            shown = None if any(c in key for c, _ in bad) else record_keys.display(key_value)
            report.add_problem(RowProblem(row.position, shown, field_name,
                                              f"{field_name} {why}", unit))
            continue
        split = [c for c in key if len(key) > 1 and record_keys.SEPARATOR in (values[c] or "")]
        if split:
            report.add_problem(RowProblem(row.position, None, split[0], f"{split[0]} "
                                          "holds the control character U+001F", unit))
            continue
        if len(key_value or "") > MAX_KEY_LENGTH:
            name = " + ".join(key)
            report.add_problem(RowProblem(row.position, None, key[0], f"{name} is longer "
                                          f"than {MAX_KEY_LENGTH} characters", unit))
            continue
        if key_value is None:
            missing = next(c for c in key if not (values[c] or "").strip())
            report.add_problem(RowProblem(row.position, None, missing,
                                          f"{missing} is required", unit))
            continue
        if key_value in kept:
            report.duplicates += 1
            del kept[key_value]  # keep file order: the last occurrence goes last
        kept[key_value] = values
    return kept


def _shown_key(entity: str, record: dict[str, Any]) -> str | None:
    """The record's key for a problem report, when it is plain text."""
    values = {c: as_text(record.get(c)) for c in record_keys.columns(entity)}
    shown = record_keys.display(record_keys.of_values(entity, values))
    return shown if shown and not _bad_text(shown) else None
