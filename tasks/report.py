"""The run report as Prefect artifacts: where operators review a run in the UI."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from dotsync.sync.report import RunReport


@task(name="publish-report", cache_policy=NO_CACHE, persist_result=False)
def publish_report(report: RunReport, key_prefix: str = "dotsync") -> None:
    """A Markdown summary and a table of every record that needs attention.

    Keyed artifacts get a new version per run, so the UI's Artifacts page shows
    the history of each flow's reports.
    """
    create_markdown_artifact(
        key=f"{key_prefix}-{report.flow}-report",
        markdown=report.to_markdown(),
        description=report.log_line(),
    )
    rows = report.table_rows()
    if rows:
        create_table_artifact(
            key=f"{key_prefix}-{report.flow}-problems",
            table=rows,
            description=f"{len(report.problems)} records need attention "
            f"(first {len(rows)} shown; all of them in `dotsync rejects`)",
        )
    warned = report.warning_rows()
    if warned:
        create_table_artifact(
            key=f"{key_prefix}-{report.flow}-warnings",
            table=warned,
            description=f"{len(report.warnings)} fields left out of what was sent "
            f"(first {len(warned)} shown; all of them in `dotsync rejects --warnings`)",
        )
