"""The flows' run forms: the parameter schemas Prefect generates from the signatures.

The UI builds a deployment's run form from this schema (``flow.parameters``, stored as
the deployment's ``parameter_openapi_schema``): an ``enum`` becomes a choice, a
``format`` of ``date`` / ``date-time`` a date picker, ``minimum`` / ``maximum`` bounds,
and a ``$ref`` to a block type a block picker. The server validates a run's values
against the same schema (``prefect.utilities.schema_tools.validate``), and the flow
validates them again with pydantic as the run starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, get_args

import pytest
from dotsync.deployments.credentials import DotdigitalCredentials
from dotsync.flows.backfill import backfill
from dotsync.flows.consent import consent
from dotsync.flows.reconcile import reconcile
from dotsync.flows.replay import REPLAYABLE, LedgerEntity, replay
from dotsync.flows.sync import ALL_ENTITIES, sync
from prefect.exceptions import ParameterTypeError
from prefect.utilities.schema_tools import ValidationError, validate
from pydantic import SecretStr

from dotsync.store.ledger import DERIVED_ENTITIES
from dotsync.store.schema import STAGED_ENTITIES

FLOWS = {"sync": sync, "backfill": backfill, "replay": replay, "consent": consent,
         "reconcile": reconcile}
BLOCK_REF = {"$ref": "#/definitions/DotdigitalCredentials"}


def schema(flow: Any) -> dict[str, Any]:
    return flow.parameters.model_dump()


def prop(flow: Any, name: str) -> dict[str, Any]:
    return schema(flow)["properties"][name]


def choices(flow: Any, name: str) -> list[dict[str, Any]]:
    """The alternatives of an optional parameter (``X | None`` is an ``anyOf``)."""
    p = prop(flow, name)
    return p.get("anyOf", [p])


def test_sync_entities_are_a_list_of_choices() -> None:
    arrays = [c for c in choices(sync, "entities") if c.get("type") == "array"]
    assert arrays == [{"type": "array", "items": {"type": "string", "enum": list(ALL_ENTITIES)}}]
    from dotsync.sync import registry

    assert ALL_ENTITIES == registry.ENTITIES  # the form offers what the registry runs
    assert "products" in ALL_ENTITIES
    assert "carts" in ALL_ENTITIES


def test_replay_entity_is_one_of_the_ledger_entities() -> None:
    assert set(get_args(LedgerEntity)) == {*STAGED_ENTITIES, *DERIVED_ENTITIES} == set(REPLAYABLE)
    enums = [c["enum"] for c in choices(replay, "entity") if "enum" in c]
    assert enums == [list(REPLAYABLE)]
    assert {"type": "null"} in choices(replay, "entity")  # "all of them" is no value


@pytest.mark.parametrize("flow", [backfill, consent], ids=["backfill", "consent"])
def test_since_is_a_date_or_a_time(flow: Any) -> None:
    formats = [c.get("format") for c in choices(flow, "since")]
    assert formats[:2] == ["date", "date-time"]  # the UI shows a date picker first
    assert flow.validate_parameters({"since": "2024-05-01"})["since"].isoformat() == \
        "2024-05-01"
    assert flow.validate_parameters({"since": "2024-05-01T10:30:00"})["since"].isoformat() \
        == "2024-05-01T10:30:00"
    with pytest.raises(ParameterTypeError, match="since"):
        flow.validate_parameters({"since": "last tuesday"})


@pytest.mark.parametrize(("flow", "name", "low", "high"), [
    (sync, "send_batch_size", 1, 1000),
    (sync, "import_max_bytes", 1_000, 50_000_000),
    (backfill, "chunk_rows", 1, 1_000_000),
    (backfill, "import_max_bytes", 1_000, 50_000_000),
    (reconcile, "max_calls", 1, 1_000_000),
    (reconcile, "sample", 0, 100_000),
    (reconcile, "page_size", 1, 1000),
])
def test_sizes_are_bounded_integers(flow: Any, name: str, low: int, high: int) -> None:
    p = prop(flow, name)
    assert (p["type"], p["minimum"], p["maximum"]) == ("integer", low, high)
    assert flow.validate_parameters({name: high})[name] == high
    for bad in (low - 1, high + 1):
        with pytest.raises(ParameterTypeError, match=name):
            flow.validate_parameters({name: bad})
        with pytest.raises(ValidationError, match=name):
            validate({name: bad}, schema(flow), raise_on_error=True)


def test_poll_intervals_and_send_allowances_are_bounded() -> None:
    for flow in (sync, backfill):
        p = prop(flow, "poll_interval")
        assert (p["type"], p["exclusiveMinimum"], p["maximum"]) == ("number", 0, 300)
        allow = [c for c in choices(flow, "allow_sends") if c.get("type") == "integer"]
        assert allow == [{"type": "integer", "minimum": 0}]


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_credentials_are_a_block_picker_or_a_name(name: str) -> None:
    flow = FLOWS[name]
    found = schema(flow)
    assert choices(flow, "credentials_block") == [BLOCK_REF, {"type": "string"},
                                                  {"type": "null"}]
    block = found["definitions"]["DotdigitalCredentials"]
    assert block["block_type_slug"] == "dotdigital-credentials"
    assert block["secret_fields"] == ["api_password"]
    # The server accepts a block document reference (the picker) and a name (what
    # `dotsync serve --credentials-block` and older deployments pass).
    validate({"credentials_block": {"$ref": {"block_document_id":
                                             "0b4c8b2a-2c36-4b43-9bd4-3f1f6f1b8f00"}}},
             found, raise_on_error=True)
    validate({"credentials_block": "dotdigital-prod"}, found, raise_on_error=True)


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_every_parameter_has_a_description(name: str) -> None:
    flow = FLOWS[name]
    props = schema(flow)["properties"]
    missing = [p for p, v in props.items() if not (v.get("description") or "").strip()]
    assert not missing, f"{name}: no description for {missing}"
    assert "DotdigitalCredentials block" in props["credentials_block"]["description"]


def test_a_bad_entity_is_refused_naming_the_parameter_and_the_choices() -> None:
    with pytest.raises(ValidationError) as server:
        validate({"entities": ["contacts", "invoices"]}, schema(sync), raise_on_error=True)
    assert "entities" in str(server.value) and "'invoices'" in str(server.value)
    assert f"is not one of {list(ALL_ENTITIES)}" in str(server.value)
    with pytest.raises(ParameterTypeError) as local:
        sync.validate_parameters({"entities": ["contacts", "invoices"]})
    assert "entities" in str(local.value)
    assert "'contacts', 'orders', 'certificates', 'carts' or 'products'" in str(local.value)

    with pytest.raises(ValidationError) as server:
        validate({"entity": "invoices"}, schema(replay), raise_on_error=True)
    assert "field 'entity'" in str(server.value) and "'invoices' is not one of" in str(
        server.value)
    assert all(e in str(server.value) for e in REPLAYABLE)


@pytest.fixture(scope="module")
def saved_block() -> Iterator[DotdigitalCredentials]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        block = DotdigitalCredentials(api_user="apiuser-forms@apiconnector.com",
                                      api_password=SecretStr("pw-forms-not-to-leak"))
        block.save("forms-test", overwrite=True)
        yield block


def test_a_block_reference_and_a_name_load_the_same_credentials(
        saved_block: DotdigitalCredentials, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the block picker sends (a document reference) reaches the flow as the block;
    a name stays a name and is loaded by ``load_settings``: both give the same user."""
    from dotsync.flows.common import load_settings

    monkeypatch.delenv("DOTSYNC_CREDENTIALS_BLOCK", raising=False)
    block_id = str(saved_block._block_document_id)
    by_ref = sync.validate_parameters({"credentials_block": {"$ref": {
        "block_document_id": block_id}}})["credentials_block"]
    assert isinstance(by_ref, DotdigitalCredentials)
    by_name = sync.validate_parameters({"credentials_block": "forms-test"})[
        "credentials_block"]
    assert by_name == "forms-test"
    for given in (by_ref, by_name):
        settings = load_settings(given)
        assert settings.api_user == "apiuser-forms@apiconnector.com"
        assert settings.api_password is not None
        assert settings.api_password.get_secret_value() == "pw-forms-not-to-leak"


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_prefect_deploy_stores_the_same_form(name: str) -> None:
    """``prefect deploy`` (prefect.yaml) builds the schema from the entrypoint, ``dotsync
    serve`` from the flow object: both forms are the same."""
    from prefect.utilities.callables import parameter_schema_from_entrypoint

    entrypoint = f"flows/{name}.py:{name}"
    assert parameter_schema_from_entrypoint(entrypoint).model_dump() == schema(FLOWS[name])
