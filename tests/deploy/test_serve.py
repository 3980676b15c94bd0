"""``dotsync serve`` against a real Prefect server: the deployments it creates, a
backfill and a replay triggered through the API, no overlapping syncs, no leaked
secret. The runs happen in flow-run processes started by the served runner, exactly
as in production; only Dotdigital is the bundled emulator."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from dotsync.samples import generate
from dotsync.sync.entities import ENTITIES
from tests.deploy.conftest import BLOCK_NAME, Served, wait_for

pytestmark = pytest.mark.e2e

# The sample data's order 100001: rejected by the contract (a required field). Its
# customer C1001's bad phone is only a warning since SPEC §1 made optional fields lenient.
REJECTED_ORDER, REJECTED_CURRENCY = "100001", "XXY"
REJECTED_CUSTOMER = "C1002"  # e-mail 'jo@@example.com': the identifier, so a reject


def api(served: Served, method: str, path: str, **body: Any) -> Any:
    answer = httpx.request(method, f"{served.server.api_url}{path}", json=body or None,
                           timeout=10)
    answer.raise_for_status()
    return answer.json()


def ledger(served: Served, entity: str) -> dict[str, tuple[str, str | None]]:
    """key -> (state, run_id) for one entity of the staging store's ledger."""
    engine = sa.create_engine(served.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT key, state, run_id FROM ledger WHERE entity = :e"), {"e": entity})
            return {key: (state, run_id) for key, state, run_id in rows}
    finally:
        engine.dispose()


def backfill_run(served: Served) -> Any:
    """The package's one backfill run, triggered through the API (shared with the UI test)."""
    if "backfill" not in served.runs:
        from prefect.deployments import run_deployment

        served.runs["backfill"] = run_deployment(
            "backfill/backfill",
            # The sample data fails the go-live checks on purpose: skip them here.
            parameters={"poll_interval": 0.05, "include_certificates": True,
                        "preflight": False},
            timeout=150, poll_interval=0.5,
        )
    return served.runs["backfill"]


def test_serve_creates_the_three_deployments(served: Served) -> None:
    sync = api(served, "GET", "/deployments/name/sync/sync")
    assert [s["schedule"].get("interval") for s in sync["schedules"]] == [900.0]
    assert all(s["active"] for s in sync["schedules"])
    assert sync["global_concurrency_limit"]["limit"] == 1
    assert sync["concurrency_options"]["collision_strategy"] == "ENQUEUE"
    assert sync["parameters"] == {"credentials_block": BLOCK_NAME, "preflight": True,
                                  "entities": ["contacts", "orders", "certificates"]}
    assert sync["entrypoint"] == "dotsync.flows.sync.sync"
    form = sync["parameter_openapi_schema"]["properties"]  # what the UI's run form shows
    assert {"type": "array", "items": {"type": "string", "enum": list(ENTITIES)}} in (
        form["entities"]["anyOf"])  # every entity the registry runs, carts and products too
    assert {"$ref": "#/definitions/DotdigitalCredentials"} in form["credentials_block"]["anyOf"]
    assert form["entities"]["description"].startswith("Limit the run to some of")
    for name in ("backfill", "replay"):
        other = api(served, "GET", f"/deployments/name/{name}/{name}")
        assert other["schedules"] == []
        assert other["global_concurrency_limit"]["limit"] == 1
        assert other["parameters"]["credentials_block"] == BLOCK_NAME
    assert api(served, "GET", "/deployments/name/backfill/backfill")["parameters"][
        "preflight"] is True
    replay_params = api(served, "GET", "/deployments/name/replay/replay")[
        "parameter_openapi_schema"]["properties"]
    assert {"entity", "keys", "run_sync"} <= set(replay_params)


def test_backfill_triggered_through_the_api_fills_dotdigital(served: Served) -> None:
    flow_run = backfill_run(served)
    assert flow_run.state.is_completed(), f"{flow_run.state}\n{served.log()[-4000:]}"

    contacts = ledger(served, "contacts")
    synced_contacts = {k for k, (state, _) in contacts.items() if state == "synced"}
    in_dotdigital = {c["identifiers"]["email"] for c in served.emulator.state.contacts()}
    assert len(synced_contacts) >= 50
    assert synced_contacts <= in_dotdigital
    rejected_email = generate(customers=60, orders=120, certificates=10).customers[2]["email"]
    assert rejected_email not in in_dotdigital
    assert ledger(served, "customers")[REJECTED_CUSTOMER][0] == "rejected"

    orders = ledger(served, "orders")
    synced_orders = {k for k, (state, _) in orders.items() if state == "synced"}
    records = served.emulator.state.insight_records("Purchases")
    assert len(synced_orders) >= 100
    assert {r["key"] for r in records} == synced_orders
    assert orders["100001"][0] == "rejected"  # currency XXY

    certificates = ledger(served, "certificates")
    sent = [k for k, (state, _) in certificates.items() if state == "synced"]
    assert len(served.emulator.state.sends()) == len(sent) >= 5


def test_backfill_progress_and_report_are_artifacts(served: Served) -> None:
    flow_run = backfill_run(served)
    artifacts = api(served, "POST", "/artifacts/filter",
                    artifacts={"flow_run_id": {"any_": [str(flow_run.id)]}})
    by_key = {a["key"]: a for a in artifacts if a["key"]}
    progress = [a for a in artifacts if a["type"] == "progress"]
    assert progress and progress[0]["data"] == 100.0
    tables = [a for a in artifacts if a["type"] == "table"]
    assert any(REJECTED_CURRENCY in str(a["data"]) for a in tables), sorted(by_key)


def test_replay_deployment_queues_and_syncs_again(served: Served) -> None:
    from prefect.deployments import run_deployment

    before = backfill_run(served)
    assert before.state.is_completed()
    first_run_id = ledger(served, "customers")[REJECTED_CUSTOMER][1]
    flow_run = run_deployment("replay/replay",
                              parameters={"entity": "customers", "keys": [REJECTED_CUSTOMER]},
                              timeout=120, poll_interval=0.5)
    assert flow_run.state.is_completed(), f"{flow_run.state}\n{served.log()[-4000:]}"
    assert flow_run.state.message.startswith("1 record queued again and synced")
    state, run_id = ledger(served, "customers")[REJECTED_CUSTOMER]
    assert state == "rejected"  # the data is still wrong: rejected again, by the new run
    assert run_id != first_run_id
    subflows = api(served, "POST", "/flow_runs/filter",
                   flow_runs={"parent_flow_run_id": {"any_": [str(flow_run.id)]}})
    assert [r["state_type"] for r in subflows] == ["COMPLETED"]



def test_a_replay_of_an_unknown_entity_is_refused_naming_the_choices(served: Served) -> None:
    """``entity`` is typed: the server refuses the run before it exists, naming the
    parameter, the value and the choices; a run created without the server's check
    (``enforce_parameter_schema: false``) fails as it starts, for the same reason."""
    from prefect.deployments import run_deployment
    from prefect.exceptions import PrefectHTTPStatusError

    with pytest.raises(PrefectHTTPStatusError) as refused:
        run_deployment("replay/replay", parameters={"entity": "invoices"},
                       timeout=120, poll_interval=0.5)
    message = str(refused.value)
    assert "field 'entity'" in message and "'invoices' is not one of" in message
    assert all(f"'{e}'" in message for e in ("customers", "orders", "certificates",
                                               "contacts", "confirmations", "erasures"))
    deployment = api(served, "GET", "/deployments/name/replay/replay")
    runs = api(served, "POST", "/flow_runs/filter",
               deployments={"id": {"any_": [deployment["id"]]}})
    assert not [r for r in runs if r["parameters"].get("entity") == "invoices"]

    # (a busy server may answer 503 for a moment: wait_for asks again)
    unchecked = wait_for(lambda: api(
        served, "POST", f"/deployments/{deployment['id']}/create_flow_run",
        parameters={"entity": "invoices"}, enforce_parameter_schema=False),
        60, "creating an unchecked replay run", served.proc, served.log, interval=1)

    def ended() -> dict[str, Any] | None:
        run = api(served, "GET", f"/flow_runs/{unchecked['id']}")
        return run if run["state"]["type"] in {"COMPLETED", "FAILED", "CRASHED"} else None

    run = wait_for(ended, 120, "the unchecked replay run", served.proc, served.log,
                   interval=0.5)
    assert run["state"]["type"] == "FAILED", run["state"]
    assert "entity" in run["state"]["message"]
    from dotsync.flows.replay import REPLAYABLE

    choices = ", ".join(f"'{e}'" for e in REPLAYABLE[:-1]) + f" or '{REPLAYABLE[-1]}'"
    assert choices in run["state"]["message"]


def test_sync_runs_of_the_deployment_never_overlap(served: Served) -> None:
    from datetime import datetime

    from prefect.deployments import run_deployment

    params = {"poll_interval": 0.05, "preflight": False}
    # A first run sends whatever is still pending, so the two below have little to send.
    drain = run_deployment("sync/sync", parameters=params, timeout=180)
    assert drain.state is not None and drain.state.is_completed()
    # Then each call takes 2.5 s, so a run lasts several of serve's 1-second polls: without
    # the limit, the second run would be picked up and started while the first runs.
    before = served.emulator.state.faults.latency
    served.emulator.state.set_faults(latency=2.5)
    try:
        ids = [run_deployment("sync/sync", parameters=params, timeout=0).id for _ in range(2)]

        def finished() -> list[dict[str, Any]] | None:
            runs = [api(served, "GET", f"/flow_runs/{i}") for i in ids]
            return runs if all(r["state"]["type"] in {"COMPLETED", "FAILED", "CRASHED"}
                               for r in runs) else None

        runs = wait_for(finished, 180, "two sync runs", served.proc, served.log, interval=0.5)
    finally:
        served.emulator.state.set_faults(latency=before)
    assert [r["state"]["type"] for r in runs] == ["COMPLETED", "COMPLETED"]

    def at(value: str) -> datetime:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))

    earlier, later = sorted(runs, key=lambda r: at(r["start_time"]))
    assert at(earlier["end_time"]) <= at(later["start_time"]), "the runs overlapped"
    # The limit, not luck, kept them apart: the later run was due before the earlier one
    # even started, and the earlier one ran through several of serve's polls.
    assert at(later["expected_start_time"]) < at(earlier["start_time"])
    assert (at(earlier["end_time"]) - at(earlier["start_time"])).total_seconds() > 2
    history = [s["name"] for s in api(served, "GET", f"/flow_run_states/?flow_run_id="
                                                   f"{later['id']}")]
    assert history[-1] == "Completed" and "Running" in history


def test_the_password_is_never_shown(served: Served) -> None:
    backfill_run(served)
    password = served.emulator.config.password
    document = api(served, "GET", f"/block_types/slug/dotdigital-credentials/block_documents/"
                                  f"name/{BLOCK_NAME}")
    assert set(document["data"]["api_password"]) == {"*"}  # masked by the server
    assert password not in str(document)
    assert password not in served.log()
    messages: list[str] = []
    while page := api(served, "POST", "/logs/filter", limit=200, offset=len(messages)):
        messages += [entry["message"] for entry in page]
    assert len(messages) > 20
    assert not any(password in message for message in messages)
