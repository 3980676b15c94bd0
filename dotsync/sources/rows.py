"""Staging-row helpers shared by the mappings: the ``lines`` JSON text.

Amounts inside ``lines`` are written as JSON numbers with exactly the digits of the
platform's ``Decimal`` (``199.00`` stays ``199.00``), not through ``float``.
"""

from __future__ import annotations

import json
from typing import Any


def lines_json(lines: list[dict[str, Any]]) -> str:
    """``[{name, quantity, unit_price, sku?, categories?}, …]`` as compact JSON text.

    ``unit_price`` is decimal text from :func:`dotsync.sources.base.money_text`; it is
    written as a bare JSON number so the exact digits reach the store.
    """
    parts = []
    for line in lines:
        rest = {k: v for k, v in line.items() if k != "unit_price"}
        body = json.dumps(rest, ensure_ascii=False, separators=(",", ":"))
        price = line.get("unit_price")
        price_json = "null" if price is None else str(price)
        parts.append(f'{body[:-1]},"unit_price":{price_json}}}' if rest
                     else f'{{"unit_price":{price_json}}}')
    return "[" + ",".join(parts) + "]"
