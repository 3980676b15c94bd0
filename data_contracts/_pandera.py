"""pandera's failure cases as the contracts' own rejects.

A contract hands its typed columns to a pandera schema, lazily; what pandera reports
(a column, a check, the row positions) is turned here into one reject per cell, worded
by the contract's templates, and dropped where parsing already refused the value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from dotsync.data_contracts._display import show
from dotsync.data_contracts._values import is_none

if TYPE_CHECKING:
    from dotsync.data_contracts._contract import Run

#: pandera's own names for its built-in failures -> our check names.
_PANDERA_CHECKS = {"not_nullable": "required", "field_uniqueness": "unique"}
#: Report "required" before anything else pandera found on the same cell.
_PRIORITY = {"not_nullable": 0}

#: ``template(column, raw value, row position) -> reason``.
Template = Callable[[str, Any, int], str]


def validate_frame(
    run: Run,
    schema: pa.DataFrameSchema,
    frame: pd.DataFrame,
    templates: Mapping[str, Template],
    names: Mapping[str, str] | None = None,
) -> None:
    """:meth:`Run.validate`: run ``schema`` lazily and report every failure case."""
    try:
        schema.validate(frame, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
    else:
        return
    if cases["index"].isna().any():
        bad = cases[cases["index"].isna()]
        raise RuntimeError(
            f"{run.entity}: schema failed on whole columns (a contract bug): "
            f"{bad[['column', 'check']].to_dict('records')}"
        )
    groups = sorted(
        cases.groupby(["column", "check"], sort=False),
        key=lambda item: _PRIORITY.get(str(item[0][1]), 9),
    )
    for (column, check), group in groups:
        name = str(column)
        error = _PANDERA_CHECKS.get(str(check), str(check))
        ours = (names or {}).get(error, error)
        pos = group["index"].to_numpy(dtype=np.int64)
        pos = np.unique(pos[~run.flagged(name)[pos]])
        if ours == "unique":  # a missing key is reported as required, not as repeated
            pos = pos[~is_none(np.asarray(run.typed[name], dtype=object)[pos])]
        if pos.size == 0:
            continue
        template = templates.get(error) or _default_template(ours)
        raw = run.raw[name]
        run.report(pos, name, ours, raw[pos], [template(name, raw[i], int(i)) for i in pos])


def _default_template(check: str) -> Template:
    def reason(name: str, value: Any, _pos: int) -> str:
        if check == "required":
            return f"{name} is required"
        if check == "unique":
            return f"{name} {show(value)} appears more than once in this batch"
        return f"{name} {show(value)} fails {check}"

    return reason
