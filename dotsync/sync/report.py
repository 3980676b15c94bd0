"""The run report: what a marketing or e-commerce operator reads after a run.

One object collects the counts and the per-record problems of a run; it renders
as the SPEC §4 ``--json`` object, as Markdown for the Prefect artifact, as table
rows for the artifact table, and as one log line. Every value that came from the
source data is escaped before it is put into Markdown, so a product name such as
``<script>`` or ``=HYPERLINK(…)`` shows as text and never as markup.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from dotsync.masking import mask_email

#: Entities reported, in the order they are processed.
REPORTED = ("contacts", "orders", "confirmations", "certificates", "products")
#: Client operations that change something in Dotdigital (the rest read or poll).
WRITE_PREFIXES = ("upsert", "create", "import", "send", "delete")
#: Table rows kept in artifacts; the full list is in ``dotsync rejects``.
MAX_TABLE_ROWS = 1000

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~!])")


def _plain(value: Any, limit: int = 200) -> str:
    """One line of printable text, cut to ``limit`` characters."""
    text = "" if value is None else str(value)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape_md(value: Any, limit: int = 200) -> str:
    """Plain text that renders literally in Markdown tables and never as HTML."""
    text = _plain(value, limit)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


@dataclass
class EntityCounts:
    """Outcomes of one entity in a run. ``considered`` is their sum, so a record
    retried within the run is counted once, by its final outcome."""

    sent: int = 0
    rejected: int = 0
    failed: int = 0
    skipped: int = 0
    in_doubt: int = 0
    unchanged: int = 0
    merged: int = 0
    erased: int = 0
    kept_unsubscribed: int = 0
    #: Records validated with a field left out (SPEC §1 warnings); not an outcome, so
    #: not part of ``considered``.
    warned: int = 0
    #: Contacts dotsync created without marketing consent (README, "Consent").
    created_not_marketable: int = 0
    #: Contacts sent without their consent record (a column missing or invalid).
    consent_records_left_out: int = 0
    #: Skipped sends (confirmations, certificates) by reason.
    skipped_because: dict[str, int] = field(default_factory=dict)

    @property
    def considered(self) -> int:
        return (self.sent + self.unchanged + self.rejected + self.failed + self.skipped
                + self.in_doubt + self.erased)

    def as_dict(self) -> dict[str, int]:
        return {"considered": self.considered, **asdict(self)}


@dataclass(frozen=True)
class Problem:
    """One record that did not reach Dotdigital this run, and why."""

    entity: str
    key: str
    state: str  # rejected | failed | in_doubt | waiting
    field: str | None
    reason: str
    email: str = ""  # already masked
    code: str | None = None


@dataclass(frozen=True)
class FieldWarning:
    """One field left out of what was sent for a record, and why (SPEC §1)."""

    entity: str
    key: str
    field: str
    check: str
    value: str | None  # masked where personal, clipped, escaped
    reason: str


@dataclass
class RunReport:
    run_id: str
    flow: str = "sync"
    dry_run: bool = False
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    counts: dict[str, EntityCounts] = field(
        # Other entities (carts, enrolments) appear once a run counts one of them.
        default_factory=lambda: defaultdict(EntityCounts, {e: EntityCounts() for e in REPORTED})
    )
    problems: list[Problem] = field(default_factory=list)
    #: Warnings by (entity, key): a record validated twice in a run (its contact pushed
    #: again) keeps one set, the last.
    warned: dict[tuple[str, str], list[FieldWarning]] = field(default_factory=dict)
    api_calls: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    rate_limit_wait_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    status: str = "running"
    message: str | None = None

    def checkpoint(self) -> tuple[int, dict[str, tuple[int, int]]]:
        """A mark to roll outcomes back to before a task is retried."""
        return len(self.problems), {e: (c.failed, c.skipped) for e, c in self.counts.items()}

    def forget_failures_since(
        self, mark: tuple[int, dict[str, tuple[int, int]]], waiting_too: bool = False
    ) -> None:
        """Drop the ``failed`` outcomes recorded since ``mark``: they are being retried.

        ``waiting_too`` also drops the records that waited for their contact, for a
        retry that considers them again (a streaming backfill re-reads the ledger).
        """
        length, before = mark
        dropped = {"failed", "waiting"} if waiting_too else {"failed"}
        self.problems[length:] = [p for p in self.problems[length:] if p.state not in dropped]
        for entity, counts in self.counts.items():
            failed, skipped = before.get(entity, (0, 0))
            counts.failed = failed
            if waiting_too:
                counts.skipped = skipped

    def problem(
        self,
        entity: str,
        key: str,
        state: str,
        reason: str,
        *,
        field: str | None = None,
        email: str | None = None,
        code: str | None = None,
    ) -> None:
        self.problems.append(
            Problem(entity, str(key), state, field, reason, mask_email(email) if email else "",
                    code)
        )

    def warn(self, entity: str, rows: list[dict[str, Any]], replace: bool = True) -> None:
        """Warnings (dicts with ``key``, ``field``, ``check``, ``value``, ``reason``) of
        ``entity``: they replace what this run said of the same records before
        (``replace=False`` adds to it), and the records are counted once."""
        if not rows:
            return
        fresh: dict[tuple[str, str], list[FieldWarning]] = {}
        for r in rows:
            w = FieldWarning(entity, str(r["key"]), str(r["field"]), str(r["check"]),
                             None if r.get("value") is None else str(r["value"]),
                             str(r["reason"]))
            fresh.setdefault((entity, w.key), []).append(w)
        for k, items in fresh.items():
            if replace or k not in self.warned:
                if k not in self.warned:
                    self.counts[entity].warned += 1
                self.warned[k] = items
            else:
                self.warned[k].extend(items)

    @property
    def warnings(self) -> list[FieldWarning]:
        """Every warning of the run, record by record."""
        return [w for items in self.warned.values() for w in items]

    @property
    def duration_seconds(self) -> float:
        end = self.finished_at or datetime.now(UTC)
        return (end - self.started_at).total_seconds()

    @property
    def write_calls(self) -> int:
        """Calls that change something in Dotdigital (everything but reads and polls)."""
        return sum(n for op, n in self.api_calls.items() if op.startswith(WRITE_PREFIXES))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "run_id": self.run_id,
            "flow": self.flow,
            "status": self.status,
            "dry_run": self.dry_run,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "duration_seconds": round(self.duration_seconds, 3),
        }
        for entity, counts in self.counts.items():
            out[entity] = counts.as_dict()
        out["api_calls"] = dict(sorted(self.api_calls.items()))
        out["api_calls_total"] = sum(self.api_calls.values())
        out["write_calls"] = self.write_calls
        out["retries"] = self.retries
        out["rate_limit_wait_seconds"] = round(self.rate_limit_wait_seconds, 3)
        out["problems"] = [asdict(p) for p in self.problems]
        # Capped like the artifact table: `dotsync rejects --warnings` lists them all.
        out["warnings"] = [asdict(w) for w in self.warnings[:MAX_TABLE_ROWS]]
        out["warnings_total"] = len(self.warnings)
        if self.message:
            out["message"] = self.message
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    def log_line(self) -> str:
        parts = [
            f"{e}: {c.considered} considered, {c.sent} sent, {c.rejected} rejected, "
            f"{c.failed} failed, {c.skipped} skipped, {c.in_doubt} in doubt"
            for e, c in self.counts.items()
            if c.considered or c.sent or c.rejected or c.failed or c.skipped or c.in_doubt
        ]
        calls = sum(self.api_calls.values())
        if self.warnings:
            parts.append(f"{len(self.warnings)} fields left out (warnings)")
        return (
            f"run {self.run_id} {self.status}"
            + (" (dry run)" if self.dry_run else "")
            + f" in {self.duration_seconds:.1f}s; "
            + ("; ".join(parts) or "nothing to do")
            + f"; {calls} API calls ({self.write_calls} writes), "
            f"{self.rate_limit_wait_seconds:.1f}s waiting for rate limits"
        )

    def table_rows(self) -> list[dict[str, str]]:
        """The problem records for the artifact table (capped): plain text cells."""
        return [
            {
                "entity": p.entity,
                "key": _plain(p.key, 80),
                "state": p.state,
                "field": _plain(p.field or ""),
                "reason": _plain(p.reason, 300),
                "email": p.email,
            }
            for p in self.problems[:MAX_TABLE_ROWS]
        ]

    def warning_rows(self) -> list[dict[str, str]]:
        """The warnings for the artifact table (capped): plain text cells."""
        return [
            {"entity": w.entity, "key": _plain(w.key, 80), "field": _plain(w.field),
             "check": _plain(w.check), "value": _plain(w.value or "", 80),
             "reason": _plain(w.reason, 300)}
            for w in self.warnings[:MAX_TABLE_ROWS]
        ]

    def to_markdown(self) -> str:
        title = "dotsync dry run" if self.dry_run else f"dotsync {self.flow} run"
        lines = [
            f"# {title} `{self.run_id}`",
            "",
            f"**Status:** {escape_md(self.status)}"
            + (f": {escape_md(self.message, 500)}" if self.message else ""),
            f"**Duration:** {self.duration_seconds:.1f} s  ",
            f"**API calls:** {sum(self.api_calls.values())} "
            f"({self.write_calls} writes, {self.retries} retries)  ",
            f"**Waiting for rate limits:** {self.rate_limit_wait_seconds:.1f} s",
            "",
            "| entity | considered | sent | unchanged | rejected | failed | skipped | in doubt |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for entity, c in self.counts.items():
            lines.append(
                f"| {entity} | {c.considered} | {c.sent} | {c.unchanged} | {c.rejected} | "
                f"{c.failed} | {c.skipped} | {c.in_doubt} |"
            )
        if self.api_calls:
            lines += ["", "API calls by operation: " + ", ".join(
                f"`{op}` {n}" for op, n in sorted(self.api_calls.items()))]
        if self.notes:
            lines += ["", *[f"- {escape_md(n, 500)}" for n in self.notes]]
        if self.problems:
            shown = self.problems[:MAX_TABLE_ROWS]
            lines += [
                "",
                f"## Records that need attention ({len(self.problems)})",
                "",
                "Skipped records wait for their contact and go out in a later run by "
                "themselves. Rejected records need a fix at the source (or "
                "`dotsync replay`); in-doubt sends are never repeated automatically: "
                "check Dotdigital, then `dotsync resend certificate ID` if needed.",
                "",
                "| entity | id | state | field | reason | e-mail |",
                "|---|---|---|---|---|---|",
            ]
            for p in shown:
                lines.append(
                    f"| {p.entity} | {escape_md(p.key, 80)} | {p.state} | "
                    f"{escape_md(p.field or '')} | {escape_md(p.reason, 300)} | "
                    f"{escape_md(p.email)} |"
                )
            if len(self.problems) > MAX_TABLE_ROWS:
                lines.append(
                    f"\n… and {len(self.problems) - MAX_TABLE_ROWS} more: run `dotsync rejects`."
                )
        else:
            lines += ["", "No record needs attention."]
        if self.warnings:
            lines += [
                "",
                f"## Sent with a field left out ({len(self.warnings)} warnings)",
                "",
                "A problem in an optional field never holds a record: the field was left "
                "out of what was sent and the record went on. Fix the source to send it; "
                "`DOTSYNC_STRICT_FIELDS` makes a field's problems reject instead.",
                "",
                "| entity | id | field | value | reason |",
                "|---|---|---|---|---|",
            ]
            for w in self.warnings[:MAX_TABLE_ROWS]:
                lines.append(
                    f"| {w.entity} | {escape_md(w.key, 80)} | {escape_md(w.field)} | "
                    f"{escape_md(w.value or '', 80)} | {escape_md(w.reason, 300)} |")
            if len(self.warnings) > MAX_TABLE_ROWS:
                lines.append(f"\n… and {len(self.warnings) - MAX_TABLE_ROWS} more: run "
                             "`dotsync rejects --warnings`.")
        return "\n".join(lines) + "\n"
