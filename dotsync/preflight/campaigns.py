"""The campaign checks: the certificate and order-confirmation campaigns exist and are
Triggered, and no campaign id is an example value copied from documentation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dotsync.dotdigital import Campaign, DotdigitalError
from dotsync.preflight.results import _STORE_FIX, Check, _listing, _plural, _skipped
from dotsync.preflight.staged import StoreUnreadable

if TYPE_CHECKING:
    from dotsync.preflight.context import _Context


#: Campaign ids that are example values, never a real account's campaign: the sequences and
#: repeated digits people type into templates, and the ids in Dotdigital's own API examples
#: (transactional-email spec: 1043, 456; campaigns spec: 1, 2, 4, 248, 12345).
EXAMPLE_CAMPAIGN_IDS: frozenset[int] = frozenset(
    {0, 1, 2, 4, 12, 123, 248, 456, 999, 1043, 1234, 9999, 12345, 99999, 123456, 999999,
     1234567}
)


_CAMPAIGN_LOOKUPS_BEFORE_LISTING = 10


def _parse_campaign_id(text: str) -> int | None:
    """A staged ``campaign_id`` as an integer (``"1001"``, ``"1001.0"``), else None."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def _status_problem(campaign: Campaign, what: str) -> str | None:
    """Why ``campaign`` cannot take triggered sends, or None when it can."""
    status = campaign.status or "(no status)"
    if status.lower() == "triggered":
        return None
    why = {
        "paused": "Paused: Dotdigital refuses triggered sends until it is resumed",
        "cancelled": "Cancelled: it can never be sent again",
    }.get(status.lower(), f"{status}: only a Triggered campaign can be sent per recipient")
    return f"{what} {campaign.id} {campaign.name!r} is {why}"


def check_certificate_campaign(ctx: _Context) -> Check:
    """Every campaign a certificate would be sent with exists and is Triggered."""
    name = "certificate_campaign"
    setting = ctx.settings.certificate_campaign_id
    try:
        certs = ctx.certificates()
    except StoreUnreadable as exc:
        return _skipped(name, str(exc), _STORE_FIX)
    problems: list[str] = []
    uses: dict[int, list[str]] = {}
    if setting is not None:
        uses.setdefault(setting, []).append("DOTSYNC_CERTIFICATE_CAMPAIGN_ID")
    not_numbers: list[str] = []
    for raw, count in certs.campaign_ids.items():
        if raw == "":
            if setting is None:
                problems.append(f"{_plural(count, 'certificate')} have no campaign_id and"
                                " DOTSYNC_CERTIFICATE_CAMPAIGN_ID is not set")
            continue
        parsed = _parse_campaign_id(raw)
        if parsed is None or parsed <= 0:
            not_numbers.append(f"{raw!r} ({_plural(count, 'certificate')})")
        else:
            uses.setdefault(parsed, []).append(_plural(count, "certificate"))
    if not_numbers:
        problems.append(f"campaign_id is not a positive whole number: {_listing(not_numbers)}")
    if not uses and not problems:
        return Check(name, ok=True, detail="no certificates staged and"
                     " DOTSYNC_CERTIFICATE_CAMPAIGN_ID not set: nothing to send")
    checked: list[str] = []
    if ctx.api_blocked is not None or ctx.client is None:
        if not problems:
            return _skipped(name, f"campaigns cannot be looked up: {ctx.api_blocked}",
                            "fix the credentials and region first")
        problems.append(f"campaigns not looked up: {ctx.api_blocked}")
    else:
        book = ctx.campaigns()
        if len(uses) > _CAMPAIGN_LOOKUPS_BEFORE_LISTING:
            book.all()  # one paged listing instead of a call per id
        for campaign_id, used_by in sorted(uses.items()):
            what = f"campaign {campaign_id} (used by {', '.join(used_by)})"
            try:
                campaign = book.by_id(campaign_id)
            except DotdigitalError as exc:
                problems.append(f"{what} could not be looked up: {exc}")
                continue
            if campaign is None:
                problems.append(f"{what} does not exist in this Dotdigital account")
                continue
            problem = _status_problem(campaign, "campaign")
            if problem:
                problems.append(f"{problem} (used by {', '.join(used_by)})")
            else:
                checked.append(f"{campaign.id} {campaign.name!r}")
    if problems:
        return Check(name, ok=False, detail="; ".join(problems),
                     fix="create (or resume) a Triggered campaign for certificates in"
                     " Dotdigital, then set DOTSYNC_CERTIFICATE_CAMPAIGN_ID and the staged"
                     " campaign_id values to its id")
    return Check(name, ok=True, detail=f"Triggered: {_listing(checked)}")


def check_order_campaign(ctx: _Context) -> Check:
    """``DOTSYNC_ORDER_CAMPAIGN`` names exactly one Triggered campaign."""
    name = "order_campaign"
    raw = ctx.settings.order_campaign
    if raw is None or not raw.strip():
        return Check(name, ok=True, detail="DOTSYNC_ORDER_CAMPAIGN not set: no order"
                     " confirmation e-mails are sent")
    wanted = raw.strip()
    if ctx.api_blocked is not None or ctx.client is None:
        return _skipped(name, f"campaigns cannot be looked up: {ctx.api_blocked}",
                        "fix the credentials and region first")
    book = ctx.campaigns()
    fix = ("set DOTSYNC_ORDER_CAMPAIGN to the exact name (or the id) of a Triggered campaign"
           " in Dotdigital")
    try:
        if wanted.isdigit():
            campaign = book.by_id(int(wanted))
            if campaign is None:
                return Check(name, ok=False, fix=fix, detail="DOTSYNC_ORDER_CAMPAIGN is"
                             f" campaign id {wanted}, which does not exist")
            how = f"campaign id {wanted}"
        else:
            campaigns = book.all()
            matches = [c for c in campaigns if c.name == wanted]
            if not matches:
                near = [c for c in campaigns if c.name.strip().casefold() == wanted.casefold()]
                hint = (f"; did you mean {near[0].name!r} (id {near[0].id})?" if near else "")
                return Check(name, ok=False, fix=fix + hint,
                             detail=f"no campaign is named {wanted!r} (searched"
                             f" {_plural(len(campaigns), 'campaign')})")
            if len(matches) > 1:
                found = ", ".join(f"{c.id} ({c.status or 'no status'})" for c in matches)
                return Check(name, ok=False,
                             detail=f"{len(matches)} campaigns are named {wanted!r}: {found}",
                             fix="rename the duplicates in Dotdigital, or set"
                             " DOTSYNC_ORDER_CAMPAIGN to the id of the one to use")
            campaign = matches[0]
            how = f"{wanted!r} (among {_plural(len(campaigns), 'campaign')})"
    except DotdigitalError as exc:
        return Check(name, ok=False, detail=f"campaigns could not be looked up: {exc}",
                     fix="try again; if it persists, check Dotdigital's status page")
    problem = _status_problem(campaign, "order confirmation campaign")
    if problem:
        return Check(name, ok=False, detail=problem,
                     fix="resume it, or point DOTSYNC_ORDER_CAMPAIGN at a Triggered campaign")
    return Check(name, ok=True, detail=f"{how} → campaign {campaign.id}, Triggered")


def check_example_campaign_ids(ctx: _Context) -> Check:
    """No campaign id is an example value copied from documentation or a template."""
    name = "example_campaign_ids"
    found: list[str] = []
    setting = ctx.settings.certificate_campaign_id
    if setting is not None and setting in EXAMPLE_CAMPAIGN_IDS:
        found.append(f"DOTSYNC_CERTIFICATE_CAMPAIGN_ID={setting}")
    order = (ctx.settings.order_campaign or "").strip()
    if order.isdigit() and int(order) in EXAMPLE_CAMPAIGN_IDS:
        found.append(f"DOTSYNC_ORDER_CAMPAIGN={order}")
    note = ""
    try:
        for raw, count in ctx.certificates().campaign_ids.items():
            parsed = _parse_campaign_id(raw) if raw else None
            if parsed is not None and parsed in EXAMPLE_CAMPAIGN_IDS:
                found.append(f"campaign_id {parsed} on {_plural(count, 'certificate')}")
    except StoreUnreadable as exc:
        note = f" (staged certificates not checked: {exc})"
        if not found:
            return _skipped(name, str(exc), _STORE_FIX)
    if found:
        return Check(name, ok=False, detail="example campaign ids: " + _listing(found) + note,
                     fix="replace them with the ids of your own Triggered campaigns (Dotdigital"
                     " shows a campaign's id in its URL)")
    return Check(name, ok=True, detail="no example campaign ids")
