"""Go-live checks of the cart, catalogue and program settings, as pure functions for
``dotsync preflight`` and the deployments' preflight to call (issue 16): every configured
program exists and is ``Active`` (Dotdigital refuses enrolments into any other with
``ERROR_PROGRAM_NOT_ACTIVE``, ``programs.yaml``), and every store's catalogue collection
name is valid. Each problem names the setting to change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dotsync.config import Settings
from dotsync.dotdigital.models import Program
from dotsync.sync.catalog_plan import CollectionNameError, collection_names


@dataclass(frozen=True)
class Problem:
    setting: str
    message: str


def configured_programs(settings: Settings) -> dict[str, int]:
    """Every program id the settings name, by the setting (and event) naming it."""
    out: dict[str, int] = {}
    if settings.cart_program_id is not None:
        out["DOTSYNC_CART_PROGRAM_ID"] = settings.cart_program_id
    for event, program_id in settings.programs:
        out[f"DOTSYNC_PROGRAMS {event}"] = program_id
    return out


def program_problems(configured: Mapping[str, int],
                     programs: Mapping[int, Program]) -> list[Problem]:
    """``programs``: the account's programs by id (``list_programs``)."""
    out: list[Problem] = []
    for setting, program_id in sorted(configured.items()):
        program = programs.get(program_id)
        if program is None:
            out.append(Problem(setting, f"{setting}: program {program_id} does not exist in "
                                        "this Dotdigital account"))
        elif not program.active:
            out.append(Problem(setting, f"{setting}: program {program_id} "
                                        f"({program.name!r}) is {program.status}; only an "
                                        "Active program takes enrolments"))
    return out


def catalog_problems(stores: Iterable[str], override: str | None) -> list[Problem]:
    """The stores' catalogue collection names (``catalog_<store>`` or the override)."""
    try:
        collection_names(stores, override)
    except CollectionNameError as exc:
        return [Problem("DOTSYNC_CATALOG_COLLECTION", str(exc))]
    return []
