"""What a reconciliation found: per entity, the missing, extra and different records.

Rendered three ways from one object: ``as_dict`` (``--json`` and the flow's result),
``to_markdown`` (the artifact and the terminal) and ``table_rows`` (the table artifact,
e-mails masked, capped: a table of a million rows would bloat Prefect's database).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from dotsync.masking import mask_email

KINDS: tuple[str, ...] = ("missing", "extra", "different")
#: Rows of the table artifact, at most.
TABLE_ROWS = 1000


@dataclass
class Finding:
    """One record on which the ledger and Dotdigital disagree."""

    entity: str  # "contacts" | "orders"
    key: str
    kind: str  # one of KINDS
    fields: list[str] = field(default_factory=list)
    how: str = ""  # how it was found: "modified", "listing", "sample", "count"


@dataclass
class EntityTally:
    checked: int = 0
    missing: int = 0
    extra: int = 0
    different: int = 0
    #: Records whose staged source changed since they were sent: the next sync sends them.
    changed_since_sent: int = 0


@dataclass
class ReconcileResult:
    started_at: datetime
    mode: str  # "incremental" | "full"
    since: datetime | None
    sample: int
    max_calls: int
    finished_at: datetime | None = None
    api_calls: int = 0
    calls: dict[str, int] = field(default_factory=dict)
    complete: bool = True
    incomplete_reason: str | None = None
    collections: list[dict[str, Any]] = field(default_factory=list)
    tallies: dict[str, EntityTally] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    queued: dict[str, int] | None = None
    notes: list[str] = field(default_factory=list)

    def tally(self, entity: str) -> EntityTally:
        return self.tallies.setdefault(entity, EntityTally())

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)
        tally = self.tally(finding.entity)
        setattr(tally, finding.kind, getattr(tally, finding.kind) + 1)

    def found(self, entity: str, kind: str) -> list[str]:
        return sorted(f.key for f in self.findings if f.entity == entity and f.kind == kind)

    @property
    def total(self) -> int:
        return len(self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "since": self.since.isoformat() if self.since else None,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "complete": self.complete,
            "incomplete_reason": self.incomplete_reason,
            "api_calls": self.api_calls,
            "max_calls": self.max_calls,
            "calls": dict(self.calls),
            "sample": self.sample,
            "collections": list(self.collections),
            "entities": {e: asdict(t) for e, t in sorted(self.tallies.items())},
            "findings": {
                e: {k: [{"key": f.key, "fields": f.fields, "how": f.how}
                        for f in self.findings if f.entity == e and f.kind == k]
                    for k in KINDS}
                for e in sorted(self.tallies)},
            "total": self.total,
            "queued": self.queued,
            "notes": list(self.notes),
        }

    def summary_line(self) -> str:
        parts = [f"{e}: {t.missing} missing, {t.extra} extra, {t.different} different "
                 f"of {t.checked} checked" for e, t in sorted(self.tallies.items())]
        text = "; ".join(parts) or "nothing to compare"
        text += f"; {self.api_calls} API call{'' if self.api_calls == 1 else 's'}"
        text += f" (budget {self.max_calls})"
        if not self.complete:
            text += f"; incomplete: {self.incomplete_reason}"
        if self.queued is not None:
            text += f"; queued for the next sync: {sum(self.queued.values())}"
        return text

    def table_rows(self, limit: int = TABLE_ROWS) -> list[dict[str, str]]:
        return [{"entity": f.entity,
                 "key": mask_email(f.key) if f.entity == "contacts" else f.key,
                 "kind": f.kind, "fields": ", ".join(f.fields), "found by": f.how}
                for f in self.findings[:limit]]

    def to_markdown(self) -> str:
        lines = [f"# dotsync reconciliation ({self.mode})", ""]
        since = self.since.isoformat() if self.since else "never (counts and a sample only)"
        lines += [f"- modified since: {since}",
                  f"- API calls: {self.api_calls} of a budget of {self.max_calls}",
                  f"- complete: {'yes' if self.complete else 'no: ' + str(self.incomplete_reason)}",
                  ""]
        if self.collections:
            lines += ["| collection | records in Dotdigital | synced in the ledger |",
                      "|---|---:|---:|"]
            lines += [f"| {c['collection']} | {c['remote']} | {c['ledger']} |"
                      for c in self.collections]
            lines.append("")
        lines += ["| entity | checked | missing | extra | different | changed since sent |",
                  "|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {e} | {t.checked} | {t.missing} | {t.extra} | {t.different} | "
                  f"{t.changed_since_sent} |" for e, t in sorted(self.tallies.items())]
        if self.findings:
            lines += ["", f"First {min(len(self.findings), 50)} of {len(self.findings)}:", "",
                      "| entity | key | kind | fields |", "|---|---|---|---|"]
            for row in self.table_rows(50):
                lines.append(f"| {row['entity']} | {row['key']} | {row['kind']} | "
                             f"{row['fields']} |")
        if self.queued is not None:
            lines += ["", "Queued for the next sync: " + ", ".join(
                f"{e} {n}" for e, n in sorted(self.queued.items()))]
        for note in self.notes:
            lines += ["", f"Note: {note}"]
        return "\n".join(lines) + "\n"
