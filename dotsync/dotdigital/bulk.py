"""Bulk imports: split records into requests by serialised size, and wait for imports.

Dotdigital's advice for large loads is "the fewest, largest calls": one import carries up
to 50 MB and counts as one call against the per-minute budget. Chunking by a fixed record
count (as other connectors do) either wastes calls on small records or overflows the body
cap on large ones (an order with many lines), so chunks here are cut by the exact size of
the JSON body the client will send (:func:`dotsync.dotdigital.wire.dumps`), envelope
included. The default cap, 10 MiB, stays far below 50 MB so a proxy or a slow link is not a
problem and a failed import costs little to redo.

Import status is polled with a gently growing interval clamped to Dotdigital's advised
5–30 s (configurable down to milliseconds for tests), under an overall timeout.
"""

from __future__ import annotations

import logging
import tempfile
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, TypeVar, overload

from dotsync.dotdigital.api import ImportStatusAPI
from dotsync.dotdigital.errors import DotdigitalError, ImportWaitTimeout, RecordTooLargeError
from dotsync.dotdigital.models import ContactImportReport, InsightImportReport
from dotsync.dotdigital.wire import (
    FileBody,
    SerializedChunk,
    build_contact_import_body,
    build_insight_import_body,
    contact_for_import,
    dumps,
)
from dotsync.masking import mask_email

__all__ = [
    "DEFAULT_MAX_BYTES",
    "chunk_by_size",
    "chunk_contacts",
    "chunk_insight_records",
    "insight_record",
    "wait_for_import",
]

logger = logging.getLogger("dotsync.dotdigital")

#: Default cap for one import request body (Dotdigital accepts up to 50 MB).
DEFAULT_MAX_BYTES = 10 * 1024 * 1024

T = TypeVar("T")


def chunk_by_size(
    records: Iterable[T],
    *,
    envelope: Mapping[str, Any],
    list_field: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
    key: Callable[[T], str] = str,
    serialized: bool = False,
    on_oversize: Callable[[T, int], None] | None = None,
    on_disk: bool = False,
) -> Iterator[Sequence[Any]]:
    """Yield consecutive runs of ``records`` whose request body fits in ``max_bytes``.

    The body is ``envelope`` with ``list_field`` set to the run, serialised by ``dumps``;
    its size is computed exactly (envelope + records + separating commas) without
    serialising each candidate body. Order is kept and every record lands in exactly one
    chunk. A record too large to fit even alone raises :class:`RecordTooLargeError` naming
    it through ``key`` (before any later record is read).
    """
    empty = dumps({**envelope, list_field: []})
    base = len(empty)
    if base >= max_bytes:
        raise ValueError(f"max_bytes={max_bytes} cannot hold even an empty request")
    if serialized:
        yield from _serialized_chunks(records, empty, max_bytes, key, on_oversize,
                                      _FileBuilder if on_disk else _MemoryBuilder)
        return
    chunk: list[Any] = []
    size = base
    for record in records:
        record_size = len(dumps(record))
        if base + record_size > max_bytes:
            _oversize(record, record_size, max_bytes, key, on_oversize)
            continue
        added = record_size + (1 if chunk else 0)
        if chunk and size + added > max_bytes:
            yield chunk
            chunk, size, added = [], base, record_size
        chunk.append(record)
        size += added
    if chunk:
        yield chunk


def _oversize(record: Any, size: int, max_bytes: int, key: Callable[[Any], str],
              on_oversize: Callable[[Any, int], None] | None) -> None:
    if on_oversize is not None:  # the caller rejects it; the others go on
        on_oversize(record, size)
        return
    name = key(record)
    raise RecordTooLargeError(
        f"record {name} serialises to {size} bytes; an import request may"
        f" carry at most {max_bytes} bytes",
        key=name, size=size, max_bytes=max_bytes,
    )


def _serialized_chunks(
    records: Iterable[Any], empty: bytes, max_bytes: int, key: Callable[[Any], str],
    on_oversize: Callable[[Any, int], None] | None, builder: type[_Builder],
) -> Iterator[SerializedChunk]:
    """The same chunks as the plain path, each built straight into its request body
    (in memory, or in a temporary file: ``builder``)."""
    prefix = empty[:-2]  # up to and including the list's "["
    body = builder(prefix)
    for record in records:
        encoded = dumps(record)
        if len(empty) + len(encoded) > max_bytes:
            _oversize(record, len(encoded), max_bytes, key, on_oversize)
            continue
        if body.offsets and body.size + 1 + len(encoded) + 2 > max_bytes:
            done, body = body.finish(), builder(prefix)
            yield done
            del done
        body.add(encoded)
    if body.offsets:
        yield body.finish()


class _Builder:
    """One import body as its records are added: where each starts, and its size."""

    def __init__(self, prefix: bytes) -> None:
        self.prefix = prefix
        self.size = len(prefix)
        self.offsets: array[int] = array("Q")

    def add(self, encoded: bytes) -> None:
        if self.offsets:
            self.write(b",")
            self.size += 1
        self.offsets.append(self.size)
        self.write(encoded)
        self.size += len(encoded)

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def finish(self) -> SerializedChunk:
        self.offsets.append(self.size + 1)  # where a next record would start: ends the last
        self.write(b"]}")
        self.size += 2
        return self.chunk()

    def chunk(self) -> SerializedChunk:
        raise NotImplementedError


class _MemoryBuilder(_Builder):
    def __init__(self, prefix: bytes) -> None:
        super().__init__(prefix)
        self.body = bytearray(prefix)

    def write(self, data: bytes) -> None:
        self.body += data

    def chunk(self) -> SerializedChunk:
        # Kept as the bytearray it was built in: a bytes copy would hold the import twice.
        body, self.body = self.body, bytearray()
        return SerializedChunk(body, self.offsets, self.prefix)


class _FileBuilder(_Builder):
    """A body built in a temporary file: a 48 MB import built well before it is sent
    costs no memory while it waits (it is sent from the file, a part at a time)."""

    def __init__(self, prefix: bytes) -> None:
        super().__init__(prefix)
        self.file = tempfile.TemporaryFile(prefix="dotsync-import-",  # noqa: SIM115
                                           buffering=1 << 20)
        self.file.write(prefix)

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def chunk(self) -> SerializedChunk:
        self.file.flush()
        return SerializedChunk(FileBody(self.file, self.size), self.offsets, self.prefix)


def _contact_name(contact: Mapping[str, Any]) -> str:
    identifiers = contact.get("identifiers") or {}
    if identifiers.get("email"):
        return mask_email(str(identifiers["email"]))
    if identifiers.get("mobileNumber"):
        return "mobile ***" + str(identifiers["mobileNumber"])[-2:]
    return "(no identifier)"


def chunk_contacts(
    contacts: Iterable[Mapping[str, Any]],
    merge_option: str = "overwrite",
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    serialized: bool = False,
    on_oversize: Callable[[Any, int], None] | None = None,
) -> Iterator[Sequence[Any]]:
    """Contacts in import-ready chunks for :meth:`DotdigitalClient.import_contacts`.

    The yielded contacts have ``matchIdentifier`` filled in, so their size is what is sent.
    An oversized contact is named by its masked e-mail (or the end of its mobile number).
    """
    envelope = {k: v for k, v in build_contact_import_body([], merge_option).items()
                if k != "contacts"}
    return chunk_by_size(
        (contact_for_import(c) for c in contacts),
        envelope=envelope, list_field="contacts", max_bytes=max_bytes, key=_contact_name,
        serialized=serialized, on_oversize=on_oversize,
    )


def chunk_insight_records(
    collection: str,
    records: Iterable[Mapping[str, Any]],
    scope: Literal["contact", "account"] = "contact",
    type: str = "orders",
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    serialized: bool = False,
    on_oversize: Callable[[Any, int], None] | None = None,
    on_disk: bool = False,
) -> Iterator[Sequence[Any]]:
    """Insight records in chunks for :meth:`DotdigitalClient.import_insight_data`
    (``on_disk``: serialised bodies built in temporary files).

    An oversized record is named by its ``key`` (the order id).
    """
    envelope = {k: v for k, v in build_insight_import_body(collection, [], scope, type).items()
                if k != "records"}
    return chunk_by_size(
        records, envelope=envelope, list_field="records", max_bytes=max_bytes,
        key=lambda r: repr(r.get("key")), serialized=serialized, on_oversize=on_oversize,
        on_disk=on_disk,
    )


def insight_record(
    key: str,
    json: Mapping[str, Any],
    *,
    email: str | None = None,
    identifier: str = "email",
    value: str | None = None,
) -> dict[str, Any]:
    """One import record: ``{"key", "json"}`` plus the owning contact when there is one."""
    record: dict[str, Any] = {"key": str(key), "json": dict(json)}
    owner = value if value is not None else email
    if owner is not None:
        record["contactIdentity"] = {"identifier": identifier, "value": owner}
    return record


@overload
def wait_for_import(client: ImportStatusAPI, import_id: str, *,
                    kind: Literal["contacts"] = ..., poll_interval: float = ...,
                    min_poll: float = ..., max_poll: float = ..., growth: float = ...,
                    timeout: float = ..., sleep: Callable[[float], None] | None = ...,
                    clock: Callable[[], float] | None = ...) -> ContactImportReport: ...
@overload
def wait_for_import(client: ImportStatusAPI, import_id: str, *,
                    kind: Literal["insight"], poll_interval: float = ...,
                    min_poll: float = ..., max_poll: float = ..., growth: float = ...,
                    timeout: float = ..., sleep: Callable[[float], None] | None = ...,
                    clock: Callable[[], float] | None = ...) -> InsightImportReport: ...
def wait_for_import(
    client: ImportStatusAPI,
    import_id: str,
    *,
    kind: Literal["contacts", "insight"] = "contacts",
    poll_interval: float = 5.0,
    min_poll: float = 5.0,
    max_poll: float = 30.0,
    growth: float = 1.5,
    timeout: float = 3600.0,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
) -> ContactImportReport | InsightImportReport:
    """Poll an import until it reaches a terminal status; return the final report.

    Terminal: contacts ``Finished``, ``Failed``, ``RejectedByWatchdog``,
    ``ExceedsAllowedContactLimit``; insight ``Finished``/``Complete`` or ``Failed``. Check
    ``report.succeeded`` and ``report.failures``: a finished import may still have rejected
    records.

    The first poll comes one interval after the call; each later interval is ``growth``
    times the previous one; every interval is clamped to ``[min_poll, max_poll]`` (5–30 s
    by default, as Dotdigital advises; tests pass e.g. ``poll_interval=0.01, min_poll=0``).
    Transient errors while polling (5xx, 429, dropped connections left after the client's
    own retries) do not end the wait; anything else is raised. After ``timeout`` seconds
    :class:`ImportWaitTimeout` is raised with the last status seen.

    ``sleep``/``clock`` default to the client's own, so a fake clock covers both.
    """
    if min_poll < 0 or max_poll < min_poll:
        raise ValueError("need 0 <= min_poll <= max_poll")
    if kind not in ("contacts", "insight"):
        raise ValueError(f"kind must be 'contacts' or 'insight', got {kind!r}")
    # The client's own clock by default, so one fake clock covers both.
    sleep_: Callable[[float], None] = (
        sleep if sleep is not None else getattr(client, "_sleep", time.sleep))
    clock_: Callable[[], float] = (
        clock if clock is not None else getattr(client, "_clock", time.time))
    fetch: Callable[[str], ContactImportReport | InsightImportReport] = (
        client.get_contact_import if kind == "contacts" else client.get_insight_import
    )
    deadline = clock_() + timeout
    interval = min(max(poll_interval, min_poll), max_poll)
    last_status: str | None = None
    while True:
        remaining = deadline - clock_()
        if remaining <= 0:
            raise ImportWaitTimeout(
                f"{kind} import {import_id} not finished after {timeout:.0f} s"
                f" (last status {last_status or 'unknown'})",
                import_id=import_id, last_status=last_status,
            )
        sleep_(min(interval, remaining))
        try:
            report = fetch(import_id)
        except DotdigitalError as exc:
            if not exc.transient:
                raise
            logger.info("%s import %s: status poll failed (%s); polling on",
                        kind, import_id, type(exc).__name__)
        else:
            last_status = report.status
            if report.done:
                return report
        interval = min(max(interval * growth, min_poll), max_poll)
