"""What goes on the wire: JSON encoding, pre-serialised import bodies and request paths.

Kept apart from the transport so that :mod:`.bulk` can size import chunks with the very
function that encodes them (:func:`dumps`), and so the body builders can be tested without
any HTTP at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import IO, Any, Literal, overload
from urllib.parse import quote

import orjson

__all__ = [
    "BODY_PART_BYTES",
    "FileBody",
    "MergeOption",
    "SerializedChunk",
    "SerializedRecord",
    "build_contact_import_body",
    "build_insight_import_body",
    "chunk_body",
    "contact_for_import",
    "contact_key",
    "dumps",
    "encode_body",
    "iso_z",
    "merge_kebab",
    "seg",
    "splice",
    "v2_date",
]

MergeOption = Literal[
    "overwrite", "overwrite-if-not-empty", "overwrite-if-empty",
    "overwriteIfNotEmpty", "overwriteIfEmpty",
]
_MERGE_KEBAB = {
    "overwrite": "overwrite",
    "overwrite-if-not-empty": "overwrite-if-not-empty",
    "overwriteifnotempty": "overwrite-if-not-empty",
    "overwrite-if-empty": "overwrite-if-empty",
    "overwriteifempty": "overwrite-if-empty",
}
_MERGE_CAMEL = {
    "overwrite": "overwrite",
    "overwrite-if-not-empty": "overwriteIfNotEmpty",
    "overwrite-if-empty": "overwriteIfEmpty",
}

#: Bodies larger than this are handed to the transport in views of this size.
BODY_PART_BYTES = 1 << 20


class FileBody:
    """An import body kept in a file (its first ``size`` bytes), sent from it in parts
    of :data:`BODY_PART_BYTES` with its Content-Length.

    A body built on disk need not be read back whole to be sent: a 48 MB import then
    costs one part in memory, not 48 MB. Each iteration reads the file from its start,
    so a retried call sends the same bytes again. The file is closed with the body.
    """

    __slots__ = ("_file", "size")

    def __init__(self, file: IO[bytes], size: int) -> None:
        self._file = file
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[bytes]:
        for start in range(0, self.size, BODY_PART_BYTES):
            yield self._read(start, min(self.size, start + BODY_PART_BYTES))

    def __getitem__(self, index: slice) -> bytes:
        start, stop, step = index.indices(self.size)
        if step != 1:
            raise ValueError("a file body is read in contiguous slices")
        return self._read(start, max(start, stop))

    def __bytes__(self) -> bytes:
        return self._read(0, self.size)

    def _read(self, start: int, stop: int) -> bytes:
        self._file.seek(start)
        data = self._file.read(stop - start)
        if len(data) != stop - start:
            raise OSError(f"the import body's file was cut short ({start + len(data)} of "
                          f"{self.size} bytes)")
        return data

    def close(self) -> None:
        self._file.close()

    def __del__(self) -> None:
        self._file.close()


def dumps(body: Any) -> bytes:
    """The exact bytes the client sends for a JSON body (compact, UTF-8).

    :mod:`.bulk` sizes import chunks with this same function, so a chunk measured as fitting
    is the body that goes on the wire.
    """
    try:
        return orjson.dumps(body)
    except TypeError:  # a type orjson does not know (e.g. an int beyond 64 bits)
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode()


class SerializedRecord(bytes):
    """One import record already encoded by :func:`dumps`.

    A bulk chunk of these is spliced into the request body as it is, so a 50 MB import
    holds 50 MB of bytes in memory rather than several times that in Python objects.
    """


class SerializedChunk(Sequence[SerializedRecord]):
    """A whole import body built as its records were serialised, with where each
    record sits in it.

    Reads as the sequence of its records, but the client sends :attr:`body` as it is:
    a 50 MB import is 50 MB of bytes, with no per-record objects and no copy to splice
    it together. ``prefix`` is the body up to the first record (the envelope), which
    the client checks against the import it was asked for.
    """

    __slots__ = ("_offsets", "body", "prefix")

    def __init__(self, body: bytes | bytearray | FileBody, offsets: Sequence[int],
                 prefix: bytes) -> None:
        self.body = body
        self.prefix = prefix
        self._offsets = offsets  # start of each record, then the body's closing "]}"

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def release(self) -> None:
        """The body was sent: let go of its bytes (the records' count stays, which is
        what settling the import needs). A body on disk is the caller's to close."""
        if isinstance(self.body, (bytes, bytearray)):
            self.body = b""

    @overload
    def __getitem__(self, index: int) -> SerializedRecord: ...
    @overload
    def __getitem__(self, index: slice) -> list[SerializedRecord]: ...
    def __getitem__(self, index: int | slice) -> SerializedRecord | list[SerializedRecord]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("record index out of range")
        # Each record ends one byte (its comma, or the list's "]") before the next start.
        return SerializedRecord(self.body[self._offsets[index]:self._offsets[index + 1] - 1])

    def __repr__(self) -> str:
        return f"SerializedChunk({len(self)} records, {len(self.body)} bytes)"


def in_parts(content: bytes | bytearray) -> list[memoryview]:
    """A large body as views of ``BODY_PART_BYTES`` each, sent with its Content-Length.

    httpcore writes a body by sending what the socket takes and slicing off the rest
    (``buffer = buffer[n:]``), which copies the remainder after every partial send: a
    48 MB import briefly took 80 MB more, and copied hundreds of megabytes in all. Views
    are not copied, and a list can be sent again when the call is retried.
    """
    view = memoryview(content)
    return [view[i:i + BODY_PART_BYTES] for i in range(0, len(view), BODY_PART_BYTES)]


def encode_body(body: Any) -> tuple[Any, dict[str, str] | None]:
    """The request content and headers for ``body`` (JSON, or bytes already encoded).

    ``None`` sends no body. Content over :data:`BODY_PART_BYTES` goes as a list of views
    with an explicit ``Content-Length`` (see :func:`in_parts`).
    """
    if body is None:
        return None, None
    headers = {"Content-Type": "application/json"}
    if isinstance(body, FileBody):  # read in parts as it is sent, once per attempt
        return body, {**headers, "Content-Length": str(len(body))}
    content: Any = body if isinstance(body, bytes | bytearray) else dumps(body)
    if len(content) > BODY_PART_BYTES:
        return in_parts(content), {**headers, "Content-Length": str(len(content))}
    if isinstance(content, bytearray):
        content = bytes(content)  # httpx would iterate a bytearray as integers
    return content, headers


def _without(envelope: Mapping[str, Any], list_field: str) -> dict[str, Any]:
    return {**{k: v for k, v in envelope.items() if k != list_field}, list_field: []}


def chunk_body(envelope: Mapping[str, Any], list_field: str,
               records: Sequence[Any]) -> bytes | bytearray | FileBody | None:
    """The body to send for ``records``: a :class:`SerializedChunk` built for this very
    envelope as it is, other pre-serialised records spliced, else ``None`` (the caller
    sends the plain JSON body)."""
    if isinstance(records, SerializedChunk):
        if records.prefix == dumps(_without(envelope, list_field))[:-2]:
            return records.body
        return splice(envelope, list_field, list(records))
    if isinstance(records[0], SerializedRecord):
        return splice(envelope, list_field, records)
    return None


def splice(envelope: Mapping[str, Any], list_field: str,
           records: Sequence[SerializedRecord]) -> bytes:
    """``dumps({**envelope, list_field: records})`` for records already serialised."""
    base = dumps(_without(envelope, list_field))
    assert base.endswith(b"[]}")
    # One join for the whole body: concatenating would copy a 50 MB body twice more.
    parts: list[bytes] = [base[:-2]]
    for i, record in enumerate(records):
        if i:
            parts.append(b",")
        parts.append(record)
    parts.append(b"]}")
    return b"".join(parts)


def merge_kebab(option: str) -> str:
    """A merge option as the v3 single-contact ``merge-option`` query parameter spells it."""
    try:
        return _MERGE_KEBAB[option.lower()]
    except KeyError:
        raise ValueError(f"unknown merge option {option!r}") from None


def contact_key(contact: Mapping[str, Any]) -> tuple[str, str]:
    """The identifier a contact is matched by, and its value: ``matchIdentifier`` when it
    names a filled identifier, else e-mail, else mobile number."""
    identifiers = contact.get("identifiers") or {}
    chosen = contact.get("matchIdentifier")
    if chosen and identifiers.get(chosen):
        return str(chosen), str(identifiers[chosen])
    for name in ("email", "mobileNumber"):
        if identifiers.get(name):
            return name, str(identifiers[name])
    raise ValueError("a contact needs identifiers.email or identifiers.mobileNumber")


def contact_for_import(contact: Mapping[str, Any]) -> dict[str, Any]:
    """A v3 contact ready for ``PUT /contacts/v3/import``: ``matchIdentifier`` filled in.

    It is ``email`` when the contact has one, else ``mobileNumber`` (SPEC §1: a customer may
    have only a mobile number). The caller's dict is not modified.
    """
    out = dict(contact)
    if not out.get("matchIdentifier"):
        out["matchIdentifier"] = contact_key(contact)[0]
    return out


def build_contact_import_body(
    contacts: Sequence[Mapping[str, Any]], merge_option: str = "overwrite"
) -> dict[str, Any]:
    """The ``PUT /contacts/v3/import`` body (``mergeOption`` is camelCase there)."""
    return {
        "mergeOption": _MERGE_CAMEL[merge_kebab(merge_option)],
        "contacts": [contact_for_import(c) for c in contacts],
    }


def build_insight_import_body(
    collection: str,
    records: Sequence[Mapping[str, Any]],
    scope: Literal["contact", "account"] = "contact",
    type: str = "orders",
) -> dict[str, Any]:
    """The ``PUT /insightData/v3/import`` body."""
    if scope not in ("contact", "account"):
        raise ValueError(f"scope must be 'contact' or 'account', got {scope!r}")
    return {
        "collectionName": collection,
        "collectionScope": scope,
        "collectionType": type,
        "records": [dict(r) for r in records],
    }


def seg(value: object) -> str:
    """One URL path segment: everything but unreserved characters and ``@`` escaped."""
    return quote(str(value), safe="@")


def iso_z(moment: datetime | date) -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SS(.fff)Z``, the only form the v3 ``~modified`` filter takes."""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # naive means UTC throughout dotsync
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


def v2_date(moment: datetime | date) -> str:
    """The ``{date}`` of the v2 ``…-since/{date}`` paths: a UTC calendar date.

    The published spec types these dates as ``format: date``; passing a datetime reads from
    the start of its UTC day, which re-reads a few records at most (harmless: read-only).
    """
    if isinstance(moment, datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        return moment.date().isoformat()
    return moment.isoformat()
