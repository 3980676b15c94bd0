"""Fast parsing of big request bodies and compact storage of what the emulator keeps.

A backfill pushes ~48 MB import bodies and leaves millions of insight records in the
emulator. Two things make that slow or large in plain Python:

- the cyclic garbage collector: parsing a 48 MB body allocates millions of containers, and
  each time the heap grows by a quarter the collector walks all of it (the account's
  contacts included), which is most of a parse's time; later, with a few million objects
  alive, each full collection stalls every thread for up to a second. :func:`paused_gc`
  holds it off for a parse (nothing parsed can form a cycle, so nothing is lost by
  waiting) and, in a process of its own, freezes what it made.
- a stored record kept as dicts weighs ~3 KB; its orjson bytes weigh ~0.5 KB and decoding
  them gives a fresh copy, which is what every inspection method must return anyway.

:func:`pack` only packs what orjson can give back *exactly*; anything else (integers beyond
64 bits, NaN, lone surrogates: all accepted by the standard library's parser) stays a
Python value and :func:`unpack` deep-copies it, so a reader never sees a difference.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import json
import math
import threading
from collections.abc import Iterator
from typing import Any

import orjson

_gc_lock = threading.Lock()
_gc_depth = 0
_gc_was_enabled = False


@contextlib.contextmanager
def paused_gc(freeze: bool = False) -> Iterator[None]:
    """Hold off the cyclic garbage collector, re-enabling it when the last pause ends.

    Counted, so overlapping pauses from several threads (two imports parsed at once) leave
    the collector as it was before the first one. ``freeze``: then move every object alive
    into the collector's permanent generation (``gc.freeze``), so the millions just made
    are never scanned; only for a process the emulator has to itself (``tune_gc``), as any
    garbage cycle alive at that moment is kept for good.
    """
    global _gc_depth, _gc_was_enabled
    with _gc_lock:
        if _gc_depth == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            if freeze:
                gc.freeze()
            _gc_depth -= 1
            if _gc_depth == 0 and _gc_was_enabled:
                gc.enable()


def loads(raw: bytes) -> Any:
    """Parse a JSON body as the standard library would, at orjson's speed.

    orjson first; what it refuses (NaN, a BOM, lone surrogates, UTF-16) goes to
    :func:`json.loads`, so the emulator accepts exactly what it accepted before. Raises
    ``ValueError`` (``json.JSONDecodeError`` or ``UnicodeDecodeError``) when neither parses.
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


Packed = bytes | Any
"""A value as stored: orjson bytes, or the Python value itself when it does not round-trip."""

#: Types orjson would turn into something else (a datetime into text…) are refused instead.
_PASSTHROUGH = (orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
                | orjson.OPT_PASSTHROUGH_SUBCLASS)


_EXACT_COPY_BELOW = 64 * 1024


def pack(value: Any) -> Packed:
    """A JSON value (as parsed: dicts, lists, scalars) as orjson bytes when decoding them
    gives it back exactly, else ``value`` itself.

    The caller hands ``value`` over: when it is returned as is, it must not change later.
    """
    if isinstance(value, bytes):
        return value  # never ambiguous: JSON values are never bytes
    try:
        data = orjson.dumps(value, option=_PASSTHROUGH)
    except TypeError:  # an integer beyond 64 bits, a lone surrogate, a non-JSON type
        return value
    if b"null" in data and _has_non_finite(value):
        return value  # orjson writes NaN and infinities as null
    if len(data) < _EXACT_COPY_BELOW:
        # orjson's output keeps the ~4 KB block it was written into: a 500-byte record
        # would cost 4 KB for as long as it is stored. A copy is allocated to size.
        data = memoryview(data).tobytes()
    return data


def unpack(packed: Packed) -> Any:
    """A fresh copy of a packed value (the caller may change it freely)."""
    if isinstance(packed, bytes):
        return orjson.loads(packed)
    return copy.deepcopy(packed)


def pack_json_bytes(packed: Packed) -> bytes:
    """The JSON text of a packed value, for an HTTP response (compact, UTF-8)."""
    if isinstance(packed, bytes):
        return packed
    return json.dumps(packed, ensure_ascii=False, allow_nan=False,
                      separators=(",", ":")).encode("utf-8")


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_non_finite(v) for v in value)
    return False
