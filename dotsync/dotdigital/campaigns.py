"""Campaign operations (v2): triggered-campaign sends, and reading campaigns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dotsync.dotdigital.models import BatchSendResult, Campaign, TriggeredSend
from dotsync.dotdigital.resource import Resource
from dotsync.dotdigital.retry import SEND

__all__ = ["CampaignOperations", "batch_results"]


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def batch_results(body: Any, count: int) -> list[BatchSendResult]:
    """One result per input of a batch send, by index: ``ok`` unless the answer ``body``
    holds a failure code or reason for that index (anything else in it is ignored)."""
    failures: dict[int, Mapping[str, Any]] = {}
    for item in body if isinstance(body, list) else []:
        if isinstance(item, Mapping) and (item.get("failureCode") or item.get("failureReason")):
            try:
                failures[int(item.get("index"))] = item  # type: ignore[arg-type]
            except (TypeError, ValueError):
                continue
    results = []
    for index in range(count):
        failed = failures.get(index)
        results.append(BatchSendResult(
            index=index,
            ok=failed is None,
            failure_code=None if failed is None else _opt_str(failed.get("failureCode")),
            failure_reason=None if failed is None else _opt_str(failed.get("failureReason")),
        ))
    return results


class CampaignOperations(Resource):
    """Sends and campaigns; mixed into ``DotdigitalClient``."""

    def send_triggered_campaign(
        self,
        campaign_id: int,
        to_address: str,
        personalization: Mapping[str, str] | None = None,
    ) -> None:
        """Send one triggered-campaign e-mail (``POST /v2/email/triggered-campaign``).

        Never repeated once the request may have reached Dotdigital: a lost answer raises
        :class:`SendOutcomeUnknown`. Exactly-once across runs is the caller's ledger's job.
        """
        body = TriggeredSend(campaign_id, to_address, dict(personalization or {})).to_json()
        self._call("send_triggered_campaign", "POST", "/v2/email/triggered-campaign",
                   body=body, kind=SEND)

    def send_triggered_campaign_batch(
        self, sends: Sequence[TriggeredSend]
    ) -> list[BatchSendResult]:
        """``POST /v2/email/triggered-campaign/batch``: one result per input, by index.

        An input is ``ok`` unless Dotdigital returned a failure code or reason for its index.
        """
        if not sends:
            return []
        response = self._call("send_triggered_campaign_batch", "POST",
                              "/v2/email/triggered-campaign/batch",
                              body=[s.to_json() for s in sends], kind=SEND)
        return batch_results(self._json(response, "send_triggered_campaign_batch") or [],
                             len(sends))

    def list_campaigns(self, *, page_size: int = 1000) -> list[Campaign]:
        """Every campaign (``GET /v2/campaigns?select=…&skip=…``, all pages)."""
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be between 1 and 1000")
        return [Campaign.from_json(c) for c in self._v2_pages(
            "list_campaigns", "/v2/campaigns", page_size)]

    def get_campaign(self, campaign_id: int) -> Campaign:
        """``GET /v2/campaigns/{id}``; :class:`NotFoundError` when there is no such campaign."""
        response = self._call("get_campaign", "GET", f"/v2/campaigns/{int(campaign_id)}")
        return Campaign.from_json(self._json(response, "get_campaign"))
