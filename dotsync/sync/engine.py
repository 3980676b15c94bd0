"""The sync itself, as plain Python: extract → validate → contacts → orders →
confirmations → certificates. Prefect tasks in ``tasks/`` call these steps; keeping
them here makes each step testable without an orchestrator and keeps one place
where the rules live.

Rules kept by the steps (:mod:`dotsync.sync.steps`):

* contacts go first; an order or certificate whose contact is not ``synced`` in the
  ledger waits (state ``pending``, with the reason) and goes out in a later run;
* a payload identical to the one last sent is not sent again (zero write calls on
  a no-change run);
* certificates and order confirmations are claimed in the ledger (``in_doubt``)
  before the call and settled after it; a send whose outcome is unknown stays
  ``in_doubt`` and is never repeated automatically;
* every outcome is written to the ledger as soon as it is known, so a retried task
  or flow resumes from there.

:class:`SyncEngine` is the run as the flows and the tests hold it: it builds the
:class:`~dotsync.sync.steps.context.RunContext` and one object per step, connects
and finishes the run, and hands each step's work to the step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

import pandas as pd

from dotsync.config import Settings
from dotsync.dotdigital import errors as dd
from dotsync.dotdigital.api import DotdigitalAPI
from dotsync.store import Ledger, Store, attempts
from dotsync.sync.report import RunReport
from dotsync.sync.steps.carts import Carts
from dotsync.sync.steps.certificates import CertificatePlan, Certificates
from dotsync.sync.steps.confirmations import Confirmations
from dotsync.sync.steps.contact_send import Pushing
from dotsync.sync.steps.contacts import Contacts
from dotsync.sync.steps.context import RunContext
from dotsync.sync.steps.errors import CredentialsRefused, RunFailed
from dotsync.sync.steps.items import ContactItem, OrderRow
from dotsync.sync.steps.options import Options
from dotsync.sync.steps.order_programs import OrderPrograms
from dotsync.sync.steps.orders import Orders
from dotsync.sync.steps.products import Products
from dotsync.sync.steps.send_cap import check
from dotsync.sync.transactional import SendPlan, confirmations_enabled_at, enable_confirmations

__all__ = ["CredentialsRefused", "Options", "RunFailed", "SyncEngine"]

log = logging.getLogger("dotsync.sync")


class SyncEngine:
    """One run: its context, its steps, and the run's start and end."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        client: DotdigitalAPI | None,
        *,
        run_id: str | None = None,
        options: Options | None = None,
        flow: str = "sync",
    ) -> None:
        self.ctx = RunContext(
            store, settings, client, run_id=run_id, flow=flow,
            options=options or Options(bulk_threshold=settings.contact_bulk_threshold))
        self.contacts = Contacts(self.ctx)
        self.orders = Orders(self.ctx, self.contacts)
        self.confirmations = Confirmations(self.ctx, self.orders)
        self.certificates = Certificates(self.ctx)
        self.products = Products(self.ctx)
        self.carts = Carts(self.ctx)
        self.order_programs = OrderPrograms(self.ctx, self.orders)
        self._calls_at_start: dict[str, int] = dict(self._stats_calls()) if client else {}

    # -- the context, as the flows read it ------------------------------------------

    @property
    def store(self) -> Store:
        return self.ctx.store

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def client(self) -> DotdigitalAPI | None:
        return self.ctx.client

    @property
    def options(self) -> Options:
        return self.ctx.options

    @property
    def run_id(self) -> str:
        return self.ctx.run_id

    @property
    def ledger(self) -> Ledger:
        return self.ctx.ledger

    @property
    def report(self) -> RunReport:
        return self.ctx.report

    @property
    def send_plan(self) -> SendPlan | None:
        return self.ctx.send_plan

    @send_plan.setter
    def send_plan(self, plan: SendPlan | None) -> None:
        self.ctx.send_plan = plan

    @property
    def on_progress(self) -> Callable[[int], None] | None:
        return self.ctx.on_progress

    @on_progress.setter
    def on_progress(self, hook: Callable[[int], None] | None) -> None:
        self.ctx.on_progress = hook

    # -- start and end --------------------------------------------------------------

    def connect(self) -> None:
        """Check credentials and region, and resolve the order campaign, before any write.

        Raises :class:`RunFailed` with one clear message when the run cannot go on.
        """
        ctx = self.ctx
        confirming = self.confirmations.enabled
        if ctx.options.dry_run or ctx.client is None:
            if confirming:  # a dry run writes nothing: the next run would stamp "now"
                ctx.confirmations_enabled_at = (confirmations_enabled_at(ctx.store)
                                                or datetime.now(UTC))
            return
        try:
            ctx.client.account_info()
            if confirming:
                ctx.order_campaign_id = self._resolve_campaign(ctx.settings.order_campaign or "")
                ctx.confirmations_enabled_at = enable_confirmations(ctx.store)
        except dd.AuthenticationError as exc:
            raise CredentialsRefused(
                "Dotdigital refused the API credentials (HTTP "
                f"{exc.status}): check DOTDIGITAL_API_USER / DOTDIGITAL_API_PASSWORD and that "
                "DOTDIGITAL_API_ENDPOINT is your account's region"
            ) from None
        except dd.HostNotAllowedError as exc:
            raise RunFailed(f"refusing to send credentials: {exc}") from None
        except dd.TransportError as exc:
            raise RunFailed(f"cannot reach Dotdigital: {exc}") from None

    def _resolve_campaign(self, name: str) -> int:
        wanted = name.strip()
        if wanted.isdigit():
            return int(wanted)
        matches = [c for c in self.ctx.api.list_campaigns() if c.name == wanted]
        if len(matches) != 1:
            raise RunFailed(
                f"DOTSYNC_ORDER_CAMPAIGN names campaign {wanted!r}, which "
                + ("does not exist in this Dotdigital account" if not matches else
                   f"{len(matches)} campaigns share (ids "
                   f"{', '.join(str(c.id) for c in matches)}): name one by its id")
            )
        return int(matches[0].id)

    def preflight(self) -> Any:
        """The go-live checks (``dotsync preflight``), failing the run before any write.

        A scheduled sync (or carts run) checks only the staged records it is about to read
        (changed since the last run, or to retry); a backfill checks every row it may
        send."""
        from dotsync.preflight import run_preflight

        # Preflight's read-only checks use the client itself, beyond the protocol.
        result = run_preflight(self.settings, self.store, cast(Any, self.client),
                               changed_only=self.report.flow in ("sync", "carts"),
                               deployed=self.options.deployed)
        for check_ in result.checks:
            if check_.status != "pass":
                self.report.notes.append(f"preflight {check_.name}: {check_.status}: "
                                         f"{check_.detail}")
        if not result.ok:
            failing = [c for c in result.checks if c.status in ("fail", "skipped")
                       and c.severity == "error"]
            raise RunFailed("preflight failed, nothing was sent: " + "; ".join(
                f"{c.name}: {c.detail} ({c.fix})" for c in failing))
        return result

    def _stats_calls(self) -> Mapping[str, int]:
        stats = getattr(self.client, "stats", None)
        return dict(getattr(stats, "calls", {}) or {})

    def finish(self, status: str = "completed", message: str | None = None) -> RunReport:
        report = self.report
        if not self.options.dry_run:
            # The attempt log's retention: one indexed range delete per run.
            attempts.prune(self.store, self.settings.attempt_retention_days)
        report.finished_at = datetime.now(UTC)
        report.status = status
        report.message = message
        if self.client is not None:
            stats = getattr(self.client, "stats", None)
            calls = self._stats_calls()
            report.api_calls = {
                op: n - self._calls_at_start.get(op, 0)
                for op, n in calls.items()
                if n - self._calls_at_start.get(op, 0) > 0
            }
            report.retries = int(getattr(stats, "retries", 0) or 0)
            report.rate_limit_wait_seconds = float(
                getattr(stats, "rate_limit_wait_seconds", 0.0) or 0.0
            )
        return report

    # -- the steps' entry points ----------------------------------------------------

    def extract(self, entity: str) -> pd.DataFrame:
        """Pending staged rows of ``entity`` with their source fingerprint in ``_hash``,
        in one frame: read through the change stamps, so the cost follows what changed
        (the flows use the chunks of :mod:`dotsync.sync.changed` instead)."""
        from dotsync.sync.changed import Changes, all_pending

        return all_pending(Changes(self), entity)

    def customers_with_emails(self, emails: Iterable[str]) -> pd.DataFrame:
        return self.ctx.customers_with_emails(emails)

    def contact_items(self, group: pd.DataFrame, pending_ids: set[str]) -> list[ContactItem]:
        return self.contacts.items(group, pending_ids)

    def push_contacts(self, items: Iterable[ContactItem], bulk: bool | None = None, *,
                      settle: bool = True) -> Pushing:
        """Push contact items; without ``settle``, return once every one is sent or
        submitted, the imports still in flight settled by the result's ``finish()``."""
        pushing = self.contacts.start(items, bulk)
        if settle:
            pushing.finish()
        return pushing

    def validate_orders(self, pending: pd.DataFrame, record: bool = True) -> pd.DataFrame:
        return self.orders.validate(pending, record)

    def prepare_orders(self, valid: pd.DataFrame) -> list[OrderRow]:
        return self.orders.prepare(valid)

    def push_orders(self, valid: pd.DataFrame) -> None:
        self.orders.push(valid)

    def check_send_cap(self, valid_certificates: pd.DataFrame | None,
                       confirmations: bool = True) -> SendPlan:
        """Before any confirmation or certificate goes out: how many would, and the cap
        (:mod:`dotsync.sync.steps.send_cap`)."""
        return check(self.ctx, self.confirmations if confirmations else None,
                     self.certificates, valid_certificates)

    def send_confirmations(self) -> None:
        self.confirmations.send()

    def validate_certificates(self, pending: pd.DataFrame) -> pd.DataFrame:
        return self.certificates.validate(pending)

    def plan_certificates(self, valid: pd.DataFrame | None) -> CertificatePlan:
        return self.certificates.plan(valid)

    def send_certificates(self, valid: pd.DataFrame) -> None:
        self.certificates.send(valid)

    def resend_certificate(self, certificate_id: str) -> None:
        """Deliberately send a certificate again (``dotsync resend certificate ID``)."""
        self.certificates.resend(certificate_id)
