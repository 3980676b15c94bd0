"""What a step learned about one record, in one shape.

Contacts, orders and triggered sends used to pass three different tuples for the
same idea (a record, its state, why); :class:`Outcome` is that idea once, so the
settling code of every step reads the same fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: The states a send or an import can leave a record in.
State = Literal["synced", "rejected", "failed", "in_doubt", "pending"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """The state a record is settled in, and the reason when it is not ``synced``.

    ``reference`` is Dotdigital's handle on the call (an import id, ``campaign N``);
    ``field`` the source column at fault, when one is.
    """

    state: State
    code: str | None = None
    message: str | None = None
    field: str | None = None
    reference: str | None = None

    @property
    def final(self) -> bool:
        """Settled for this run: a retried step skips it (a failure is tried again)."""
        return self.state != "failed"


SYNCED = Outcome("synced")


def failed(code: str | None, message: str | None, reference: str | None = None) -> Outcome:
    return Outcome("failed", code, message, reference=reference)


def rejected(code: str | None, message: str | None, *, field: str | None = None,
             reference: str | None = None) -> Outcome:
    return Outcome("rejected", code, message, field=field, reference=reference)
