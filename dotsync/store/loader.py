"""``dotsync load``: files (CSV, JSON Lines, Parquet) into the staging store.

A file-level problem (unreadable file, unknown format, unknown columns) refuses the
whole file with a message naming it. A row-level problem (no key, bytes that are not
UTF-8, a JSON line that does not parse) rejects that row only, with its line number
and field, and every other row is still loaded. Values are kept exactly as given:
nothing is trimmed, re-cased or re-formatted here; the data contracts judge them.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dotsync.store import schema
from dotsync.store.db import Store, UpsertCounts
from dotsync.store.frames import as_text

FORMATS = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


#: Longest record key dotsync keeps (the ledger's key column).
MAX_KEY_LENGTH = 512


class LoadError(Exception):
    """The file as a whole cannot be loaded; the message says why."""


@dataclass(frozen=True)
class RowProblem:
    line: int
    key: str | None
    field: str | None
    reason: str


@dataclass
class LoadReport:
    entity: str
    path: str
    rows: int = 0
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    problems: list[RowProblem] = field(default_factory=list)
    duplicates: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "file": self.path,
            "rows": self.rows,
            "inserted": self.counts.inserted,
            "updated": self.counts.updated,
            "unchanged": self.counts.unchanged,
            "duplicates": self.duplicates,
            "rejected": len(self.problems),
            "problems": [p.__dict__ for p in self.problems],
        }


def _decode(raw: bytes) -> str:
    """UTF-8 text; undecodable bytes survive as surrogates so their rows can be named."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    return raw.decode("utf-8", errors="surrogateescape")


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


def _read_csv(raw: bytes) -> tuple[list[str], list[tuple[int, dict[str, Any]]], list[RowProblem]]:
    text = _decode(raw)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise LoadError("the file is empty (no header row)") from None
    except csv.Error as exc:
        raise LoadError(f"the header row is not valid CSV: {exc}") from None
    header = [h.strip() for h in header]
    rows: list[tuple[int, dict[str, Any]]] = []
    problems: list[RowProblem] = []
    while True:
        line = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(RowProblem(line, None, None, f"not valid CSV: {exc}"))
            continue
        if not values or values == [""]:
            continue
        if len(values) > len(header):
            problems.append(
                RowProblem(
                    line, values[0] or None, None, f"{len(values)} values for {len(header)} columns"
                )
            )
            continue
        record = dict(zip(header, values, strict=False))
        rows.append((line, record))
    return header, rows, problems


def _read_jsonl(raw: bytes) -> tuple[list[str], list[tuple[int, dict[str, Any]]], list[RowProblem]]:
    text = _decode(raw)
    stripped = text.lstrip()
    if stripped.startswith("["):
        raise LoadError("this is a JSON array; dotsync reads JSON Lines (one object per line)")
    header: dict[str, None] = {}
    rows: list[tuple[int, dict[str, Any]]] = []
    problems: list[RowProblem] = []
    # Lines end at \n only: JSON allows U+2028, U+2029 and U+0085 unescaped in strings.
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(RowProblem(number, None, None, f"not valid JSON: {exc.msg}"))
            continue
        if not isinstance(record, dict):
            problems.append(RowProblem(number, None, None, "the line is not a JSON object"))
            continue
        header.update(dict.fromkeys(record))
        rows.append((number, record))
    return list(header), rows, problems


def _read_parquet(
    raw: bytes,
) -> tuple[list[str], list[tuple[int, dict[str, Any]]], list[RowProblem]]:
    try:
        df = pd.read_parquet(io.BytesIO(raw))
    except Exception as exc:  # pyarrow raises many types for a damaged file
        raise LoadError(f"not a readable Parquet file: {exc}") from None
    records = df.astype(object).to_dict("records")
    return [str(c) for c in df.columns], list(enumerate(records, start=1)), []


def read_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]], list[RowProblem]]:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise LoadError(
            f"unknown file type {path.suffix or '(none)'!r}; use .csv, .jsonl or .parquet"
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"cannot read {path}: {exc.strerror or exc}") from None
    reader = {"csv": _read_csv, "jsonl": _read_jsonl, "parquet": _read_parquet}[fmt]
    return reader(raw)


def load_file(store: Store, entity: str, path: str | Path) -> LoadReport:
    """Upsert the rows of ``path`` into the staging table of ``entity``."""
    if entity not in schema.ENTITY_COLUMNS:
        raise LoadError(f"unknown entity {entity!r}; use customers, orders or certificates")
    path = Path(path)
    header, rows, problems = read_rows(path)
    allowed = schema.ENTITY_COLUMNS[entity]
    unknown = [c for c in header if c not in allowed]
    if unknown:
        raise LoadError(
            f"unknown column{'s' if len(unknown) > 1 else ''} for {entity}: "
            f"{', '.join(repr(c) for c in unknown)} (allowed: {', '.join(allowed)})"
        )
    key = schema.ENTITY_KEYS[entity]
    report = LoadReport(entity=entity, path=str(path), rows=len(rows) + len(problems))
    kept: dict[str, dict[str, Any]] = {}
    for line, record in rows:
        values = {c: as_text(record.get(c)) for c in allowed}
        bad = [(c, why) for c, v in values.items() if isinstance(v, str)
               and (why := _bad_text(v)) is not None]
        key_value = values[key]
        if bad:
            field, why = bad[0]
            shown = None if any(c == key for c, _ in bad) else key_value
            problems.append(RowProblem(line, shown, field, f"{field} {why}"))
            continue
        if len(key_value or "") > MAX_KEY_LENGTH:
            problems.append(RowProblem(line, None, key, f"{key} is longer than "
                                       f"{MAX_KEY_LENGTH} characters"))
            continue
        if key_value is None or not key_value.strip():
            problems.append(RowProblem(line, None, key, f"{key} is required"))
            continue
        if key_value in kept:
            report.duplicates += 1
        kept[key_value] = values
    report.problems = sorted(problems, key=lambda p: p.line)
    frame = pd.DataFrame(list(kept.values()), columns=list(allowed), dtype=object)
    report.counts = store.upsert_staged(entity, frame)
    return report
