"""One mobile number, one contact (SPEC §1): Dotdigital refuses a number another contact
holds ("Duplicate identifier detected for mobileNumber"), so a number several contacts
share goes to one of them only, and the others are sent without it, with a warning.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd
from dotsync.data_contracts.result import WARNING_COLUMNS, empty_warnings

from dotsync.masking import mask_phone


def share_mobile_numbers(
    contacts: pd.DataFrame, refused: Collection[str] = ()
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``contacts`` (from :func:`~dotsync.data_contracts.customers.merge_customers`) with each
    mobile number kept on one contact only, and the warnings of the others.

    The number stays with the contact identified by it (a contact without an e-mail),
    else with the most recently updated contact (ties: the smallest ``customer_id``);
    the others are sent without it. ``refused`` names contacts (by e-mail) whose number
    Dotdigital said belongs to another contact: theirs is left out too. Warnings are
    keyed by the contact's ``customer_id``.
    """
    if contacts.empty or "mobile_number" not in contacts:
        return contacts, empty_warnings()
    mobile = contacts["mobile_number"].to_numpy(dtype=object)
    email = contacts["email"].to_numpy(dtype=object)
    has_mobile = ~pd.isna(mobile)
    has_email = ~pd.isna(email)
    if not has_mobile.any():
        return contacts, empty_warnings()
    pos = np.flatnonzero(has_mobile)
    ids = contacts["customer_id"].astype(str).to_numpy(dtype=object)
    frame = pd.DataFrame({
        "pos": pos, "mobile": mobile[pos], "by_number": ~has_email[pos],
        "updated": contacts["updated_at"].to_numpy()[pos], "cid": ids[pos]})
    frame = frame.sort_values(["mobile", "by_number", "updated", "cid"],
                              ascending=[True, False, False, True], kind="stable")
    holder = frame.drop_duplicates("mobile")
    holder_of = dict(zip(holder["mobile"], holder["cid"], strict=True))
    losers = frame[~frame["pos"].isin(holder["pos"]) & ~frame["by_number"]]
    keys: list[str] = []
    values: list[str] = []
    reasons: list[str] = []
    checks: list[str] = []
    rows: list[int] = []
    for p, number, cid in zip(losers["pos"], losers["mobile"], losers["cid"], strict=True):
        rows.append(int(p))
        keys.append(cid)
        values.append(mask_phone(number))
        checks.append("shared")
        reasons.append(f"mobile_number {mask_phone(number)!r} is also given to customer "
                       f"{holder_of[number]!r}, updated more recently or identified by it; "
                       "Dotdigital keeps a number on one contact only")
    wanted = set(refused)
    if wanted:
        taken = set(rows)
        for p in np.flatnonzero(has_mobile & has_email).tolist():
            if p not in taken and email[p] in wanted:
                rows.append(p)
                keys.append(ids[p])
                values.append(mask_phone(mobile[p]))
                checks.append("duplicate_identifier")
                reasons.append(f"Dotdigital refused mobile_number {mask_phone(mobile[p])!r}: "
                               "another contact in Dotdigital holds it (Duplicate identifier "
                               "detected for mobileNumber)")
    if not rows:
        return contacts, empty_warnings()
    out = contacts.copy()
    column = out["mobile_number"].to_numpy(dtype=object, copy=True)
    column[rows] = None
    out["mobile_number"] = pd.Series(column, index=out.index, dtype=object)
    warnings = pd.DataFrame({
        "key": keys, "field": "mobile_number", "check": checks, "value": values,
        "reason": reasons, "row": list(contacts.index[rows])}, columns=list(WARNING_COLUMNS))
    return out, warnings.astype(object)
