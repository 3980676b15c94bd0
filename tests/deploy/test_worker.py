"""The other way to run dotsync: ``prefect deploy --all`` with the project's
``prefect.yaml`` onto a process work pool, and ``prefect worker start`` picking up a
run triggered through the API. A Prefect server of its own, so these deployments do
not replace the ones ``dotsync serve`` made for the other tests."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from dotsync.emulator import EmulatorConfig, EmulatorServer
from tests.deploy.conftest import (
    REPO,
    Processes,
    dotsync_env,
    run_cli,
    staging_store,
    start_prefect_server,
    wait_for,
)

pytestmark = pytest.mark.e2e


def test_prefect_deploy_and_a_worker_run_the_sync(processes: Processes, tmp_path: Path) -> None:
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    server = start_prefect_server(processes, "worker-server")
    run_cli(server, "work-pool", "create", "dotsync", "--type", "process")
    deployed = run_cli(server, "deploy", "--all", cwd=REPO)
    assert deployed.stdout.count("successfully created") == 7, deployed.stdout

    listed = httpx.post(f"{server.api_url}/deployments/filter", json={}, timeout=10).json()
    by_name = {d["name"]: d for d in listed}
    assert set(by_name) == {"sync", "backfill", "replay", "consent", "reconcile", "catalog",
                            "carts"}
    assert by_name["sync"]["parameters"] == {
        "preflight": True, "entities": ["contacts", "orders", "certificates"]}
    assert by_name["catalog"]["parameters"] == {"preflight": True, "entities": ["products"]}
    assert [s["schedule"]["interval"] for s in by_name["catalog"]["schedules"]] == [3600.0]
    for deployment in listed:
        assert deployment["work_pool_name"] == "dotsync"
        # No path of the deploying machine: the flows load from the installed package.
        assert not deployment["pull_steps"]
        flow = "sync" if deployment["name"] == "catalog" else deployment["name"]
        assert deployment["entrypoint"] == f"dotsync.flows.{flow}.{flow}"
        assert deployment["global_concurrency_limit"]["limit"] == 1
        assert deployment["concurrency_options"]["collision_strategy"] == "ENQUEUE"
    assert [s["schedule"]["interval"] for s in by_name["sync"]["schedules"]] == [900.0]
    assert by_name["backfill"]["schedules"] == by_name["replay"]["schedules"] == []
    assert [s["schedule"]["cron"] for s in by_name["reconcile"]["schedules"]] == ["30 3 * * *"]
    assert [s["schedule"]["interval"] for s in by_name["carts"]["schedules"]] == [300.0]
    assert by_name["carts"]["parameters"] == {"preflight": True}

    # The worker runs elsewhere, in a folder of its own (no checkout, no dotsync.toml).
    # Credentials come from the environment here (no block): the fallback.
    folder = tmp_path / "worker"
    folder.mkdir()
    from dotsync.emulator.structure import seed_with_fields
    from dotsync.samples import DATA_FIELDS

    seed = seed_with_fields(*DATA_FIELDS)  # the sample shop's account has its data fields
    with EmulatorServer(EmulatorConfig(import_delay=0.05, seed=seed)) as emulator:
        database_url = staging_store(tmp_path)
        env = dotsync_env(server, emulator, database_url, credentials=True)
        # The staging database comes from Prefect (a Secret block), not the worker's
        # environment: a worker on another host needs only PREFECT_API_URL for it.
        del env["DOTSYNC_DATABASE_URL"]
        from prefect.blocks.system import Secret

        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            Secret(value=database_url).save("dotsync-database-url")
        worker = processes.start(
            "worker", [sys.executable, "-m", "prefect", "worker", "start", "--pool", "dotsync"],
            env, cwd=folder)
        wait_for(lambda: "started" in processes.log("worker"), 60, "prefect worker start",
                 worker, lambda: processes.log("worker"))

        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            flow_run = run_deployment("sync/sync",
                                      parameters={"poll_interval": 0.05, "preflight": False},
                                      timeout=120, poll_interval=0.5)
        log = processes.log("worker")
        assert flow_run.state.is_completed(), f"{flow_run.state}\n{log[-4000:]}"
        assert len(emulator.state.contacts()) >= 50
        assert len(emulator.state.insight_records("Purchases")) >= 100
        assert emulator.config.password not in log
        processes.stop(worker)

    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        run_ids = {r[0] for r in conn.execute(sa.text("SELECT run_id FROM runs"))}
    engine.dispose()
    assert run_ids == {str(flow_run.id)}
    processes.stop(server.proc)
