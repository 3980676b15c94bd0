"""Triggered-campaign sends, campaigns, suppression read-back, account info and auth."""

from __future__ import annotations

import httpx
import pytest

from dotsync.emulator import EmulatorConfig, EmulatorServer
from tests.emulator.helpers import AUTH, make_client

SEND = "/v2/email/triggered-campaign"


def _send(campaign: int = 1001, to: str = "jo@example.com", **values: str) -> dict:
    return {"toAddresses": [to], "campaignId": campaign,
            "personalizationValues": [{"name": k, "value": v} for k, v in values.items()]}


# ------------------------------------------------------------------ auth, account info
@pytest.mark.parametrize("auth", [None, (AUTH[0], "wrong"), ("someone-else", AUTH[1]),
                                  (AUTH[0].upper(), AUTH[1]), (AUTH[0], AUTH[1] + " ")])
@pytest.mark.parametrize("path", ["/v2/account-info", "/contacts/v3/email/jo@example.com"])
def test_only_the_configured_user_and_password(emulator, auth, path: str) -> None:
    with make_client(emulator, auth=auth) as api:
        r = api.get(path)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Basic")
    body = r.json()
    assert ("errorCode" in body) == path.startswith("/contacts/v3")


def test_malformed_authorization_header(emulator) -> None:
    with make_client(emulator, auth=None) as api:
        for value in ("Bearer abc", "Basic !!!", "Basic " + "bm9jb2xvbg=="):
            assert api.get("/v2/account-info",
                           headers={"authorization": value}).status_code == 401


def test_custom_credentials() -> None:
    config = EmulatorConfig(user="apiuser-x@apiconnector.com", password="s3cret")
    with EmulatorServer(config) as server:
        with make_client(server) as api:
            assert api.get("/v2/account-info").status_code == 401
        with make_client(server, auth=("apiuser-x@apiconnector.com", "s3cret")) as api:
            assert api.get("/v2/account-info").status_code == 200


def test_account_info_points_at_the_emulator(api, emulator) -> None:
    body = api.get("/v2/account-info").json()
    props = {p["name"]: p for p in body["properties"]}
    assert props["ApiEndpoint"] == {"name": "ApiEndpoint", "type": "String",
                                    "value": emulator.url + "/"}
    for name in ("Name", "MainEmail", "ApiCallsRemaining", "ApiCallsInLastHour",
                 "CurrencyCode", "TimeZoneIana", "APILocale"):
        assert name in props
    assert isinstance(body["id"], int)
    # the endpoint follows the host the client used
    with httpx.Client(auth=AUTH) as other:
        alt = other.get(f"http://localhost:{emulator.port}/v2/account-info").json()
    alt_props = {p["name"]: p["value"] for p in alt["properties"]}
    assert alt_props["ApiEndpoint"] == f"http://localhost:{emulator.port}/"


def test_unknown_paths_and_methods(api) -> None:
    r = api.get("/v2/nothing-here")
    assert r.status_code == 404 and r.json()["message"].endswith("ERROR_RESOURCE_NOT_FOUND")
    r = api.put("/contacts/v3/email/jo@example.com", json={})  # replace: not emulated
    assert r.status_code == 405 and r.json()["errorCode"] == "contacts:methodNotAllowed"


# ------------------------------------------------------------------ triggered campaigns
def test_triggered_send(api, emulator) -> None:
    r = api.post(SEND, json=_send(1001, CERTIFICATE_CODE="ABC", CERTIFICATE_AMOUNT="25.00"))
    assert r.status_code == 200
    assert r.content == b""
    (send,) = emulator.state.sends()
    assert send["campaignId"] == 1001
    assert send["toAddresses"] == ["jo@example.com"]
    assert send["personalizationValues"] == {"CERTIFICATE_CODE": "ABC",
                                             "CERTIFICATE_AMOUNT": "25.00"}
    assert send["via"] == "single"


def test_every_call_sends_again(api, emulator) -> None:
    """There is no idempotency key: exactly-once is the caller's job."""
    api.post(SEND, json=_send())
    api.post(SEND, json=_send())
    assert len(emulator.state.sends()) == 2


@pytest.mark.parametrize(("body", "status", "code"), [
    (_send(9999), 404, "ERROR_CAMPAIGN_NOT_FOUND"),
    (_send(1003), 400, "ERROR_CAMPAIGN_SENDNOTPERMITTED"),   # Sent, not triggered
    (_send(1004), 400, "ERROR_CAMPAIGN_SENDNOTPERMITTED"),   # Paused
    (_send(1005), 400, "ERROR_CAMPAIGN_SENDNOTPERMITTED"),   # Cancelled
    (_send(to="not-an-address"), 400, "ERROR_PARAMETER_INVALID"),
    ({"toAddresses": [], "campaignId": 1001}, 400, "ERROR_PARAMETER_INVALID"),
    ({"toAddresses": ["jo@example.com"]}, 400, "ERROR_PARAMETER_INVALID"),
    ({"toAddresses": ["jo@example.com"], "campaignId": "1001"}, 400, "ERROR_PARAMETER_INVALID"),
    ({"toAddresses": ["jo@example.com"], "campaignId": 1001,
      "personalizationValues": [{"name": "AMOUNT", "value": 25}]}, 400,
     "ERROR_PARAMETER_INVALID"),
    (_send(to="bounced@example.com"), 400, "ERROR_CONTACT_SUPPRESSED"),
])
def test_send_failures(api, emulator, body: dict, status: int, code: str) -> None:
    r = api.post(SEND, json=body)
    assert r.status_code == status
    assert r.json()["message"].endswith(code)
    assert emulator.state.sends() == []


def test_unsubscribed_recipient_still_gets_transactional_mail(api, emulator) -> None:
    assert api.post(SEND, json=_send(to="unsubscribed@example.com")).status_code == 200


def test_malformed_send_body(api) -> None:
    r = api.post(SEND, content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["message"].endswith("ERROR_PARAMETER_INVALID")


def test_batch_send_reports_per_item(api, emulator) -> None:
    r = api.post(f"{SEND}/batch", json=[_send(1001), _send(9999), _send(1002, to="x"),
                                        _send(1002, ORDER_ID="7")])
    assert r.status_code == 200
    results = r.json()
    assert results[0] == {"index": 0}
    assert results[1]["index"] == 1 and results[1]["failureCode"] == "ERROR_CAMPAIGN_NOT_FOUND"
    assert results[2]["failureCode"] == "ERROR_PARAMETER_INVALID"
    assert results[3] == {"index": 3}
    assert [(s["campaignId"], s["via"]) for s in emulator.state.sends()] == [
        (1001, "batch"), (1002, "batch")]


@pytest.mark.parametrize("body", [[], {"toAddresses": ["a@example.com"], "campaignId": 1}])
def test_batch_must_be_a_non_empty_array(api, body) -> None:
    assert api.post(f"{SEND}/batch", json=body).status_code == 400


# ------------------------------------------------------------------ campaigns
def test_campaign_list_and_lookup(api) -> None:
    campaigns = api.get("/v2/campaigns").json()
    assert [(c["id"], c["name"], c["status"]) for c in campaigns] == [
        (1001, "Gift certificate", "Triggered"), (1002, "Order confirmation", "Triggered"),
        (1003, "Spring newsletter", "Sent"), (1004, "Paused reminder", "Paused"),
        (1005, "Cancelled promotion", "Cancelled")]
    assert api.get("/v2/campaigns?select=2&skip=1").json()[0]["id"] == 1002
    one = api.get("/v2/campaigns/1002")
    assert one.status_code == 200 and one.json()["name"] == "Order confirmation"
    missing = api.get("/v2/campaigns/4242")
    assert missing.status_code == 404
    assert missing.json()["message"].endswith("ERROR_CAMPAIGN_NOT_FOUND")


@pytest.mark.parametrize("query", ["select=0", "select=1001", "select=abc", "skip=-1"])
def test_campaign_paging_parameters(api, query: str) -> None:
    r = api.get(f"/v2/campaigns?{query}")
    assert r.status_code == 400
    assert r.json()["message"].endswith("ERROR_PARAMETER_INVALID")


def test_paging_through_many_campaigns() -> None:
    config = EmulatorConfig(seed={"generatedCampaigns": 2100})
    with EmulatorServer(config) as server, make_client(server) as api:
        seen: list[int] = []
        skip = 0
        while True:
            query = f"select=1000&skip={skip}" if skip else "select=1000"
            page = api.get(f"/v2/campaigns?{query}").json()
            seen += [c["id"] for c in page]
            if len(page) < 1000:
                break
            skip += len(page)
        assert len(seen) == 2105 and len(set(seen)) == 2105


def test_seed_replaces_campaigns(tmp_path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text('{"campaigns": [{"id": 7, "name": "Only", "status": "Triggered"}]}')
    with EmulatorServer(EmulatorConfig(seed=seed)) as server, make_client(server) as api:
        assert [c["id"] for c in api.get("/v2/campaigns").json()] == [7]
        # suppressions keep their defaults
        assert len(api.get("/v2/contacts/suppressed-since/2000-01-01").json()) == 2


def test_seed_errors_name_the_problem(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"unknown key.*campaign"):
        EmulatorServer(EmulatorConfig(seed={"campaign": []}))
    with pytest.raises(ValueError, match=r"campaigns\[0\]"):
        EmulatorServer(EmulatorConfig(seed={"campaigns": [{"name": "no id"}]}))
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        EmulatorServer(EmulatorConfig(seed=bad))


# ------------------------------------------------------------------ suppressions
def test_suppressed_and_unsubscribed_since(api) -> None:
    everyone = api.get("/v2/contacts/suppressed-since/2000-01-01").json()
    assert [(s["suppressedContact"]["email"], s["reason"]) for s in everyone] == [
        ("unsubscribed@example.com", "Unsubscribed"), ("bounced@example.com", "HardBounced")]
    unsubscribed = api.get("/v2/contacts/unsubscribed-since/2000-01-01").json()
    assert [s["suppressedContact"]["email"] for s in unsubscribed] == ["unsubscribed@example.com"]
    later = api.get("/v2/contacts/suppressed-since/2024-01-20T00:00:00Z").json()
    assert [s["suppressedContact"]["email"] for s in later] == ["bounced@example.com"]
    page = api.get("/v2/contacts/suppressed-since/2000-01-01?select=1&skip=1").json()
    assert [s["suppressedContact"]["email"] for s in page] == ["bounced@example.com"]


@pytest.mark.parametrize("path", ["/v2/contacts/suppressed-since/yesterday",
                                  "/v2/contacts/suppressed-since/2024-01-01?select=1001",
                                  "/v2/contacts/unsubscribed-since/2024-01-01?skip=x"])
def test_suppression_read_validation(api, path: str) -> None:
    assert api.get(path).status_code == 400
