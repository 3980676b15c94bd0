"""Prefect task around :func:`dotsync.sources.extract.extract`: one entity of one source.

The HTTP client already retries 429 and 5xx answers; the task retries once more for a
platform that stayed unavailable (never for refused credentials). The watermark moves
only after rows are committed, so a retried or re-run task fetches again and never
skips.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from dotsync.sources.extract import SourceConfig, extract
from dotsync.sources.http import SourceAuthError, SourceError
from dotsync.store import Store


def _retry_unavailable(task: Any, task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except SourceAuthError:
        return False
    except SourceError:
        return True
    except Exception:
        return False
    return False


@task(name="extract-entity", retries=1, retry_delay_seconds=30,
      retry_condition_fn=_retry_unavailable, cache_policy=NO_CACHE, persist_result=False)
def extract_entity(database_url: str, config: SourceConfig, entity: str,
                   certificate_link: str | None = None) -> dict[str, Any]:
    """Fetch one entity of one source into the staging store; a summary dict."""
    store = Store(database_url)
    try:
        report = extract(store, config, entity, link_template=certificate_link)
    finally:
        store.dispose()
    summary = report.as_dict()
    get_run_logger().info(
        "%s %s: %s fetched in %s pages; %s inserted, %s updated, %s unchanged, %s not "
        "mapped; watermark %s → %s", config.name, entity, summary["fetched"],
        summary["pages"], summary["inserted"], summary["updated"], summary["unchanged"],
        summary["rejected"], summary["watermark_before"], summary["watermark_after"])
    return summary
