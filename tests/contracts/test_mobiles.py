"""One mobile number, one contact (SPEC §1): share_mobile_numbers."""

from __future__ import annotations

import pandas as pd
from dotsync.data_contracts.mobiles import share_mobile_numbers
from hypothesis import given, settings
from hypothesis import strategies as st

from dotsync.sync.steps.contact_import import mobile_conflict as _mobile_conflict
from dotsync.sync.steps.contact_import import mobile_failure as _mobile_failure

NUMBERS = ["+447911123456", "+447911123457", "+33612345678"]


def _contacts(rows: list[tuple[str, str | None, str | None, int]]) -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": [r[0] for r in rows],
        "email": pd.Series([r[1] for r in rows], dtype=object),
        "mobile_number": pd.Series([r[2] for r in rows], dtype=object),
        "updated_at": pd.to_datetime([r[3] for r in rows], unit="D", utc=True),
    })


def test_the_most_recently_updated_contact_keeps_the_number() -> None:
    contacts = _contacts([("C1", "a@x.com", NUMBERS[0], 1), ("C2", "b@x.com", NUMBERS[0], 3),
                          ("C3", "c@x.com", NUMBERS[0], 2), ("C4", "d@x.com", NUMBERS[1], 1)])
    out, warnings = share_mobile_numbers(contacts)
    assert out["mobile_number"].tolist() == [None, NUMBERS[0], None, NUMBERS[1]]
    assert sorted(warnings["key"]) == ["C1", "C3"]
    assert set(warnings["check"]) == {"shared"} and set(warnings["field"]) == {"mobile_number"}
    assert all("7911" not in r and "'C2'" in r for r in warnings["reason"])
    assert contacts["mobile_number"].tolist()[0] == NUMBERS[0]  # the input is not changed


def test_a_contact_identified_by_its_number_keeps_it() -> None:
    contacts = _contacts([("C1", None, NUMBERS[0], 1), ("C2", "b@x.com", NUMBERS[0], 9)])
    out, warnings = share_mobile_numbers(contacts)
    assert out["mobile_number"].tolist() == [NUMBERS[0], None]
    assert warnings["key"].tolist() == ["C2"]


def test_ties_go_to_the_smallest_customer_id() -> None:
    contacts = _contacts([("C9", "a@x.com", NUMBERS[0], 1), ("C10", "b@x.com", NUMBERS[0], 1)])
    out, _ = share_mobile_numbers(contacts)
    assert out.set_index("customer_id")["mobile_number"].to_dict() == {
        "C10": NUMBERS[0], "C9": None}


def test_numbers_dotdigital_refused_are_left_out() -> None:
    contacts = _contacts([("C1", "a@x.com", NUMBERS[0], 1), ("C2", "b@x.com", NUMBERS[1], 1)])
    out, warnings = share_mobile_numbers(contacts, refused={"b@x.com"})
    assert out["mobile_number"].tolist() == [NUMBERS[0], None]
    assert warnings[["key", "check"]].values.tolist() == [["C2", "duplicate_identifier"]]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.sampled_from([None, *NUMBERS]),
                          st.integers(0, 3)), max_size=12))
def test_every_number_ends_on_one_contact_at_most(rows: list) -> None:
    contacts = _contacts([(f"C{i}", None if no_email and number else f"c{i}@x.com", number, day)
                          for i, (no_email, number, day) in enumerate(rows)])
    # merge_customers has already made contacts keyed by a number unique per number.
    contacts = contacts[contacts["email"].notna()
                        | ~contacts.duplicated("mobile_number")].reset_index(drop=True)
    out, warnings = share_mobile_numbers(contacts)
    kept = out["mobile_number"].dropna()
    assert kept.is_unique
    given_numbers = set(contacts["mobile_number"].dropna())
    assert set(kept) == given_numbers  # every number still reaches one contact
    assert len(warnings) == contacts["mobile_number"].notna().sum() - len(kept)
    identified = out[out["email"].isna()]
    assert identified["mobile_number"].notna().all()
    for number in given_numbers:
        holders = contacts[contacts["mobile_number"] == number]
        holder = out.loc[out["mobile_number"] == number].iloc[0]
        if holders["email"].notna().all():
            assert holder["updated_at"] == holders["updated_at"].max()


def test_dotdigital_answers_that_mean_the_number_is_taken() -> None:
    assert _mobile_failure("Duplicate", "Duplicate identifier detected for mobileNumber '44…'")
    assert _mobile_failure("duplicateIdentifier", None)
    assert not _mobile_failure("Duplicate", "Duplicate identifier detected for email 'a@b.c'")
    assert not _mobile_failure("InvalidPhoneNumber", "mobileNumber")
    payload = {"matchIdentifier": "email", "identifiers": {"email": "a@b.c",
                                                           "mobileNumber": "447911123456"}}
    message = ("The id value '447911123456' for the identifier 'mobileNumber' already "
               "exists. All identifiers must be unique!")
    assert _mobile_conflict(payload, "contacts:idAlreadyExists", message)
    by_number = {**payload, "matchIdentifier": "mobileNumber"}
    assert not _mobile_conflict(by_number, "contacts:idAlreadyExists", message)
    assert not _mobile_conflict({**payload, "identifiers": {"email": "a@b.c"}}, None, message)
