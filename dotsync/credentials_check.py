"""Refused credentials, told in one line before any run starts.

``dotsync sync`` / ``backfill`` / ``consent`` start a Prefect flow run, which costs
seconds (a temporary API server when none is configured) before the run's first
call finds out that Dotdigital refuses the API user. One ``account-info`` call
first, with the same settings, answers that in milliseconds: on a refusal the
command prints one line, keeps the traceback in the debug log and exits 1, and
nothing is written anywhere. Anything else (an unreachable host, a host outside
the allow-list, a missing user) is left to the run, which reports it as before.
"""

from __future__ import annotations

from dotsync import debuglog
from dotsync.config import Settings


def refused_credentials(settings: Settings) -> str | None:
    """None unless Dotdigital refuses the API credentials; then the line to print."""
    if settings.credentials_block:
        return None  # the credentials are in a Prefect block: the run reads them
    from dotsync.dotdigital import DotdigitalClient
    from dotsync.dotdigital.errors import AuthenticationError

    try:
        with DotdigitalClient.from_settings(settings, max_retries=1, timeout=20.0) as client:
            client.account_info()
    except AuthenticationError as exc:
        message = (f"Dotdigital refused the API credentials (HTTP {exc.status}): check "
                   "DOTDIGITAL_API_USER / DOTDIGITAL_API_PASSWORD and that "
                   "DOTDIGITAL_API_ENDPOINT is your account's region")
        kept = debuglog.keep(message, exc)
        return message + (f" (details in {kept})" if kept else "")
    except Exception:
        return None
    return None
