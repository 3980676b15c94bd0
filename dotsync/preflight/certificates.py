"""The certificate checks: real recipients, and each certificate's own https link.

Recipients and links are nearly all distinct, so only their 64-bit hashes are counted.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from dotsync.masking import mask_email
from dotsync.preflight.results import (
    _STORE_FIX,
    Check,
    _found,
    _listing,
    _plural,
    _skipped,
)
from dotsync.preflight.staged import StoreUnreadable, _add_counts, _clean, _hashes, _split_addresses

if TYPE_CHECKING:
    from dotsync.preflight.context import _Context


#: Addresses that only ever appear as placeholders (RFC 2606 domains with generic names).
KNOWN_TEST_ADDRESSES: frozenset[str] = frozenset(
    {
        "test@example.com", "test@example.org", "test@example.net", "test@test.com",
        "email@example.com", "example@example.com", "user@example.com", "name@example.com",
        "you@example.com", "someone@example.com", "customer@example.com",
        "recipient@example.com", "noreply@example.com", "john.doe@example.com",
        "jane.doe@example.com", "john@example.com", "jane@example.com",
    }
)
#: Domains that can never receive mail (RFC 2606 / RFC 6761).
_RESERVED_DOMAIN = re.compile(
    r"(?:^|\.)(?:example\.(?:com|org|net)|localhost)$|\.(?:example|test|invalid|localhost)$"
)
#: Local parts that mark an address as a test inbox, whatever the domain.
_TEST_LOCAL_PARTS = frozenset(
    {"test", "test1", "testing", "tester", "dummy", "placeholder", "sample", "example",
     "noreply", "no-reply", "donotreply", "do-not-reply"}
)
#: Certificates needed before "nearly all go to one address" means anything, and the share.
RECIPIENT_MIN_CERTIFICATES = 5
RECIPIENT_MAX_SHARE = 0.9
#: Substrings that mark a certificate link as a sample or an unfilled template.
_LINK_PLACEHOLDERS: tuple[str, ...] = (
    "example.com", "example.org", "example.net", "localhost", "127.0.0.1", "{{", "}}",
    "%7b%7b", "placeholder",
)


@dataclass
class CertificateFacts:
    """What the certificate checks need, reduced chunk by chunk.

    Recipients and links are nearly all distinct, so only their 64-bit hashes are counted
    (8 bytes each instead of the text); everything else is a count or a short list of
    examples. The text of the few values a message shows is read back in a second pass.
    """

    rows: int = 0
    campaign_ids: pd.Series = field(default_factory=lambda: pd.Series(dtype="int64"))
    recipients: pd.Series = field(default_factory=lambda: pd.Series(dtype="int64"))
    test_addresses: Counter[str] = field(default_factory=Counter)
    reserved_domains: Counter[str] = field(default_factory=Counter)
    test_inboxes: Counter[str] = field(default_factory=Counter)
    links: pd.Series = field(default_factory=lambda: pd.Series(dtype="int64"))
    missing_links: int = 0
    insecure_links: int = 0
    insecure_origins: dict[str, None] = field(default_factory=dict)
    sample_links: int = 0
    sample_markers: dict[str, None] = field(default_factory=dict)

    def add(self, frame: pd.DataFrame) -> None:
        self.rows += len(frame)
        ids = _clean(frame["campaign_id"]).value_counts()
        self.campaign_ids = _add_counts(self.campaign_ids, ids)

        rec = _clean(frame["recipient_email"], "lower")
        rec = rec[rec != ""]
        self.recipients = _add_counts(self.recipients, pd.Series(_hashes(rec)).value_counts())
        known = rec.isin(KNOWN_TEST_ADDRESSES).to_numpy(dtype=bool)
        self.test_addresses.update(rec[known].value_counts().to_dict())
        rest = rec[~known]
        local, domain = _split_addresses(rest)
        reserved = domain.str.contains(_RESERVED_DOMAIN).to_numpy(dtype=bool)
        self.reserved_domains.update(domain[reserved].value_counts().to_dict())
        testish = local.isin(_TEST_LOCAL_PARTS).to_numpy(dtype=bool)
        self.test_inboxes.update(rest[testish].value_counts().to_dict())

        link = _clean(frame["link"])
        self.missing_links += int((link == "").sum())
        link = link[link != ""]
        self.links = _add_counts(self.links, pd.Series(_hashes(link)).value_counts())
        https = link.str.match(r"(?i)^https://[^/?#\s]+").to_numpy(dtype=bool)
        self.insecure_links += int((~https).sum())
        for value in link[~https].head(50):
            if len(self.insecure_origins) < 5:
                self.insecure_origins[_link_origin(value)] = None
        lowered = link.str.lower()
        sample = np.zeros(len(link), dtype=bool)
        for marker in _LINK_PLACEHOLDERS:
            hit = lowered.str.contains(marker, regex=False).to_numpy(dtype=bool)
            if hit.any():
                self.sample_markers[marker] = None
                sample |= hit
        self.sample_links += int(sample.sum())


def _show_address(address: str) -> str:
    """Placeholders are shown as they are; anything that may be a person is masked."""
    return address if address in KNOWN_TEST_ADDRESSES else mask_email(address)


def check_certificate_recipients(ctx: _Context) -> Check:
    """Certificates go to their buyers' recipients, not to one fixed or test address."""
    name = "certificate_recipients"
    try:
        certs = ctx.certificates()
    except StoreUnreadable as exc:
        return _skipped(name, str(exc), _STORE_FIX)
    counts = certs.recipients
    total = int(counts.sum())
    if total == 0:
        return Check(name, ok=True, detail="no certificates staged")
    errors: list[str] = []
    warnings: list[str] = []
    top_hash, top_count = counts.idxmax(), int(counts.max())
    if total >= RECIPIENT_MIN_CERTIFICATES and top_count >= RECIPIENT_MAX_SHARE * total:
        top = ctx.certificate_values("recipient_email", "lower", [top_hash]).get(
            int(top_hash), "?")
        errors.append(f"{top_count:,} of {total:,} certificates go to one address,"
                      f" {_show_address(top)}")
    if certs.test_addresses:
        errors.append(f"{_plural(certs.test_addresses.total(), 'certificate')} go to test"
                      " addresses: " + _listing(f"{a} ({n})"
                                                for a, n in certs.test_addresses.most_common()))
    if certs.reserved_domains:
        warnings.append(
            f"{_plural(certs.reserved_domains.total(), 'certificate')} go to domains that"
            " receive no mail: "
            + _listing(f"{d} ({n})" for d, n in certs.reserved_domains.most_common()))
    if certs.test_inboxes:
        # The local part is a generic word, so the address is shown whole.
        warnings.append(f"{_plural(certs.test_inboxes.total(), 'certificate')} go to test"
                        " inboxes: " + _listing(f"{a} ({n})"
                                                for a, n in certs.test_inboxes.most_common()))
    fix = ("stage each certificate with its real recipient_email (the address the buyer"
           " entered); remove test certificates before going live")
    found = _found(name, errors, warnings, fix)
    if found is not None:
        return found
    return Check(name, ok=True, detail=f"{_plural(total, 'certificate')} to"
                 f" {_plural(len(counts), 'distinct address', 'distinct addresses')}")


def _link_origin(link: str) -> str:
    """``scheme://host/…``: enough to recognise a link without showing a certificate code."""
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*:)?(//)?([^/?#]*)", link)
    head = "".join(p or "" for p in match.groups()) if match else ""
    return (head or link[:20]) + ("/…" if len(link) > len(head) else "")


def check_certificate_links(ctx: _Context) -> Check:
    """Each certificate has its own https link, and no link is a sample or template."""
    name = "certificate_links"
    try:
        certs = ctx.certificates()
    except StoreUnreadable as exc:
        return _skipped(name, str(exc), _STORE_FIX)
    if certs.rows == 0:
        return Check(name, ok=True, detail="no certificates staged")
    errors: list[str] = []
    warnings: list[str] = []
    if certs.missing_links:
        errors.append(f"{_plural(certs.missing_links, 'certificate')} have no link")
    if certs.insecure_links:
        errors.append(f"{_plural(certs.insecure_links, 'link')} not https: "
                      + _listing(certs.insecure_origins))
    shared = certs.links[certs.links > 1].sort_values(ascending=False)
    if len(shared):
        shown = ctx.certificate_values("link", None, shared.index[:5])
        errors.append(
            f"{_plural(len(shared), 'link')} shared by several certificates: "
            + ", ".join(f"{_link_origin(shown.get(int(h), '?'))} ({n} certificates)"
                        for h, n in shared.head(5).items())
            + (f" and {len(shared) - 5} more" if len(shared) > 5 else "")
        )
    if certs.sample_links:
        warnings.append(f"{_plural(certs.sample_links, 'link')} look like samples or unfilled"
                        " templates (contain "
                        + ", ".join(repr(m) for m in certs.sample_markers) + ")")
    fix = ("stage each certificate with its own https:// redemption link (with its code in"
           " the link, so no two certificates share one); no sample or template links")
    found = _found(name, errors, warnings, fix)
    if found is not None:
        return found
    return Check(name, ok=True, detail=f"{_plural(int(certs.links.sum()), 'certificate')},"
                 " each with its own https link")
