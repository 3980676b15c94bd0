"""The ``sync`` flow: pending records from the staging store into Dotdigital.

extract pending → validate → contacts → orders → order confirmations →
certificates → report. Each step is one task working on a batch; every outcome is
written to the ledger as soon as it is known, so a retried task or flow run resumes
where it stopped. Rejected records never fail the run; a run that cannot work at all
(credentials, host, region, configuration) ends ``Failed`` with one clear message.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.states import Failed

from dotsync.config import Settings
from dotsync.sync.engine import Options, SyncEngine
from flows.common import run_engine
from tasks.sync_steps import (
    check_send_cap,
    extract_and_validate,
    push_contacts,
    push_orders,
    send_certificates,
    send_confirmations,
)

ALL_ENTITIES = ("contacts", "orders", "certificates")


@flow(name="sync", retries=1, retry_delay_seconds=5, persist_result=False)
def sync(
    entities: list[str] | None = None,
    dry_run: bool = False,
    bulk_threshold: int | None = None,
    send_batch_size: int = 50,
    import_max_bytes: int = 10_000_000,
    poll_interval: float = 5.0,
    report_file: str | None = None,
    credentials_block: str | None = None,
    preflight: bool = False,
    allow_sends: int | None = None,
) -> Any:
    """One run of the sync (SPEC §4 ``dotsync sync``).

    ``entities`` limits the run to some of contacts, orders and certificates;
    ``dry_run`` does everything up to the API calls and reports what would be sent.
    Contacts and orders up to ``bulk_threshold`` (default: the
    ``DOTSYNC_CONTACT_BULK_THRESHOLD`` setting) go as single calls, more as bulk
    imports of at most ``import_max_bytes``. ``report_file`` also writes the Markdown
    report there; ``credentials_block`` names a ``DotdigitalCredentials`` block;
    ``preflight`` runs every go-live check first and fails the run before any write
    when one fails (deployed runs set it). A run that would send more order
    confirmations and certificates than ``DOTSYNC_MAX_SENDS_PER_RUN`` sends none and
    fails; ``allow_sends`` lets this one run send up to that many instead.
    """
    chosen = tuple(entities or ALL_ENTITIES)
    unknown = sorted(set(chosen) - set(ALL_ENTITIES))
    if unknown:
        return Failed(message=f"unknown entities {unknown}; use {', '.join(ALL_ENTITIES)}")
    options = Options(
        dry_run=dry_run,
        bulk_threshold=Settings.from_env().contact_bulk_threshold if bulk_threshold is None
        else bulk_threshold,
        send_batch_size=send_batch_size,
        import_max_bytes=import_max_bytes,
        poll_interval=poll_interval,
        allow_sends=allow_sends,
    )

    def body(engine: SyncEngine) -> None:
        valid_orders = extract_and_validate(engine, "orders") if "orders" in chosen else None
        valid_certs = (extract_and_validate(engine, "certificates")
                       if "certificates" in chosen else None)
        dependants: list[str] = []
        for frame, column in ((valid_orders, "customer_email"),
                              (valid_certs, "recipient_email")):
            if frame is not None and not frame.empty:
                dependants += frame[column].tolist()
        push_contacts(engine, dependants, include_customers="contacts" in chosen)
        if valid_orders is not None:
            push_orders(engine, valid_orders)
        check_send_cap(engine, valid_certs, confirmations=valid_orders is not None)
        if valid_orders is not None:
            send_confirmations(engine)
        if valid_certs is not None:
            send_certificates(engine, valid_certs)

    return run_engine("sync", options, body, credentials_block=credentials_block,
                      preflight=preflight,
                      report_file=report_file)
