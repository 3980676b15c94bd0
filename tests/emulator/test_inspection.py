"""The inspection API (in-process and over HTTP), the call log, reset and thread safety."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from dotsync.emulator import DEFAULT_PASSWORD, EmulatorConfig, EmulatorServer
from tests.emulator.helpers import AUTH, by_email, import_body, make_client, order


def _populate(api) -> None:
    api.patch("/contacts/v3/email/jo@example.com", json={"dataFields": {"FIRSTNAME": "Jo"}})
    api.put("/insightData/v3/import", json={
        "collectionName": "Purchases", "collectionScope": "contact",
        "collectionType": "orders", "records": [order("o1", "jo@example.com")]})
    api.post("/v2/email/triggered-campaign",
             json={"toAddresses": ["jo@example.com"], "campaignId": 1002,
                   "personalizationValues": [{"name": "ORDER_ID", "value": "o1"}]})


def test_http_inspection_matches_in_process_state(emulator, api) -> None:
    _populate(api)
    with httpx.Client(base_url=emulator.url) as plain:    # no credentials needed
        assert plain.get("/_emulator/contacts").json() == emulator.state.contacts()
        assert plain.get("/_emulator/insight").json() == emulator.state.insight()
        assert plain.get("/_emulator/sends").json() == emulator.state.sends()
        assert plain.get("/_emulator/calls").json() == emulator.state.calls()
        assert plain.get("/_emulator/imports").json() == emulator.state.imports()
        assert plain.get("/_emulator/suppressions").json() == emulator.state.suppressions()
        assert plain.get("/_emulator/campaigns").json() == emulator.state.campaigns()
    assert emulator.state.sends()[0]["personalizationValues"] == {"ORDER_ID": "o1"}
    assert emulator.state.insight()["Purchases"]["records"][0]["email"] == "jo@example.com"
    assert emulator.state.imports()[0]["kind"] == "insight"


def test_calls_are_logged_in_order_without_credentials(emulator) -> None:
    with make_client(emulator) as api:
        api.get("/v2/account-info")
        api.patch("/contacts/v3/email/jo@example.com?merge-option=overwrite", json={})
        api.get("/_emulator/sends")                          # not an API call: not logged
    with make_client(emulator, auth=("intruder", "guess")) as other:
        other.get("/v2/campaigns")
    calls = emulator.state.calls()
    assert [(c["seq"], c["method"], c["path"], c["status"]) for c in calls] == [
        (1, "GET", "/v2/account-info", 200),
        (2, "PATCH", "/contacts/v3/email/jo@example.com", 201),
        (3, "GET", "/v2/campaigns", 401)]
    assert calls[1]["query"] == "merge-option=overwrite"
    assert calls[0]["time"] <= calls[1]["time"] <= calls[2]["time"]
    text = repr(calls)
    assert "authorization" not in text.lower()
    assert DEFAULT_PASSWORD not in text and "guess" not in text


def test_reset_restores_the_seeded_account(emulator, api) -> None:
    _populate(api)
    emulator.state.faults.latency = 0.01
    r = httpx.post(f"{emulator.url}/_emulator/reset")
    assert r.status_code == 200
    state = emulator.state
    assert state.contacts() == [] and state.sends() == [] and state.calls() == []
    assert state.imports() == [] and state.insight() == {}  # a new account: no collection
    assert [c["id"] for c in state.campaigns()][:2] == [1001, 1002]
    assert len(state.suppressions()) == 2
    assert state.faults.latency == 0.01                 # faults are kept


def test_complete_imports_over_http() -> None:
    with EmulatorServer(EmulatorConfig(import_delay=60)) as server, make_client(server) as api:
        api.put("/contacts/v3/import", json=import_body(by_email("a@example.com")))
        assert server.state.imports()[0]["status"] == "NotFinished"
        done = httpx.post(f"{server.url}/_emulator/imports/complete").json()
        assert done[0]["status"] == "Finished"
        assert server.state.contact("a@example.com") is not None


def test_state_can_be_read_while_the_server_works(emulator) -> None:
    """Many client threads write while the test thread reads; nothing is lost or torn."""
    stop = threading.Event()
    reads = 0

    def reader() -> None:
        nonlocal reads
        while not stop.is_set():
            for contact in emulator.state.contacts():
                assert contact["identifiers"]["email"].endswith("@example.com")
            emulator.state.calls()
            reads += 1

    def writer(n: int) -> int:
        with httpx.Client(base_url=emulator.url, auth=AUTH) as client:
            for i in range(20):
                r = client.patch(f"/contacts/v3/email/w{n}-{i}@example.com",
                                 json={"dataFields": {"FIRSTNAME": f"w{i}"}})
                assert r.status_code == 201
        return n

    watcher = threading.Thread(target=reader)
    watcher.start()
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(writer, range(8)))
    finally:
        stop.set()
        watcher.join()
    assert len(emulator.state.contacts()) == 160
    assert len(emulator.state.calls()) == 160
    assert len({c["contactId"] for c in emulator.state.contacts()}) == 160
    assert reads > 0


def test_inspection_returns_copies(emulator, api) -> None:
    api.patch("/contacts/v3/email/jo@example.com", json={"dataFields": {"FIRSTNAME": "Jo"}})
    emulator.state.contacts()[0]["dataFields"]["FIRSTNAME"] = "Mallory"
    assert emulator.state.contact("jo@example.com")["dataFields"]["FIRSTNAME"] == "Jo"


def test_in_process_helpers(emulator, api) -> None:
    emulator.state.add_campaign(2001, "Birthday", status="Triggered")
    emulator.state.add_suppression("gone@example.com", "IspComplained")
    assert api.get("/v2/campaigns/2001").json()["name"] == "Birthday"
    r = api.patch("/contacts/v3/email/gone@example.com",
                  json={"channelProperties": {"email": {"status": "subscribed"}}})
    assert r.json()["channelProperties"]["email"]["status"] == "ispComplained"
    assert r.json()["status"] == "suppressed"
