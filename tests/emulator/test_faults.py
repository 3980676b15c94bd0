"""Fault injection: 5xx, dropped connections before/after acting, latency, failing imports."""

from __future__ import annotations

import time

import httpx
import pytest

from dotsync.emulator import EmulatorConfig, EmulatorServer, Faults
from tests.emulator.helpers import by_email, import_body, make_client

JO = "/contacts/v3/email/jo@example.com"
SEND = {"toAddresses": ["jo@example.com"], "campaignId": 1001}


def test_error_rate_answers_5xx_without_acting() -> None:
    with EmulatorServer(EmulatorConfig(error_rate=1.0)) as server, make_client(server) as api:
        r = api.patch(JO, json={})
        assert r.status_code == 500
        assert r.json()["errorCode"] == "contacts:internalServerError"
        r = api.post("/v2/email/triggered-campaign", json=SEND)
        assert r.status_code == 500 and r.json()["message"].endswith("ERROR_UNEXPECTED")
        assert server.state.contacts() == [] and server.state.sends() == []
        assert [c["fault"] for c in server.state.calls()] == ["error", "error"]


def test_error_status_is_configurable(emulator, api) -> None:
    emulator.state.set_faults(error_rate=1.0, error_status=503)
    assert api.get("/v2/account-info").status_code == 503


def test_drop_before_acting_is_a_transport_error_and_changes_nothing() -> None:
    with EmulatorServer(EmulatorConfig(drop_rate=1.0)) as server, make_client(server) as api:
        with pytest.raises(httpx.TransportError):
            api.patch(JO, json={})
        with pytest.raises(httpx.TransportError):
            api.post("/v2/email/triggered-campaign", json=SEND)
        assert server.state.contacts() == [] and server.state.sends() == []
        calls = server.state.calls()
        assert [(c["fault"], c["status"]) for c in calls] == [("drop_before", None)] * 2


def test_drop_after_acting_changes_state_but_the_client_sees_a_transport_error() -> None:
    with EmulatorServer(EmulatorConfig(drop_after_rate=1.0)) as server, \
            make_client(server) as api:
        # a response with a body: headers and half the body arrive, then the connection goes
        with pytest.raises(httpx.RemoteProtocolError):
            api.patch(JO, json={"dataFields": {"FIRSTNAME": "Jo"}})
        assert server.state.contact("jo@example.com")["dataFields"] == {"FIRSTNAME": "Jo"}
        # a response without a body (the send's empty 200): nothing arrives
        with pytest.raises(httpx.TransportError):
            api.post("/v2/email/triggered-campaign", json=SEND)
        assert len(server.state.sends()) == 1
        # an import submission: accepted and processed, its id never reaches the client
        with pytest.raises(httpx.TransportError):
            api.put("/contacts/v3/import", json=import_body(by_email("imp@example.com")))
        assert server.state.contact("imp@example.com") is not None
        statuses = [(c["fault"], c["status"]) for c in server.state.calls()]
        assert statuses == [("drop_after", 201), ("drop_after", 200), ("drop_after", 202)]


def test_the_server_keeps_serving_after_drops(emulator, api) -> None:
    emulator.state.faults.drop_rate = 1.0
    with pytest.raises(httpx.TransportError):
        api.get("/v2/account-info")
    emulator.state.faults.drop_rate = 0.0
    assert api.get("/v2/account-info").status_code == 200


def test_scripted_one_shot_faults(emulator, api) -> None:
    emulator.state.faults.script.append(
        {"kind": "drop_after", "path": "/v2/email/triggered-campaign", "method": "POST"})
    emulator.state.faults.script.append({"kind": "error", "status": 502})
    assert api.get("/v2/account-info").status_code == 502          # second shot: any path
    with pytest.raises(httpx.TransportError):
        api.post("/v2/email/triggered-campaign", json=SEND)         # first shot: its path
    assert api.post("/v2/email/triggered-campaign", json=SEND).status_code == 200
    assert len(emulator.state.sends()) == 2
    assert emulator.state.faults.script == []


def test_fault_paths_limit_random_faults(emulator, api) -> None:
    emulator.state.set_faults(error_rate=1.0, paths=["/v2/email/"])
    assert api.get("/v2/account-info").status_code == 200
    assert api.post("/v2/email/triggered-campaign", json=SEND).status_code == 500


def test_latency_is_added_to_every_call() -> None:
    with EmulatorServer(EmulatorConfig(latency=0.15)) as server, make_client(server) as api:
        started = time.monotonic()
        api.get("/v2/account-info")
        api.get("/v2/campaigns")
        assert time.monotonic() - started >= 0.3
        assert all(c["duration"] >= 0.15 for c in server.state.calls())
        server.state.faults.latency = 0.0
        started = time.monotonic()
        api.get("/v2/account-info")
        assert time.monotonic() - started < 0.15


def test_random_faults_follow_the_seed() -> None:
    def outcomes(seed: int) -> list[int]:
        config = EmulatorConfig(error_rate=0.5, random_seed=seed)
        with EmulatorServer(config) as server, make_client(server) as api:
            return [api.get("/v2/account-info").status_code for _ in range(30)]

    first, second = outcomes(7), outcomes(7)
    assert first == second
    assert 200 in first and 500 in first
    assert outcomes(8) != first


def test_error_rate_is_roughly_the_probability() -> None:
    config = EmulatorConfig(error_rate=0.3, random_seed=1)
    with EmulatorServer(config) as server, make_client(server) as api:
        codes = [api.get("/v2/account-info").status_code for _ in range(200)]
    assert 35 <= codes.count(500) <= 85


@pytest.mark.parametrize(("status", "expected"), [("Failed", "Failed"),
                                                  ("RejectedByWatchdog", "RejectedByWatchdog")])
def test_failing_contact_imports_apply_nothing(status: str, expected: str) -> None:
    config = EmulatorConfig(fail_imports=True, failed_import_status=status)
    with EmulatorServer(config) as server, make_client(server) as api:
        import_id = api.put("/contacts/v3/import",
                            json=import_body(by_email("a@example.com"))).json()["importId"]
        report = api.get(f"/contacts/v3/import/{import_id}").json()
        assert report == {"importId": import_id, "status": expected}
        assert server.state.contacts() == []


def test_failing_insight_imports() -> None:
    with EmulatorServer(EmulatorConfig(fail_imports=1.0)) as server, make_client(server) as api:
        server.state.faults.fail_imports = 0.0
        api.put("/contacts/v3/import", json=import_body(by_email("a@example.com")))
        server.state.faults.fail_imports = 1.0
        import_id = api.put("/insightData/v3/import", json={
            "collectionName": "Purchases", "collectionScope": "contact",
            "collectionType": "orders", "records": [
                {"key": "o1", "contactIdentity": {"identifier": "email",
                                                  "value": "a@example.com"},
                 "json": {"id": "o1"}}]}).json()["importId"]
        report = api.get(f"/insightData/v3/import/{import_id}").json()
        assert report["status"] == "Failed"
        assert server.state.insight_records("Purchases") == []


def test_the_first_imports_fail_whatever_the_draw() -> None:
    with EmulatorServer(EmulatorConfig(fail_first_imports=2)) as server, \
            make_client(server) as api:
        statuses = []
        for n in range(3):
            import_id = api.put("/contacts/v3/import", json=import_body(
                by_email(f"c{n}@example.com"))).json()["importId"]
            statuses.append(api.get(f"/contacts/v3/import/{import_id}").json()["status"])
        assert statuses == ["Failed", "Failed", "Finished"]
        assert [c["identifiers"]["email"] for c in server.state.contacts()] == [
            "c2@example.com"]
        assert server.state.faults.fail_first_imports == 0


@pytest.mark.parametrize("bad", [-1, True])
def test_fail_first_imports_is_a_count(bad: object) -> None:
    with pytest.raises(ValueError, match="fail_first_imports"):
        EmulatorConfig(fail_first_imports=bad)


def test_faults_over_http(emulator, api) -> None:
    control = httpx.Client(base_url=emulator.url)
    with control:
        r = control.post("/_emulator/faults", json={"error_rate": 1.0, "random_seed": 3})
        assert r.status_code == 200 and r.json()["error_rate"] == 1.0
        assert api.get("/v2/account-info").status_code == 500
        assert control.get("/_emulator/faults").json()["error_rate"] == 1.0
        for bad in ({"error_rate": 2}, {"nonsense": 1}, {"failed_import_status": "Oops"},
                    {"script": [{"kind": "explode"}]}, [1]):
            r = control.post("/_emulator/faults", json=bad)
            assert r.status_code == 400, bad
        assert control.get("/_emulator/faults").json()["error_rate"] == 1.0  # all or nothing
        control.post("/_emulator/faults", json={"error_rate": 0})
        assert api.get("/v2/account-info").status_code == 200


def test_fault_values_are_checked() -> None:
    with pytest.raises(ValueError):
        Faults(drop_rate=1.5)
    with pytest.raises(ValueError):
        Faults(error_status=404)
    with pytest.raises(ValueError):
        EmulatorConfig(latency=-1)
