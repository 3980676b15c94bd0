"""The per-minute rate limit: headers on every response, 429 past the limit."""

from __future__ import annotations

import time

from dotsync.emulator import EmulatorConfig, EmulatorServer
from tests.emulator.helpers import make_client

SEND = {"toAddresses": ["jo@example.com"], "campaignId": 1001}
HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
           "x-ratelimit-scope")


def test_off_by_default(api) -> None:
    r = api.get("/v2/account-info")
    assert not any(h in r.headers for h in HEADERS)
    for _ in range(50):
        assert api.get("/v2/campaigns").status_code == 200


def test_headers_count_down_then_429() -> None:
    with EmulatorServer(EmulatorConfig(rate_limit_per_minute=3)) as server, \
            make_client(server) as api:
        started = time.time()
        remaining = []
        for path in ("/v2/account-info", "/v2/campaigns", "/contacts/v3/email/a@example.com"):
            r = api.get(path)
            assert r.headers["x-ratelimit-limit"] == "3"
            assert r.headers["x-ratelimit-scope"] == "account"
            reset = int(r.headers["x-ratelimit-reset"])
            assert started <= reset <= started + 61
            remaining.append(int(r.headers["x-ratelimit-remaining"]))
        assert remaining == [2, 1, 0]

        r = api.patch("/contacts/v3/email/jo@example.com", json={})
        assert r.status_code == 429
        assert r.json()["errorCode"] == "contacts:apiUsageExceeded"
        assert r.headers["x-ratelimit-remaining"] == "0"
        assert 1 <= int(r.headers["retry-after"]) <= 61
        assert server.state.contacts() == []           # a 429 is never acted on
        r = api.get("/v2/account-info")
        assert r.status_code == 429
        assert r.json()["message"].endswith("ERROR_APIUSAGE_EXCEEDED")


def test_triggered_sends_do_not_count_but_carry_the_headers() -> None:
    with EmulatorServer(EmulatorConfig(rate_limit_per_minute=2)) as server, \
            make_client(server) as api:
        for _ in range(5):
            r = api.post("/v2/email/triggered-campaign", json=SEND)
            assert r.status_code == 200
            assert r.headers["x-ratelimit-remaining"] == "2"
        assert api.post("/v2/email/triggered-campaign/batch", json=[SEND]).status_code == 200
        assert api.get("/v2/account-info").headers["x-ratelimit-remaining"] == "1"
        assert len(server.state.sends()) == 6


def test_the_window_resets() -> None:
    config = EmulatorConfig(rate_limit_per_minute=1, rate_limit_window=0.5)
    with EmulatorServer(config) as server, make_client(server) as api:
        assert api.get("/v2/account-info").status_code == 200
        assert api.get("/v2/account-info").status_code == 429
        time.sleep(0.6)
        r = api.get("/v2/account-info")
        assert r.status_code == 200
        assert r.headers["x-ratelimit-remaining"] == "0"


def test_inspection_is_not_rate_limited() -> None:
    with EmulatorServer(EmulatorConfig(rate_limit_per_minute=1)) as server, \
            make_client(server) as api:
        for _ in range(5):
            assert api.get("/_emulator/calls").status_code == 200
        assert api.get("/v2/account-info").status_code == 200
