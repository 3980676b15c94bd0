"""``dotsync source-deployments``: one extract-then-sync deployment per source, in a
file ``prefect deploy --all --prefect-file`` takes, built on the project's own."""

from __future__ import annotations

import inspect
from pathlib import Path

import yaml
from click.testing import CliRunner
from dotsync.deployments.cli import main

REPO = Path(__file__).resolve().parents[2]


def _generate(tmp_path: Path, sources: str | None, env: dict[str, str] | None = None):
    out = tmp_path / "prefect.sources.yaml"
    args = ["source-deployments", "--project-file", str(REPO / "prefect.yaml"), "-o", str(out)]
    if sources is not None:
        args += ["--sources", sources]
    result = CliRunner().invoke(main, args, env=env or {"DOTSYNC_SOURCES": ""})
    return result, out


def test_each_source_gets_the_sync_schedule_pool_and_steps(tmp_path):
    result, out = _generate(tmp_path, None, {
        "DOTSYNC_SOURCES": "shopify:main-shop;adobe-commerce:eu-store:orders,creditmemos"})
    assert result.exit_code == 0, result.output
    project = yaml.safe_load((REPO / "prefect.yaml").read_text())
    sync = next(d for d in project["deployments"] if d["name"] == "sync")
    made = yaml.safe_load(out.read_text())
    assert (made["build"], made["pull"], made["name"]) == (
        project["build"], project["pull"], project["name"])
    by_name = {d["name"]: d for d in made["deployments"]}
    assert set(by_name) == {"extract-main-shop", "extract-eu-store"}
    eu = by_name["extract-eu-store"]
    assert eu["parameters"] == {"preflight": True, "platform": "adobe-commerce",
                                "block_name": "eu-store", "entities": ["orders", "creditmemos"]}
    assert by_name["extract-main-shop"]["parameters"]["entities"] == ["customers", "orders"]
    for d in made["deployments"]:
        assert d["schedules"] == sync["schedules"] and d["work_pool"] == sync["work_pool"]
        assert d["concurrency_limit"] == {"limit": 1, "collision_strategy": "ENQUEUE"}
    assert "&id" not in out.read_text()


def test_the_entrypoint_is_the_extract_flow_and_takes_the_parameters(tmp_path):
    result, out = _generate(tmp_path, "commercetools:ct")
    assert result.exit_code == 0, result.output
    (deployment,) = yaml.safe_load(out.read_text())["deployments"]
    from dotsync.flows.extract import extract_source
    from prefect.flows import load_flow_from_entrypoint

    # A module path: what a worker on any host with the package installed can load.
    assert load_flow_from_entrypoint(deployment["entrypoint"]) is extract_source
    inspect.signature(extract_source.fn).bind(**deployment["parameters"])


def test_no_source_or_a_bad_one_is_refused_with_the_reason(tmp_path):
    result, out = _generate(tmp_path, None)
    assert result.exit_code == 2 and "DOTSYNC_SOURCES" in result.output
    assert not out.exists()
    result, _ = _generate(tmp_path, "magento:eu")
    assert result.exit_code == 2 and "PLATFORM:BLOCK" in result.output
