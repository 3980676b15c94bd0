"""The base of the operation groups: each operation is a thin method over one
:meth:`~.transport.Transport.request`, so every one gets the same allow-list, pacing,
retries and error mapping."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from dotsync.dotdigital.errors import DotdigitalError
from dotsync.dotdigital.retry import IDEMPOTENT, Kind
from dotsync.dotdigital.slots import HeldImports
from dotsync.dotdigital.transport import Transport, decode_json

__all__ = ["Resource"]


class Resource:
    """Mixed into :class:`~.client.DotdigitalClient`, which sets ``_transport``."""

    _transport: Transport
    _imports: HeldImports  # import slots held (:mod:`.slots`)

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        kind: Kind = IDEMPOTENT,
    ) -> httpx.Response:
        return self._transport.request(operation, method, path, params=params, body=body,
                                       kind=kind)

    def _json(self, response: httpx.Response, operation: str) -> Any:
        return decode_json(response, operation)

    def _json_list(self, response: httpx.Response, operation: str) -> list[Any]:
        """A JSON array body (an empty body reads as ``[]``)."""
        body = self._json(response, operation) or []
        if not isinstance(body, list):
            raise DotdigitalError(f"{operation}: expected a JSON array",
                                  status=response.status_code, operation=operation)
        return body

    def _import_id(self, response: httpx.Response, operation: str, field: str) -> str:
        """The id of the job a submission started (``importId``, ``deleteId``)."""
        body = self._json(response, operation)
        value = body.get(field) if isinstance(body, Mapping) else None
        if not value:
            raise DotdigitalError(f"{operation}: Dotdigital accepted the request but returned"
                                  f" no {field}", status=response.status_code,
                                  operation=operation)
        return str(value)

    def _v2_pages(self, operation: str, path: str, page_size: int) -> Iterator[Any]:
        """v2 ``select``/``skip`` paging: stop at the first short page.

        The first page is requested without ``skip``: the campaigns spec declares
        ``skip`` with ``minimum: 1``.
        """
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be between 1 and 1000")
        skip = 0
        while True:
            params: dict[str, Any] = {"select": page_size}
            if skip:
                params["skip"] = skip
            page = self._json_list(self._call(operation, "GET", path, params=params),
                                   operation)
            yield from page
            if len(page) < page_size:
                return
            skip += page_size
