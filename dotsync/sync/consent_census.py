"""Which contacts an account already holds, for a bulk import's consent decision.

A bulk import cannot create only (Dotdigital's import "creates contacts if they do not
exist and updates contacts if they do"), and a status in it would change a contact that
exists. So before a bulk push that would create contacts without consent, dotsync lists
the account's contacts once (``GET /contacts/v3``, identifiers only, 5,000 a call) and
adds the non-marketable status only for contacts the listing does not hold.

The identities are kept as sorted 64-bit hashes: 8 bytes a contact, so a million-contact
account costs 8 MB, not a set of strings. A hash collision can only make dotsync take a
new contact for an existing one, which sends no status (never the harmful direction).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import numpy as np

#: The earliest ``~modified`` date asked for: every contact was modified after it.
_EPOCH = datetime(1990, 1, 1, tzinfo=UTC)


def _hash(identity: str) -> int:
    return int.from_bytes(hashlib.blake2b(identity.encode("utf-8"), digest_size=8).digest(),
                          "little")


def identities(contact: dict[str, Any]) -> list[str]:
    """A listed contact's identities, in the sync's own form (``_identity``)."""
    ids = contact.get("identifiers") or {}
    out = []
    if isinstance(ids.get("email"), str):
        out.append(ids["email"].strip().lower())
    if isinstance(ids.get("mobileNumber"), str):
        out.append(f"mobile:+{ids['mobileNumber'].lstrip('+')}")
    return out


class Census:
    """A membership test over the identities of an account's contacts."""

    def __init__(self, hashes: Iterable[int]) -> None:
        self._hashes = np.unique(np.fromiter(hashes, dtype=np.uint64))

    @classmethod
    def of_account(cls, client: Any) -> Census:
        return cls(_hash(i) for contact in client.contacts_modified_since(
            _EPOCH, limit=5000, include=()) for i in identities(contact))

    @classmethod
    def of(cls, names: Iterable[str]) -> Census:
        return cls(_hash(n) for n in names)

    def __len__(self) -> int:
        return len(self._hashes)

    def holds(self, identity: str) -> bool:
        if not len(self._hashes):  # an empty account (a first load): asked per contact
            return False
        value = np.uint64(_hash(identity))
        at = int(np.searchsorted(self._hashes, value))
        return at < len(self._hashes) and self._hashes[at] == value
