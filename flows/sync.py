"""The ``sync`` flow: pending records from the staging store into Dotdigital.

extract pending → validate → contacts → orders → order confirmations →
certificates → report. Each step is one task working on a batch; every outcome is
written to the ledger as soon as it is known, so a retried task or flow run resumes
where it stopped. Rejected records never fail the run; a run that cannot work at all
(credentials, host, region, configuration) ends ``Failed`` with one clear message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed

from dotsync.store import Store
from dotsync.sync.engine import Options, RunFailed, SyncEngine
from flows.common import current_run_id, load_settings, make_client, record_run
from tasks.report import publish_report
from tasks.sync_steps import (
    connect,
    extract_and_validate,
    push_contacts,
    push_orders,
    send_certificates,
    send_confirmations,
)

ALL_ENTITIES = ("contacts", "orders", "certificates")


@flow(name="sync", retries=1, retry_delay_seconds=5, persist_result=False,
      validate_parameters=True)
def sync(
    entities: list[str] | None = None,
    dry_run: bool = False,
    bulk_threshold: int | None = None,
    send_batch_size: int = 50,
    import_max_bytes: int = 10_000_000,
    poll_interval: float = 5.0,
    report_file: str | None = None,
    credentials_block: str | None = None,
) -> Any:
    """One run of the sync (SPEC §4 ``dotsync sync``).

    ``entities`` limits the run to some of contacts, orders and certificates;
    ``dry_run`` does everything up to the API calls and reports what would be sent.
    Contacts up to ``bulk_threshold`` (default: the ``DOTSYNC_CONTACT_BULK_THRESHOLD``
    setting) go as single upserts, more as bulk imports of at most ``import_max_bytes``.
    ``report_file`` also writes the Markdown report to that path; ``credentials_block``
    names a ``DotdigitalCredentials`` block to take the API credentials from.
    """
    logger = get_run_logger()
    chosen = tuple(entities or ALL_ENTITIES)
    unknown = sorted(set(chosen) - set(ALL_ENTITIES))
    if unknown:
        return Failed(message=f"unknown entities {unknown}; use {', '.join(ALL_ENTITIES)}")
    settings = load_settings(credentials_block)
    store = Store(settings.database_url)
    options = Options(
        dry_run=dry_run,
        bulk_threshold=settings.contact_bulk_threshold if bulk_threshold is None
        else bulk_threshold,
        send_batch_size=send_batch_size,
        import_max_bytes=import_max_bytes,
        poll_interval=poll_interval,
    )
    client = None
    try:
        client = None if dry_run else make_client(settings)
        engine = SyncEngine(store, settings, client, run_id=current_run_id(), options=options)
        connect(engine)
        valid_orders = extract_and_validate(engine, "orders") if "orders" in chosen else None
        valid_certs = (extract_and_validate(engine, "certificates")
                       if "certificates" in chosen else None)
        if "contacts" in chosen or valid_orders is not None or valid_certs is not None:
            dependants: list[str] = []
            if valid_orders is not None and not valid_orders.empty:
                dependants += valid_orders["customer_email"].tolist()
            if valid_certs is not None and not valid_certs.empty:
                dependants += valid_certs["recipient_email"].tolist()
            push_contacts(engine, dependants, include_customers="contacts" in chosen)
        if valid_orders is not None:
            push_orders(engine, valid_orders)
            send_confirmations(engine)
        if valid_certs is not None:
            send_certificates(engine, valid_certs)
    except RunFailed as exc:
        report = engine.finish("failed", str(exc)) if "engine" in locals() else None
        if report is not None:
            record_run(store, report)
            publish_report(report)
        logger.error("dotsync run failed: %s", exc)
        return Failed(message=str(exc))
    except ValueError as exc:  # configuration (e.g. no API user): nothing was sent
        logger.error("dotsync run failed: %s", exc)
        return Failed(message=f"configuration error: {exc}")
    finally:
        if client is not None:
            client.close()
    report = engine.finish("completed")
    record_run(store, report)
    publish_report(report)
    if report_file:
        Path(report_file).write_text(report.to_markdown(), encoding="utf-8")
    logger.info(report.log_line())
    store.dispose()
    return Completed(message=report.log_line(), data=report.as_dict())
