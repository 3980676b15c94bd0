"""The password (and its base64 form) never shows: not in logs, errors, tracebacks or reprs."""

from __future__ import annotations

import logging
import pickle
import traceback
from collections.abc import Callable

import httpx
import pytest
import respx

from dotsync.dotdigital import DotdigitalClient, DotdigitalError, HostNotAllowedError
from tests.dotdigital.fakes import BASIC_TOKEN, PASSWORD, R2, FakeClock, make_client

SECRETS = (PASSWORD, BASIC_TOKEN)


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def raised_text(exc: BaseException) -> str:
    """Everything a crash report could show: message, repr, full chained traceback."""
    parts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    cause = exc.__cause__ or exc.__context__
    while cause is not None:
        parts += [str(cause), repr(cause), repr(vars(cause)) if hasattr(cause, "__dict__")
                  else ""]
        cause = cause.__cause__ or cause.__context__
    parts.append(repr(vars(exc)))
    return "\n".join(parts)


SCENARIOS: dict[str, tuple[Callable[[respx.MockRouter], object],
                           Callable[[DotdigitalClient], object]]] = {
    "401": (lambda api: api.get("/v2/account-info").respond(401),
            lambda c: c.account_info()),
    "403-echoing-auth": (
        lambda api: api.get("/v2/account-info").respond(
            403, json={"message": f"bad Authorization: Basic {BASIC_TOKEN} ({PASSWORD})"}),
        lambda c: c.account_info()),
    "500-after-retries": (lambda api: api.get("/v2/account-info").respond(500),
                          lambda c: c.account_info()),
    "read-error": (lambda api: api.get("/v2/account-info").mock(
        side_effect=httpx.ReadError(f"reset while sending Basic {BASIC_TOKEN}")),
                   lambda c: c.account_info()),
    "connect-error": (lambda api: api.get("/v2/account-info").mock(
        side_effect=httpx.ConnectError("refused")), lambda c: c.account_info()),
    "send-unknown": (lambda api: api.post("/v2/email/triggered-campaign").mock(
        side_effect=httpx.RemoteProtocolError("Server disconnected")),
                     lambda c: c.send_triggered_campaign(1, "jo@example.com", {"A": "b"})),
    "404-contact": (lambda api: api.get(url__regex=r"/contacts/v3/email/.*").respond(
        404, json={"errorCode": "contacts:contactNotFound", "description":
                   "Contact jo@example.com not found"}),
                    lambda c: c.get_contact("email", "jo@example.com")),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_no_secret_in_logs_errors_or_tracebacks(
    clock: FakeClock, caplog: pytest.LogCaptureFixture, scenario: str
) -> None:
    mock, invoke = SCENARIOS[scenario]
    client = make_client(clock, max_retries=2)
    caplog.set_level(logging.DEBUG)
    with respx.mock(base_url=R2) as api:
        mock(api)
        with pytest.raises(DotdigitalError) as info:
            invoke(client)
    err = info.value
    assert_clean(raised_text(err))
    assert_clean(caplog.text)
    assert_clean(pickle.dumps(err).decode("latin-1"))
    assert "jo@example.com" not in caplog.text
    assert "jo@example.com" not in str(err)
    # No httpx exception (whose .request carries the Authorization header) is chained.
    assert err.__cause__ is None and err.__context__ is None


def test_calls_are_logged_with_masked_paths(client: DotdigitalClient, api: respx.MockRouter,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="dotsync.dotdigital")
    api.patch(url__regex=r"/contacts/v3/email/.*").respond(201, json={"contactId": 1})
    api.get(url__regex=r"/contacts/v3/mobileNumber/.*").respond(200, json={"contactId": 1})
    client.upsert_contact({"identifiers": {"email": "jo.smith+x@example.com"}})
    client.get_contact("mobileNumber", "+447700900123")
    messages = [r.getMessage() for r in caplog.records if r.name == "dotsync.dotdigital"]
    assert any("PATCH /contacts/v3/email/j***@example.com -> 201" in m for m in messages)
    assert any("/contacts/v3/mobileNumber/***23 -> 200" in m for m in messages)
    assert "jo.smith" not in caplog.text and "7700900" not in caplog.text
    assert_clean(caplog.text)


def test_reprs_hide_the_password(client: DotdigitalClient) -> None:
    for text in (repr(client), str(client), repr(vars(client)), repr(client._auth),
                 repr(client._http), repr(client._http.headers)):
        assert_clean(text)
    assert "apiuser-demo" not in repr(client)  # the API user is a credential too (SPEC §3)


def test_host_refusal_carries_no_secret(clock: FakeClock) -> None:
    with pytest.raises(HostNotAllowedError) as info:
        make_client(clock, endpoint=f"https://apiuser:{PASSWORD}@r1-api.dotdigital.com")
    assert_clean(raised_text(info.value))


def test_request_headers_repr_is_obfuscated(client: DotdigitalClient,
                                            api: respx.MockRouter) -> None:
    api.get("/v2/account-info").respond(200, json={"id": 1})
    client.account_info()
    request = api.calls.last.request
    assert request.headers["Authorization"] == f"Basic {BASIC_TOKEN}"  # it is sent…
    assert_clean(repr(request.headers))  # …but httpx never shows it
