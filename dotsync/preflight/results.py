"""What a preflight says: one :class:`Check` per line, gathered in a :class:`PreflightResult`.

Shared by every kind of check, with the small helpers their messages are written with.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]
Status = Literal["pass", "fail", "warn", "accepted", "skipped"]

#: The checks in the order they run (and are shown). Names are stable: scripts rely on them.
CHECK_NAMES: tuple[str, ...] = (
    "credentials",
    "region",
    "certificate_campaign",
    "order_campaign",
    "data_fields",
    "address_book",
    "insight_collection",
    "send_history",
    "example_campaign_ids",
    "certificate_recipients",
    "certificate_links",
    "order_currencies",
    "store_location",
    "catalog_collections",
    "programs",
)


@dataclass(frozen=True)
class Check:
    """One line of the checklist.

    ``ok`` is whether the check passed. A finding is an *error* when it is certain (wrong
    credentials, a missing campaign or data field, a placeholder) and a *warning* when it
    is a heuristic (currencies against countries, example domains): a warning is shown but
    never fails the preflight, and one named in ``DOTSYNC_PREFLIGHT_ACCEPT`` is shown as
    ``accepted`` (the operator looked and agreed). ``skipped`` marks a check that could not
    run (``detail`` says why); it is never ``ok``, so an unverified setup never passes.
    """

    name: str
    ok: bool
    severity: Severity = "error"
    detail: str = ""
    fix: str = ""
    skipped: bool = False
    accepted: bool = False

    @property
    def status(self) -> Status:
        if self.ok:
            return "pass"
        if self.skipped:
            return "skipped"
        if self.severity == "error":
            return "fail"
        return "accepted" if self.accepted else "warn"

    @property
    def blocking(self) -> bool:
        """Whether this check stops go-live: failed or unverified at error severity."""
        return not self.ok and self.severity == "error"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "status": self.status,
            "severity": self.severity,
            "detail": self.detail,
            "fix": self.fix,
        }


class PreflightFailed(RuntimeError):
    """Raised by :meth:`PreflightResult.raise_if_failed`: the run must not write anything."""

    def __init__(self, result: PreflightResult) -> None:
        self.result = result
        lines = [f"{c.name}: {c.detail}" for c in result.checks if c.blocking]
        super().__init__("preflight failed: " + "; ".join(lines))


_MARKS: dict[Status, str] = {"pass": "✔", "fail": "✘", "warn": "⚠", "accepted": "≈",
                             "skipped": "–"}


@dataclass(frozen=True)
class PreflightResult:
    """All checks, in :data:`CHECK_NAMES` order."""

    checks: list[Check] = field(default_factory=list)
    #: Names in ``DOTSYNC_PREFLIGHT_ACCEPT`` that are no check's (a typo accepts nothing).
    unknown_accepted: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no error-severity check failed or was skipped (warnings are allowed)."""
        return not any(c.blocking for c in self.checks)

    def check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "fail": 0, "warn": 0, "accepted": 0, "skipped": 0}
        for c in self.checks:
            out[c.status] += 1
        return out

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, "summary": self.counts(),
                               "checks": [c.as_dict() for c in self.checks]}
        if self.unknown_accepted:
            out["unknown_accepted"] = list(self.unknown_accepted)
        return out

    def render(self) -> str:
        """The checklist a person reads: one ✔/✘/⚠/– line per check, then what to do."""
        width = max((len(c.name) for c in self.checks), default=0)
        lines = ["dotsync preflight"]
        n = self.counts()
        for c in self.checks:
            lines.append(f"{_MARKS[c.status]} {c.name.ljust(width)}  {c.detail}".rstrip())
            if c.status == "accepted":
                lines.append(f"  {' ' * width}  (warning accepted by DOTSYNC_PREFLIGHT_ACCEPT)")
            elif c.status != "pass" and c.fix:
                lines.append(f"  {' ' * width}  → {c.fix}")
        if self.unknown_accepted:
            lines.append("⚠ DOTSYNC_PREFLIGHT_ACCEPT names no check: "
                         + ", ".join(self.unknown_accepted)
                         + f" (check names: {', '.join(CHECK_NAMES)})")
        if self.ok:
            verdict = "ready to go live"
        elif n["fail"]:
            verdict = "NOT ready: fix the ✘ lines first"
        else:
            verdict = "NOT ready: the – checks could not run"
        accepted = f", {n['accepted']} accepted" if n["accepted"] else ""
        lines.append(
            f"{verdict} ({n['pass']} passed, {n['fail']} failed, {n['warn']} warnings"
            f"{accepted}, {n['skipped']} skipped)"
        )
        return "\n".join(lines)

    def raise_if_failed(self) -> PreflightResult:
        """For a deployed run's first task: stop before any write when a check failed."""
        if not self.ok:
            raise PreflightFailed(self)
        return self


def _first_line(text: str, limit: int = 200) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _skipped(name: str, reason: str, fix: str = "") -> Check:
    return Check(name, ok=False, severity="error", detail=f"skipped: {reason}", fix=fix,
                 skipped=True)


def _found(name: str, errors: list[str], warnings: list[str], fix: str) -> Check | None:
    """The check's verdict when it found something: errors fail it (the warnings said
    too), warnings alone make it a warning; None when it found nothing."""
    if errors:
        return Check(name, ok=False, detail="; ".join(errors + warnings), fix=fix)
    if warnings:
        return Check(name, ok=False, severity="warning", detail="; ".join(warnings), fix=fix)
    return None


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def _listing(items: Iterable[str], limit: int = 5) -> str:
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


_STORE_FIX = "check DOTSYNC_DATABASE_URL and that the staging store is reachable"
