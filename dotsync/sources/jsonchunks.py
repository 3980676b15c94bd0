"""The elements of a big JSON array, decoded a megabyte at a time with msgspec.

``ijson`` reads any JSON in flat memory but builds each value event by event, which
made parsing the largest share of a platform load. Here the array is read in chunks;
the last separator of the chunk that lies at the array's own level (a ``,`` outside
every string and nested value, found with a vectorised scan) cuts it, and everything
before the cut is decoded in one ``msgspec`` call as ``[ … ]``. Memory stays flat (a
chunk plus its decoded elements) and each value is what ``json`` would give: numbers
that are not whole become ``Decimal`` from their exact digits, never ``float``.

Anything unusual (a value msgspec refuses such as a lone surrogate escape, invalid
JSON, an element bigger than :data:`MAX_ELEMENT_BYTES`) raises :class:`Unsupported`
with the number of elements already given, and the caller reads the rest with
``ijson`` as before, so errors are reported exactly as they always were.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

import msgspec
import numpy as np

#: Bytes read per step.
CHUNK_BYTES = 1024 * 1024
#: One element bigger than this is left to ijson (a chunk must hold a whole element).
MAX_ELEMENT_BYTES = 256 * 1024 * 1024
#: How far into the file an envelope's array must start to be found here.
HEAD_BYTES = 1024 * 1024

_DECODER = msgspec.json.Decoder(float_hook=Decimal)
_WHITESPACE = b" \t\r\n"
_QUOTE, _BACKSLASH, _COMMA = ord('"'), ord("\\"), ord(",")
_OPEN = (ord("{"), ord("["))
_CLOSE = (ord("}"), ord("]"))


class Unsupported(Exception):
    """Read the rest with ijson; ``done`` elements were already given."""

    def __init__(self, done: int) -> None:
        super().__init__(done)
        self.done = done


def decode(data: bytes) -> Any:
    """One JSON text, ``Decimal`` for numbers that are not whole. The cyclic garbage
    collector is paused meanwhile: it would otherwise walk every container decoded so
    far, again and again, while thousands are created."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _DECODER.decode(data)
    finally:
        if enabled:
            gc.enable()


def _levels(buf: bytes) -> np.ndarray:
    """The nesting level after each byte of ``buf`` (0 = the array's own level), with
    bytes inside strings not counted; ``buf`` starts at the array's level, outside
    any string."""
    a = np.frombuffer(buf, dtype=np.uint8)
    quotes = a == _QUOTE
    if buf.find(b"\\") >= 0:
        # A quote preceded by an odd run of backslashes is inside its string.
        escaped = np.zeros(len(a), dtype=bool)
        skip = -1
        for p in np.flatnonzero(a == _BACKSLASH).tolist():
            if p > skip:
                escaped[p + 1 : p + 2] = True
                skip = p + 1
        quotes &= ~escaped
    outside = (np.cumsum(quotes, dtype=np.int64) & 1) == 0
    step = (np.isin(a, _OPEN).astype(np.int8) - np.isin(a, _CLOSE).astype(np.int8))
    step[~outside] = 0
    return np.cumsum(step, dtype=np.int64), outside, a


def _exact_separator(buf: bytes) -> int:
    """Index of the last ``,`` between two elements of the array, or -1."""
    levels, outside, a = _levels(buf)
    found = np.flatnonzero((a == _COMMA) & (levels == 0) & outside)
    return int(found[-1]) if len(found) else -1


def _exact_end(buf: bytes) -> int:
    """Index of the ``]`` closing the array, or -1."""
    levels, _, _ = _levels(buf)
    found = np.flatnonzero(levels < 0)
    return int(found[0]) if len(found) else -1


def _level(buf: bytes, start: int, end: int) -> tuple[int, int]:
    """Brackets opened minus closed, and quotes, in ``buf[start:end]`` (strings not
    told apart: a guess that decoding confirms)."""
    c = buf.count
    return (c(b"{", start, end) + c(b"[", start, end) - c(b"}", start, end)
            - c(b"]", start, end), c(b'"', start, end))


def _level_all(buf: bytes) -> tuple[int, int]:
    """:func:`_level` of the whole of ``buf``, vectorised: five byte counts over a
    megabyte cost a fifth of ``bytes.count``'s time this way."""
    a = np.frombuffer(buf, dtype=np.uint8)
    n = np.count_nonzero
    return (int(n(a == _OPEN[0]) + n(a == _OPEN[1]) - n(a == _CLOSE[0]) - n(a == _CLOSE[1])),
            int(n(a == _QUOTE)))


def _guess(buf: bytes, mark: bytes, level_at_mark: int) -> int:
    """The last ``mark`` (``,`` or ``]``) after which the bracket count, walking back
    from the end, says the array's own level is ``level_at_mark``; -1 if none. Cheap
    (a few C counts per candidate) and usually right; a wrong guess fails to decode
    and the exact scan decides."""
    level, quotes = _level_all(buf)
    end = len(buf)
    p = buf.rfind(mark)
    while p >= 0:
        dl, dq = _level(buf, p, end)
        level, quotes = level - dl, quotes - dq
        if level == level_at_mark and not quotes & 1:
            return p
        end = p
        p = buf.rfind(mark, 0, end)
    return -1


def envelope_start(f: IO[bytes], key: str) -> int | None:
    """Offset of the ``[`` of the top-level ``key`` array of an envelope, or None when
    it is not in the first :data:`HEAD_BYTES` (then ijson reads the file)."""
    f.seek(0)
    head = f.read(HEAD_BYTES)
    pattern = re.compile(rb'"' + re.escape(msgspec.json.encode(key)[1:-1]) + rb'"\s*:\s*\[')
    for match in pattern.finditer(head):
        # A key of the envelope itself iff what precedes it, closed with an empty
        # array, is a whole JSON object (inside a string or a nested value, it is not).
        try:
            before = decode(head[: match.start()].removeprefix(b"\xef\xbb\xbf")
                            + b'"_":[]}')
        except msgspec.DecodeError:
            continue
        if isinstance(before, dict):
            return match.end() - 1
    return None


def iter_elements(f: IO[bytes], start: int, *, envelope: bool,
                  chunk_bytes: int = CHUNK_BYTES) -> Iterator[Any]:
    """The elements of the array whose ``[`` is at ``start``. ``envelope``: the array
    is a value inside a top-level object, whose remaining keys are checked too."""
    f.seek(start + 1)
    buf = b""
    done = 0
    cut_made = False
    while True:
        chunk = f.read(chunk_bytes)
        buf += chunk
        if chunk:
            values, rest = _decode_upto(buf, _guess(buf, b",", 0), _exact_separator)
            if values is None:
                if len(buf) > MAX_ELEMENT_BYTES:
                    raise Unsupported(done)
                continue
            if values is _FAILED or not values:
                raise Unsupported(done)  # "[,", ",,", invalid JSON: ijson names it
            buf = rest
            cut_made = True
        else:
            values, tail = _decode_upto(buf, _guess(buf, b"]", -1), _exact_end)
            if values is None or values is _FAILED or not _tail_ok(tail, envelope) \
                    or (cut_made and not values):
                raise Unsupported(done)
        yield from values
        done += len(values)
        if not chunk:
            return


_FAILED: Any = object()


def _decode_upto(buf: bytes, guess: int, exact: Any) -> tuple[Any, bytes]:
    """The elements before ``buf[guess]`` (or before what ``exact`` finds when the
    guess does not decode) and the bytes after it; ``(None, b"")`` when there is no
    cut yet, ``(_FAILED, b"")`` when nothing decodes."""
    for attempt in (0, 1):
        cut = guess if attempt == 0 else exact(buf)
        if cut < 0:
            if attempt == 0:
                continue
            return None, b""
        try:
            return decode(b"[" + buf[:cut] + b"]"), buf[cut + 1 :]
        except msgspec.DecodeError:
            continue
    return _FAILED, b""


def _tail_ok(tail: bytes, envelope: bool) -> bool:
    """What follows the array is the rest of a valid document."""
    if not envelope:
        return not tail.strip(_WHITESPACE)
    try:
        return isinstance(decode(b'{"_":[]' + tail), dict)
    except msgspec.DecodeError:
        return False
