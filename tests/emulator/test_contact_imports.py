"""Bulk contact imports and bulk deletes: asynchronous, per-record failures, limits."""

from __future__ import annotations

import time

import pytest

from dotsync.emulator import EmulatorConfig, EmulatorServer
from tests.emulator.helpers import by_email, import_body, make_client


def _report(api, import_id: str) -> dict:
    r = api.get(f"/contacts/v3/import/{import_id}")
    assert r.status_code == 200
    return r.json()


def test_import_creates_and_updates(api) -> None:
    api.patch("/contacts/v3/email/old@example.com", json={"dataFields": {"FIRSTNAME": "A"}})
    r = api.put("/contacts/v3/import", json=import_body(
        by_email("old@example.com", dataFields={"FIRSTNAME": "B"}),
        by_email("new@example.com", dataFields={"FIRSTNAME": "C"},
                 channelProperties={"email": {"emailType": "plainText",
                                              "optInType": "double",
                                              "status": "subscribed"}}),
    ))
    assert r.status_code == 202
    report = _report(api, r.json()["importId"])
    assert report["status"] == "Finished"
    assert report["summary"] == {"newContacts": 1, "updatedContacts": 1, "globallySuppressed": 0,
                                 "invalidEntries": 0, "duplicateIdentifiers": 0}
    assert [c["identifiers"]["email"] for c in report["created"]] == ["new@example.com"]
    assert [c["identifiers"]["email"] for c in report["updated"]] == ["old@example.com"]
    assert report["failures"] == []
    new = api.get("/contacts/v3/email/new@example.com").json()
    assert new["channelProperties"]["email"] == {"emailType": "PlainText",
                                                 "optInType": "Double", "status": "subscribed"}
    assert api.get("/contacts/v3/email/old@example.com").json()["dataFields"]["FIRSTNAME"] == "B"


def test_mixed_valid_and_invalid_records(api) -> None:
    r = api.put("/contacts/v3/import", json=import_body(
        by_email("ok@example.com"),
        by_email("not-an-email"),
        {"matchIdentifier": "email",
         "identifiers": {"email": "phone@example.com", "mobileNumber": "07123 123123"}},
        by_email("OK@example.com"),                        # same address again
        {"matchIdentifier": "mobileNumber", "identifiers": {"email": "x@example.com"}},
        {"matchIdentifier": "email", "identifiers": {}},
        {"matchIdentifier": "mobileNumber", "identifiers": {"mobileNumber": "+447123123123"}},
    ))
    report = _report(api, r.json()["importId"])
    codes = {f["identifiers"].get("email", f["identifiers"].get("mobileNumber", "-")):
             [x["failureCode"] for x in f["failures"]] for f in report["failures"]}
    assert codes == {"not-an-email": ["InvalidEmail"],
                     "phone@example.com": ["InvalidPhoneNumber"],
                     "OK@example.com": ["Duplicate"],
                     "x@example.com": ["NoValidIdentifiers"],
                     "-": ["NoValidIdentifiers"]}
    assert report["summary"]["newContacts"] == 2
    assert report["summary"]["invalidEntries"] == 4
    assert report["summary"]["duplicateIdentifiers"] == 1
    # valid records were applied, invalid ones were not
    assert api.get("/contacts/v3/email/ok@example.com").status_code == 200
    assert api.get("/contacts/v3/mobileNumber/447123123123").status_code == 200
    assert api.get("/contacts/v3/email/phone@example.com").status_code == 404


def test_identifier_conflict_in_an_import_fails_that_record(api) -> None:
    api.patch("/contacts/v3/email/a@example.com",
              json={"identifiers": {"mobileNumber": "447123123123"}})
    r = api.put("/contacts/v3/import", json=import_body(
        {"matchIdentifier": "email",
         "identifiers": {"email": "b@example.com", "mobileNumber": "447123123123"}}))
    report = _report(api, r.json()["importId"])
    assert report["failures"][0]["failures"][0]["failureCode"] == "Duplicate"
    # Worded as the contacts spec's getImportStatus example words a duplicate identifier
    # ("Duplicate identifier detected for email 'emma@emailsim.io'"), and counted there.
    assert report["failures"][0]["failures"][0]["description"] == (
        "Duplicate identifier detected for mobileNumber '447123123123'")
    assert report["summary"]["duplicateIdentifiers"] == 1
    assert api.get("/contacts/v3/email/b@example.com").status_code == 404


def test_suppressed_contacts_in_an_import_are_updated_not_resubscribed(api) -> None:
    r = api.put("/contacts/v3/import", json=import_body(
        by_email("unsubscribed@example.com", dataFields={"FIRSTNAME": "U"},
                 channelProperties={"email": {"status": "subscribed"}})))
    report = _report(api, r.json()["importId"])
    assert report["summary"]["globallySuppressed"] == 1
    contact = api.get("/contacts/v3/email/unsubscribed@example.com").json()
    assert contact["channelProperties"]["email"]["status"] == "unsubscribed"
    assert contact["dataFields"] == {"FIRSTNAME": "U"}


@pytest.mark.parametrize(("merge", "expected"), [("overwrite", None),
                                                  ("overwriteIfNotEmpty", "Jo"),
                                                  ("overwriteIfEmpty", "Jo")])
def test_import_merge_options(api, merge: str, expected: str | None) -> None:
    api.patch("/contacts/v3/email/jo@example.com", json={"dataFields": {"FIRSTNAME": "Jo"}})
    r = api.put("/contacts/v3/import", json=import_body(
        by_email("jo@example.com", dataFields={"FIRSTNAME": None}), merge=merge))
    _report(api, r.json()["importId"])
    fields = api.get("/contacts/v3/email/jo@example.com").json()["dataFields"]
    assert fields.get("FIRSTNAME") == expected


def test_records_are_applied_only_when_the_import_finishes() -> None:
    with EmulatorServer(EmulatorConfig(import_delay=0.4)) as server, \
            make_client(server) as api:
        r = api.put("/contacts/v3/import", json=import_body(by_email("later@example.com")))
        import_id = r.json()["importId"]
        assert _report(api, import_id) == {"importId": import_id, "status": "NotFinished"}
        assert api.get("/contacts/v3/email/later@example.com").status_code == 404
        time.sleep(0.5)
        assert api.get("/contacts/v3/email/later@example.com").status_code == 200
        assert _report(api, import_id)["status"] == "Finished"


def test_at_most_25_active_contact_imports() -> None:
    with EmulatorServer(EmulatorConfig(import_delay=60)) as server, \
            make_client(server) as api:
        for i in range(25):
            r = api.put("/contacts/v3/import", json=import_body(by_email(f"c{i}@example.com")))
            assert r.status_code == 202
        r = api.put("/contacts/v3/import", json=import_body(by_email("late@example.com")))
        assert r.status_code == 429
        assert r.json()["errorCode"] == "contacts:tooManyActiveImports"
        assert len(server.state.imports()) == 25
        server.state.complete_imports()
        r = api.put("/contacts/v3/import", json=import_body(by_email("late@example.com")))
        assert r.status_code == 202


def test_import_limit_is_configurable() -> None:
    with EmulatorServer(EmulatorConfig(import_delay=60, max_contact_imports=1)) as server, \
            make_client(server) as api:
        assert api.put("/contacts/v3/import",
                       json=import_body(by_email("a@example.com"))).status_code == 202
        assert api.put("/contacts/v3/import",
                       json=import_body(by_email("b@example.com"))).status_code == 429


@pytest.mark.parametrize(("body", "item"), [
    ({"contacts": []}, "contacts"),
    ({}, "contacts"),
    ({"mergeOption": "overwrite-if-empty", "contacts": [by_email("a@example.com")]},
     "mergeOption"),
    (import_body(by_email("a@example.com",
                          channelProperties={"email": {"emailType": "Html"}})),
     "contacts[0].channelProperties.email.emailType"),
    (import_body({"identifiers": {"email": "a@example.com"}}), "contacts[0].matchIdentifier"),
    (import_body(by_email("a@example.com", dataFields={"TOO-LONG-NAME-FOR-DD1": 1})),
     "contacts[0].dataFields.TOO-LONG-NAME-FOR-DD1"),
])
def test_import_request_validation(api, body: dict, item: str) -> None:
    r = api.put("/contacts/v3/import", json=body)
    assert r.status_code == 400
    assert item in [d["item"] for d in r.json()["details"]]


def test_import_not_a_json_object(api) -> None:
    r = api.put("/contacts/v3/import", json=[by_email("a@example.com")])
    assert r.status_code == 400
    assert r.json()["errorCode"] == "contacts:badJson"


def test_unknown_import_is_404(api) -> None:
    r = api.get("/contacts/v3/import/d7de900d-d337-43f6-b1e1-c8ec73e1a434")
    assert r.status_code == 404
    assert r.json()["errorCode"] == "contacts:importNotFound"


# ------------------------------------------------------------------ bulk delete
def test_bulk_delete(api, emulator) -> None:
    api.patch("/contacts/v3/email/a@example.com", json={})
    api.patch("/contacts/v3/email/b@example.com", json={})
    r = api.post("/contacts/v3/delete", json=[{"email": "a@example.com"},
                                              {"email": "nobody@example.com"},
                                              {"email": "bad@@example"}])
    assert r.status_code == 202
    delete_id = r.json()["deleteId"]
    status = api.get(f"/contacts/v3/delete/{delete_id}").json()
    assert status["status"] == "Finished"
    assert status["summary"] == {"requestedContacts": 3, "deletedContacts": 1,
                                 "unknownContacts": 1, "invalidEntries": 1}
    assert status["deleted"] == [{"email": "a@example.com"}]
    assert [c["identifiers"]["email"] for c in emulator.state.contacts()] == ["b@example.com"]


@pytest.mark.parametrize("body", [[], {"email": "a@example.com"}, [{"shoeSize": 4}],
                                  [{"email": "a@example.com", "contactId": 1}]])
def test_bulk_delete_validation(api, body) -> None:
    assert api.post("/contacts/v3/delete", json=body).status_code == 400


def test_bulk_delete_status_unknown(api) -> None:
    assert api.get("/contacts/v3/delete/nope").status_code == 404


@pytest.mark.parametrize("bad", [[], {}, ["Html"], {"a": 1}, 1, None])
def test_an_enum_given_a_list_or_object_is_a_400_naming_the_field(emulator, bad) -> None:
    import httpx

    with httpx.Client(base_url=emulator.url,
                      auth=(emulator.config.user, emulator.config.password)) as raw:
        single = raw.patch("/contacts/v3/email/jo@example.com",
                           json={"channelProperties": {"email": {"emailType": bad}}})
        assert single.status_code == 400, single.text
        assert "emailType" in single.text
        bulk = raw.put("/contacts/v3/import", json={"contacts": [
            {"matchIdentifier": bad, "identifiers": {"email": "a@example.com"}},
            {"matchIdentifier": "email", "identifiers": {"email": "b@example.com"},
             "channelProperties": {"email": {"optInType": bad}}}]})
        assert bulk.status_code == 400, bulk.text
        assert "matchIdentifier" in bulk.text and "optInType" in bulk.text
