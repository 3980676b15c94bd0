"""The account checks: credentials, region, the list, and where the store lives."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dotsync.dotdigital import (
    AuthenticationError,
    DotdigitalError,
    HostNotAllowedError,
    NotFoundError,
    RateLimitedError,
    TransportError,
    check_endpoint,
)
from dotsync.masking import mask_email
from dotsync.preflight.results import Check, _skipped

if TYPE_CHECKING:
    from dotsync.preflight.context import _Context


def check_credentials(ctx: _Context) -> Check:
    """``account_info`` answers with the configured API user and password."""
    name = "credentials"
    client = ctx.client
    if client is None:
        ctx.api_blocked = "no Dotdigital client"
        return _skipped(name, "no Dotdigital client was configured",
                        "set DOTDIGITAL_API_USER and DOTDIGITAL_API_PASSWORD")
    ctx.configured_endpoint = client.endpoint
    user = mask_email(ctx.settings.api_user) or "(unset)"
    where = ctx.configured_endpoint or "the r1 discovery endpoint"
    try:
        ctx.account = client.account_info()
    except AuthenticationError as exc:
        ctx.account_error = exc
        ctx.api_blocked = "the credentials check failed"
        fix = ("check DOTDIGITAL_API_USER and DOTDIGITAL_API_PASSWORD: an API user"
               " (apiuser-…@apiconnector.com) and that API user's own password, not a"
               " login's")
        if ctx.settings.api_user and not ctx.settings.api_user.lower().endswith(
                "@apiconnector.com"):
            fix += f"; {user} is not an API user address (they end in @apiconnector.com)"
        if exc.status == 403 and ctx.configured_endpoint:
            fix += ("; a 403 also means DOTDIGITAL_API_ENDPOINT is another region's:"
                    " unset it so the region is discovered")
        return Check(name, ok=False, detail=f"Dotdigital refused API user {user} at {where}"
                     f" (HTTP {exc.status})", fix=fix)
    except HostNotAllowedError as exc:
        # Raised after the discovery call answered 200: the credentials were accepted.
        ctx.account_error = exc
        ctx.api_blocked = "the account's endpoint is not allowed"
        return Check(name, ok=True, detail=f"API user {user} accepted by the discovery"
                     " endpoint")
    except TransportError as exc:
        ctx.account_error = exc
        ctx.api_blocked = "Dotdigital could not be reached"
        return _skipped(name, f"{where} could not be reached, so the credentials were not"
                        " checked", "see the region check")
    except RateLimitedError as exc:
        ctx.account_error = exc
        ctx.api_blocked = "Dotdigital rate-limited the credentials check"
        return Check(name, ok=False, detail=f"could not verify: rate limited ({exc.status})",
                     fix="the account's API call allowance is spent; run preflight again"
                     " after the reset")
    except DotdigitalError as exc:
        ctx.account_error = exc
        ctx.api_blocked = "the credentials check failed"
        return Check(name, ok=False, detail=f"could not verify the credentials: {exc}",
                     fix="try again; if it persists, check Dotdigital's status page")
    ctx.api_blocked = None
    account = f" (account {ctx.account.id})" if ctx.account.id is not None else ""
    return Check(name, ok=True, detail=f"API user {user} accepted{account}")


def _same_endpoint(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()


def check_region(ctx: _Context) -> Check:
    """The regional endpoint in use is the account's own (``ApiEndpoint``) and answers."""
    name = "region"
    client = ctx.client
    if client is None:
        return _skipped(name, "no Dotdigital client was configured")
    error = ctx.account_error
    where = ctx.configured_endpoint or "the r1 discovery endpoint (https://r1-api.dotdigital.com)"
    region_fix = ("set DOTDIGITAL_API_ENDPOINT to your region (https://r1-api.dotdigital.com"
                  " Europe, r2- North America, r3- Asia Pacific) or unset it to discover it;"
                  " check proxies and firewalls")
    if isinstance(error, TransportError):
        return Check(name, ok=False, detail=f"{where} could not be reached: {error}",
                     fix=region_fix)
    if isinstance(error, HostNotAllowedError):
        return Check(name, ok=False, detail=f"the account's ApiEndpoint was refused: {error}",
                     fix="credentials are only ever sent to https hosts under dotdigital.com or"
                     " dotmailer.com; set DOTDIGITAL_API_ENDPOINT to your region's")
    if error is not None or ctx.account is None:
        ctx.api_blocked = ctx.api_blocked or "the credentials check failed"
        return _skipped(name, "the account's region is only reported to valid credentials",
                        "fix the credentials first")
    reported = ctx.account.api_endpoint
    if ctx.configured_endpoint is None:
        endpoint = client.endpoint or "?"
        try:
            client.account_info()  # the first call after discovery goes to the region
        except TransportError as exc:
            ctx.api_blocked = "the account's regional endpoint could not be reached"
            return Check(name, ok=False, detail=f"discovered {endpoint}, which could not be"
                         f" reached: {exc}", fix=region_fix)
        except DotdigitalError as exc:
            ctx.api_blocked = "the account's regional endpoint refused the credentials"
            return Check(name, ok=False, detail=f"discovered {endpoint}, which answered: {exc}",
                         fix=region_fix)
        return Check(name, ok=True, detail=f"{endpoint} (discovered through ApiEndpoint;"
                     " reachable)")
    configured = ctx.configured_endpoint
    if not reported:
        return Check(name, ok=True, detail=f"{configured} (configured; reachable; the account"
                     " did not report its ApiEndpoint)")
    try:
        reported = check_endpoint(reported, what="the account's ApiEndpoint")
    except HostNotAllowedError as exc:
        return Check(name, ok=False, detail=str(exc),
                     fix="credentials are only ever sent to https hosts under dotdigital.com or"
                     " dotmailer.com")
    if not _same_endpoint(configured, reported):
        return Check(name, ok=False, severity="warning",
                     detail=f"DOTDIGITAL_API_ENDPOINT is {configured}, but the account reports"
                     f" {reported}",
                     fix=f"set DOTDIGITAL_API_ENDPOINT={reported}, or unset it to discover it")
    return Check(name, ok=True, detail=f"{configured} (configured; matches the account's"
                 " ApiEndpoint; reachable)")


def check_address_book(ctx: _Context) -> Check:
    """``DOTSYNC_ADDRESS_BOOK_ID``, when set, is a list of this account."""
    name = "address_book"
    book_id = ctx.settings.address_book_id
    if book_id is None:
        return Check(name, ok=True, detail="DOTSYNC_ADDRESS_BOOK_ID not set: contacts are"
                     " added to no list")
    if ctx.api_blocked is not None or ctx.client is None:
        return _skipped(name, f"lists cannot be looked up: {ctx.api_blocked}",
                        "fix the credentials and region first")
    fix = ("set DOTSYNC_ADDRESS_BOOK_ID to the id of one of your lists (Dotdigital shows it"
           " in the list's URL), or unset it")
    try:
        book = ctx.client.get_address_book(book_id)
    except NotFoundError:
        return Check(name, ok=False, fix=fix, detail=f"DOTSYNC_ADDRESS_BOOK_ID {book_id} is"
                     " not a list of this account")
    except DotdigitalError as exc:
        return Check(name, ok=False, detail=f"list {book_id} could not be looked up: {exc}",
                     fix="try again; if it persists, check Dotdigital's status page")
    return Check(name, ok=True, detail=f"list {book.id} {book.name!r}")


def check_store_location(ctx: _Context) -> Check:
    """A deployed run may land on any worker: a SQLite file on one host is refused
    unless the operator marked the deployment single-host (:mod:`dotsync.store_location`)."""
    from dotsync.store_location import judge

    finding = judge(ctx.settings.database_url, deployed=ctx.deployed,
                    single_host=ctx.settings.single_host)
    return Check("store_location", ok=finding.ok, detail=finding.detail, fix=finding.fix)
