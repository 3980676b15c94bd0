"""Reading a platform export as a stream of JSON objects, in flat memory.

A file may be what the platform's list endpoint returns (Adobe Commerce
``{"items": [...], "search_criteria": …, "total_count": …}``, commercetools
``{"limit": …, "results": [...]}``, Shopify ``{"orders": [...]}``), a JSON array, a
single object (also Shopify's ``{"order": {...}}``), or JSON Lines (one object per
line, or one list response per line, as an export that saves each page would write).

The envelope and arrays are streamed with ``ijson`` (its C backend), so a
multi-gigabyte export is read one element at a time. Numbers that are not whole are
read as ``Decimal``, never ``float``, so money keeps every digit.

An envelope is recognised by its array key coming before any key of an entity:
Adobe Commerce orders and credit memos have an ``items`` array too, but after their
own fields (``entity_id``, ``increment_id``…), so a single credit memo is never read
as a search result of its items.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import ijson
import msgspec

from dotsync.sources import jsonchunks

#: Keys that may precede the array in a list response without making it an entity.
META_KEYS = frozenset({
    "limit", "offset", "count", "total", "search_criteria", "total_count", "page",
    "pageSize", "links", "link", "meta", "cursor",
})
#: A first line longer than this is not read as one JSON Lines record.
_FIRST_LINE_LIMIT = 64 * 1024 * 1024


class FileKindError(ValueError):
    """The file as a whole is not what was expected; the message says why."""


def _first_char(f: IO[bytes]) -> str:
    head = f.read(4096)
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    stripped = head.lstrip()
    return chr(stripped[0]) if stripped else ""


def _loads(line: bytes | str) -> Any:
    """One JSON Lines record: msgspec (fast), or ``json`` for what msgspec refuses
    (lone surrogate escapes, ``NaN``…), whose answer or error stands as before."""
    try:
        return jsonchunks.decode(line)
    except msgspec.DecodeError:
        return json.loads(line, parse_float=Decimal)


def _sniff_object(path: Path, envelopes: dict[str, str], wanted: str,
                  describe: str) -> tuple[str, str | None]:
    """``("envelope", key)`` for a list response holding ``wanted``'s array;
    ``("object", None)`` when the top level is an entity (or JSON Lines)."""
    wanted_key = envelopes.get(wanted)
    with path.open("rb") as f:
        try:
            events = ijson.parse(f, multiple_values=True)
            depth = 0
            key: str | None = None
            for _prefix, event, value in events:
                if event in ("start_map", "start_array"):
                    depth += 1
                    if depth == 2 and key is not None:
                        if event == "start_array" and key not in META_KEYS:
                            if key == wanted_key:
                                return "envelope", key
                            if key in envelopes.values() and key != wanted_key:
                                raise FileKindError(
                                    f"expected {describe}; found a list under {key!r}")
                            return "object", None
                        if key not in META_KEYS:
                            return "object", None
                    continue
                if event in ("end_map", "end_array"):
                    depth -= 1
                    if depth == 0:
                        return "object", None
                    continue
                if depth == 1 and event == "map_key":
                    key = value
                    continue
                if depth == 1 and key is not None and key not in META_KEYS:
                    return "object", None
            return "object", None
        except ijson.JSONError:
            return "object", None


def _iter_array(path: Path, prefix: str) -> Iterator[tuple[int, Any]]:
    """The elements of the top-level array (``prefix`` ``item``) or of an envelope's
    array (``KEY.item``): decoded a chunk at a time (:mod:`jsonchunks`), and by ijson
    from the first element that path does not take, so errors read as ijson's."""
    done = 0
    with path.open("rb") as f:
        if prefix == "item":
            f.seek(0)
            head = f.read(4096)
            start: int | None = len(head) - len(head.removeprefix(b"\xef\xbb\xbf")
                                                 .lstrip(b" \t\r\n"))
        else:
            start = jsonchunks.envelope_start(f, prefix.removesuffix(".item"))
        if start is not None:
            try:
                for item in jsonchunks.iter_elements(f, start, envelope=prefix != "item"):
                    done += 1
                    yield done, item
                return
            except jsonchunks.Unsupported:
                pass
    skip = done
    done = 0
    with path.open("rb") as f:
        try:
            for item in ijson.items(f, prefix):
                done += 1
                if done > skip:
                    yield done, item
        except ijson.JSONError as exc:
            raise FileKindError(f"the JSON stops being valid after element {done}: "
                                f"{exc}") from None


def iter_objects(path: Path, envelopes: dict[str, str], single: dict[str, str],
                 wanted: str, describe: str,
                 form: dict[str, str] | None = None) -> Iterator[tuple[int, Any]]:
    """``(position, object)`` for every object of the file; position is the element
    number (envelopes, arrays) or the line number (JSON Lines). ``form`` receives
    ``unit`` (``element``, ``line`` or ``object``) once the file's form is known."""
    form = form if form is not None else {}
    with path.open("rb") as f:
        first = _first_char(f)
    if first == "":
        raise FileKindError("the file is empty")
    if first == "[":
        form["unit"] = "element"
        yield from _iter_array(path, "item")
        return
    if first != "{":
        raise FileKindError(f"expected JSON ({describe}), found text starting {first!r}")
    # A first line that is a whole JSON object makes the file JSON Lines (one object,
    # or one list response, per line); a longer first line is an envelope or one object.
    with path.open("rb") as f:
        line = f.readline(_FIRST_LINE_LIMIT)
        try:
            first_obj = _loads(line.removeprefix(b"\xef\xbb\xbf"))
            jsonl = isinstance(first_obj, dict)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            jsonl = False
    if jsonl:
        if len(first_obj) == 1:
            (only,) = first_obj
            wanted_key = envelopes.get(wanted)
            if only in envelopes.values() and only != wanted_key \
                    and isinstance(first_obj[only], list):
                raise FileKindError(f"expected {describe}; found a list under {only!r}")
        form["unit"] = "line"
        yield from _iter_lines(path, envelopes, single, wanted)
        return
    mode, key = _sniff_object(path, envelopes, wanted, describe)
    if mode == "envelope":
        form["unit"] = "element"
        yield from _iter_array(path, f"{key}.item")
        return
    with path.open("rb") as f:
        try:
            doc = json.loads(f.read().removeprefix(b"\xef\xbb\xbf"), parse_float=Decimal)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FileKindError(f"not valid JSON: {exc}") from None
    form["unit"] = "object"
    yield 1, _unwrap(doc, single, wanted, describe)


def _unwrap(doc: Any, single: dict[str, str], wanted: str, describe: str) -> Any:
    """Shopify's single-resource response ``{"order": {...}}`` → the order."""
    if not isinstance(doc, dict) or "id" in doc:
        return doc
    key = single.get(wanted)
    if key is not None and isinstance(doc.get(key), dict):
        return doc[key]
    for other in single.values():
        if isinstance(doc.get(other), dict):
            raise FileKindError(f"expected {describe}; found a {other!r} object")
    return doc


def _is_page(value: dict[str, Any], key: str) -> bool:
    """A list response: the array plus nothing but paging metadata."""
    return all(k == key or k in META_KEYS for k in value)


def _iter_lines(path: Path, envelopes: dict[str, str], single: dict[str, str],
                wanted: str) -> Iterator[tuple[int, Any]]:
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            if number == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if not raw.strip():
                continue
            try:
                value = _loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                yield number, _BadLine(f"line {number} is not valid JSON: "
                                       f"{getattr(exc, 'msg', exc)}")
                continue
            except RecursionError:
                yield number, _BadLine(f"line {number} is nested too deeply to read")
                continue
            key = single.get(wanted)
            if isinstance(value, dict) and "id" not in value and key is not None \
                    and isinstance(value.get(key), dict):
                value = value[key]
            page = envelopes.get(wanted)
            if isinstance(value, dict) and page is not None \
                    and isinstance(value.get(page), list) and _is_page(value, page):
                for item in value[page]:  # one list response per line
                    yield number, item
                continue
            yield number, value


class _BadLine:
    """A JSON Lines record that does not parse: reported, the other lines go on."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def bad_line_reason(value: Any) -> str | None:
    return value.reason if isinstance(value, _BadLine) else None
