"""What every insight-data import shares, whatever its records are.

Orders, carts and catalogue products all go through ``PUT /insightData/v3/import``:
the same status endpoint, the same limit of 5 imports in flight per account, the same
report naming each refused record by its key. The steps differ only in the body they
submit and how they settle their records, so those stay in each step's subclass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from dotsync.sync.steps.bulk_import import BulkImport
from dotsync.sync.steps.outcome import Outcome

T = TypeVar("T")
X = TypeVar("X")


def insight_failures(report: Any) -> dict[str, str]:
    """``{record key: failureReason}`` from an insight import report."""
    return {str(f.key): str(f.failure_reason or "Failed") for f in report.failures
            if f.key is not None}


class InsightImport(BulkImport[T, X]):
    """An insight-data import: polled, limited and read back the same for every entity."""

    what = "insight import"
    #: What one record is called in the refusal of one too large for any import.
    record_name = "insight"

    def status(self, import_id: str) -> Any:
        return self.ctx.api.get_insight_import(import_id)

    def in_flight(self) -> int:
        return self.ctx.options.insight_imports_in_flight

    def succeeded(self, report: Any) -> bool:
        return bool(report.succeeded)

    def failures(self, report: Any) -> Mapping[Any, Any]:
        return insight_failures(report)

    def too_large(self, size: int) -> Outcome:
        return Outcome("rejected", "too_large",
                       f"the {self.record_name} record serialises to {size} bytes, more "
                       f"than one import may carry ({self.ctx.options.import_max_bytes})")
