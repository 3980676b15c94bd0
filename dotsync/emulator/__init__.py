"""A local Dotdigital: the endpoints dotsync uses, with Dotdigital's semantics, in memory.

Tests, the demo, benchmarks and users without an account run against it. Plain Python
(Starlette + uvicorn), no Prefect.

Use
---
::

    from dotsync.emulator import EmulatorConfig, EmulatorServer

    with EmulatorServer(EmulatorConfig(import_delay=0.2, random_seed=7)) as server:
        server.url                   # "http://127.0.0.1:PORT" (no trailing slash)
        server.state.contacts()      # inspection: copies, safe from any thread
        server.state.faults.error_rate = 0.1   # faults change at run time

or ``dotsync emulator [--port N] [--user U] [--password P] [--seed FILE]`` /
``python -m dotsync.emulator`` (the base URL is the first line printed).

Default credentials: user ``apiuser-demo@apiconnector.com``, password ``demo-password``;
exactly that pair is accepted (HTTP Basic), anything else gets 401.

Endpoints
---------
``GET /v2/account-info`` (``ApiEndpoint`` = the emulator's own base URL, with a trailing
slash, as Dotdigital returns it); ``PATCH|GET|DELETE /contacts/v3/{identifier}/{value}``;
``GET /contacts/v3`` (``~modified``/``~created``, ``limit``, ``marker``, ``include``,
``data-fields``); ``PUT /contacts/v3/import``, ``GET /contacts/v3/import/{id}``;
``POST /contacts/v3/delete``, ``GET /contacts/v3/delete/{id}``; ``PUT /insightData/v3/import``,
``GET /insightData/v3/import/{id}``; ``PUT|GET
/insightData/v3/contacts/{identifier}/{value}/{collection}/{key}``; ``PUT
/insightData/v3/account/{collection}/{key}``; ``GET /insightData/v3/collections``;
``POST /v2/email/triggered-campaign`` and ``…/batch``; ``GET /v2/campaigns``,
``GET /v2/campaigns/{id}``; ``GET /v2/contacts/suppressed-since/{date}`` and
``…/unsubscribed-since/{date}``.

Choices where Dotdigital's documentation is silent (documented so tests can rely on them):

- Mobile numbers: ``+447…`` and ``447…`` are both accepted; stored and returned without ``+``.
- Request enums must be in request casing (``html``, ``verifiedDouble``, ``subscribed``);
  ``Html`` is a 400.
- A contact import fails a record whose identifier already appeared earlier in the same
  import (``Duplicate``); the first occurrence is applied. Same for insight keys
  (``DuplicateKey``). An e-mail and mobile number owned by two different contacts is a 409
  for PATCH and a ``Duplicate`` failure in an import.
- Imports (contacts, insight, bulk delete) are accepted at once (a 48 MB body in under a
  second) and applied in the background, in submission order, once ``import_delay`` has
  passed; an import reports ``NotFinished``/``Processing`` until every record is applied,
  and status polls and other calls are answered meanwhile. With ``import_delay=0`` an
  import is applied before its submission is answered. ``complete_imports()`` applies all
  pending imports now.
- Insight import status words: by default the spec's enum (``Processing`` while running,
  ``Complete`` when done, ``Failed``); ``insight_status_style="docs"`` gives
  ``NotFinished``/``Finished`` as the docs' examples show. Clients should accept both.
- Suppressed addresses (seeded, or unsubscribed through the API) keep their e-mail status
  whatever an update says; triggered-campaign sends to addresses suppressed for any reason
  but ``Unsubscribed`` are refused with ``ERROR_CONTACT_SUPPRESSED``.
- Single insight upserts need an existing collection (404 ``collectionNotFound``); the
  default seed has ``Purchases`` (contact scope, orders). Bulk imports create collections.
- Rate limit (off by default): a fixed window of ``rate_limit_window`` seconds from the first
  counted call; ``X-RateLimit-*`` headers on every authenticated API response; triggered
  campaign sends are not counted; 429 carries ``Retry-After`` too.

Seed file (JSON)
----------------
Every key is optional; a key present replaces the default for that key::

    {
      "account": {"id": 1, "name": "My shop", "currency": "GBP"},
      "campaigns": [{"id": 1001, "name": "Gift certificate", "status": "Triggered",
                     "subject": "Your gift", "fromName": "Shop", "fromAddress": "s@x.com"}],
      "generatedCampaigns": 2500,
      "suppressed": [{"email": "gone@example.com", "reason": "Unsubscribed",
                      "dateRemoved": "2024-01-15T10:00:00Z"}],
      "collections": [{"name": "Purchases", "scope": "contact", "type": "orders"}],
      "contacts": [{"email": "jo@example.com", "mobileNumber": "447123123123",
                    "dataFields": {"FIRSTNAME": "Jo"},
                    "channelProperties": {"email": {"status": "subscribed"}}}],
      "dataFields": ["FIRSTNAME", "LASTNAME", {"name": "POINTS", "type": "Numeric"}],
      "addressBooks": [{"id": 7, "name": "Shop customers"}]
    }

``status`` is a v2 campaign status (``Triggered`` allows triggered sends; ``Unsent``,
``Sent``, ``Paused``, ``Cancelled`` refuse them). ``generatedCampaigns`` adds that many
``Sent`` campaigns (ids from 200000) to exercise paging. ``reason`` is a v2 suppression
reason (``Unsubscribed``, ``HardBounced``, ``IspComplained``, …). ``dataFields`` is the account's
list of data fields (a name is a String field; objects carry ``type`` ``String``,
``Numeric``, ``Date`` or ``Boolean``); a contact with any other data field is refused with a
400 naming it. ``"dataFields": null`` accepts any well-formed name (the old lenient mode).

Defaults: campaigns 1001 "Gift certificate" and 1002 "Order confirmation" (Triggered),
1003 "Spring newsletter" (Sent), 1004 "Paused reminder" (Paused), 1005 "Cancelled promotion"
(Cancelled); suppressed ``unsubscribed@example.com`` (Unsubscribed) and
``bounced@example.com`` (HardBounced); otherwise a new account: Dotdigital's default data
fields only (``FIRSTNAME``, ``LASTNAME``, ``FULLNAME``, ``GENDER``, ``POSTCODE``,
``LASTSUBSCRIBED``), the lists "Test" (1) and "All contacts" (2), and no insight collection
(single insight upserts answer 404 ``insightData:collectionNotFound`` until the collection is
created with ``POST /insightData/v3/collections/{name}`` or a first import). Sources in
:mod:`dotsync.emulator.structure`.

Inspection and control over HTTP (no auth, not logged, no faults)
-----------------------------------------------------------------
``GET /_emulator/contacts | insight | sends | calls | imports | suppressions | campaigns``,
``GET|POST /_emulator/data-fields`` (POST a field, a name or a list of them to add data fields
as a user would in Dotdigital's UI; ``state.add_data_field(name, type)`` does the same),
``GET|POST /_emulator/faults`` (POST a JSON object of :class:`Faults` fields, plus
``random_seed``), ``POST /_emulator/imports/complete``, ``POST /_emulator/reset``. Calls are
logged in order with method, path, query, status, time, duration and injected fault; the
Authorization header and bodies are never stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dotsync.emulator.config import (
    DEFAULT_PASSWORD,
    DEFAULT_USER,
    EmulatorConfig,
    Faults,
    default_seed,
    load_seed,
)

if TYPE_CHECKING:  # the app and server pull in Starlette/uvicorn; import them on first use
    from dotsync.emulator.app import ConnectionDropped, create_app
    from dotsync.emulator.server import EmulatorServer, serve
    from dotsync.emulator.state import EmulatorState

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_USER",
    "ConnectionDropped",
    "EmulatorConfig",
    "EmulatorServer",
    "EmulatorState",
    "Faults",
    "create_app",
    "default_seed",
    "load_seed",
    "serve",
]

_LAZY = {
    "ConnectionDropped": "dotsync.emulator.app",
    "create_app": "dotsync.emulator.app",
    "EmulatorServer": "dotsync.emulator.server",
    "serve": "dotsync.emulator.server",
    "EmulatorState": "dotsync.emulator.state",
}


def __getattr__(name: str) -> Any:
    """Import Starlette/uvicorn only when the server is used, so ``dotsync --help`` stays fast."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dotsync.emulator' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
