"""Reconciliation: does Dotdigital still hold what the ledger says was sent?

Plain Python (no Prefect): :func:`reconcile` reads back collection counts, the contacts
and insight records modified since the last reconciliation, a random sample of older
records (or, ``full``, everything), compares them with what dotsync sends, and reports
missing, extra and different records; :func:`repair` queues the missing and different
ones in the ledger for the next sync. The ``reconcile`` flow and ``dotsync reconcile``
wrap it.
"""

from dotsync.reconcile.budget import BudgetExhausted, CallBudget
from dotsync.reconcile.marker import last_reconciliation, set_last_reconciliation
from dotsync.reconcile.repair import repair
from dotsync.reconcile.result import Finding, ReconcileResult
from dotsync.reconcile.run import ReconcileOptions, reconcile

__all__ = [
    "BudgetExhausted",
    "CallBudget",
    "Finding",
    "ReconcileOptions",
    "ReconcileResult",
    "last_reconciliation",
    "reconcile",
    "repair",
    "set_last_reconciliation",
]
