"""Decoding a JSON object without the members a caller does not need.

Some Dotdigital answers are large only because of one list: a finished contact import's
report names every contact it created or updated. msgspec decodes an object into a
struct that declares only the wanted members and skips the others without building
Python objects for them, which orjson or the standard library cannot do.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

#: The members of a contact import report that list each contact (``created``, ``updated``).
CONTACT_REFS = frozenset({"created", "updated"})


class _ContactImportHead(msgspec.Struct):
    """A contact import report without ``created`` and ``updated``."""

    importId: Any = msgspec.UNSET  # Dotdigital's camelCase name
    status: Any = msgspec.UNSET
    summary: Any = msgspec.UNSET
    failures: Any = msgspec.UNSET


_HEADS = {CONTACT_REFS: _ContactImportHead}


def decode_without(raw: bytes, skipped: frozenset[str]) -> Any:
    """The JSON document ``raw`` with the top-level members ``skipped`` left out.

    Raises ``ValueError`` when ``raw`` is not JSON. A document that is not an object is
    returned whole (the report parsers treat it as empty).
    """
    head_type = _HEADS[skipped]
    try:
        head = msgspec.json.decode(raw, type=head_type)
    except msgspec.ValidationError:
        try:
            return orjson.loads(raw)  # valid JSON, but not an object of that shape
        except orjson.JSONDecodeError:
            raise ValueError("not JSON") from None
    except msgspec.DecodeError:
        raise ValueError("not JSON") from None
    return {name: value for name in head.__struct_fields__
            if (value := getattr(head, name)) is not msgspec.UNSET}
