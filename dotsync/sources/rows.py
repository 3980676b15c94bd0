"""Staging-row helpers shared by the mappings: the ``lines`` JSON text.

Amounts inside ``lines`` are written as JSON numbers with exactly the digits of the
platform's ``Decimal`` (``199.00`` stays ``199.00``), not through ``float``.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any


def lines_json(lines: list[dict[str, Any]]) -> str:
    """``[{name, quantity, sku?, categories?, unit_price}, …]`` as compact JSON text.

    ``unit_price`` is decimal text from :func:`dotsync.sources.base.money_text`; it is
    written as a bare JSON number so the exact digits reach the store. Built by hand
    (strings through the C encoder) because it runs once per order.
    """
    parts = []
    for line in lines:
        out = []
        for key, value in line.items():
            if key == "unit_price":
                continue
            if type(value) is str:
                out.append(f'"{key}":{_enc(value)}')
            elif type(value) is int:
                out.append(f'"{key}":{value}')
            else:
                out.append(f'"{key}":{json.dumps(value, ensure_ascii=False, separators=_SEP)}')
        price = line.get("unit_price")
        out.append(f'"unit_price":{"null" if price is None else price}')
        parts.append("{" + ",".join(out) + "}")
    return "[" + ",".join(parts) + "]"


_SEP = (",", ":")
_enc = encode_basestring
#: A string as JSON text (non-ASCII kept), for mappings that write ``lines`` directly.
encode_text = encode_basestring
