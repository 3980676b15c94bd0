"""Each non-2xx answer becomes the right error, carrying Dotdigital's code and details."""

from __future__ import annotations

import pickle

import httpx
import pytest
import respx

from dotsync.dotdigital import (
    AuthenticationError,
    ConflictError,
    DotdigitalClient,
    DotdigitalError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    ValidationError,
)
from tests.dotdigital.fakes import T0, FakeClock, make_client

V3_NOT_FOUND = {
    "errorCode": "contacts:contactNotFound",
    "description": "The following contacts could not be found",
    "details": [{"item": "jo@example.com", "description": "Not found"}],
}


@pytest.mark.parametrize(
    ("status", "body", "cls", "code", "transient"),
    [
        (400, {"errorCode": "contacts:invalidId", "description": "bad"}, ValidationError,
         "contacts:invalidId", False),
        (412, {"errorCode": "contacts:preconditionFailed", "description": "no"},
         ValidationError, "contacts:preconditionFailed", False),
        (401, None, AuthenticationError, None, False),
        (403, {"message": "Forbidden"}, AuthenticationError, None, False),
        (404, V3_NOT_FOUND, NotFoundError, "contacts:contactNotFound", False),
        (404, {"message": "Campaign not found. ERROR_CAMPAIGN_NOT_FOUND"}, NotFoundError,
         "ERROR_CAMPAIGN_NOT_FOUND", False),
        (409, {"errorCode": "contacts:idAlreadyExists", "description": "dup"}, ConflictError,
         "contacts:idAlreadyExists", False),
        (500, None, ServerError, None, True),
        (503, {"message": "down"}, ServerError, None, True),
        (429, {"errorCode": "contacts:tooManyActiveImports", "description": "busy"},
         RateLimitedError, "contacts:tooManyActiveImports", True),
        (403, {"message": "Usage exceeded. ERROR_APIUSAGE_EXCEEDED"}, RateLimitedError,
         "ERROR_APIUSAGE_EXCEEDED", True),
    ],
)
def test_status_maps_to_error_class(
    clock: FakeClock, status: int, body: object, cls: type[DotdigitalError], code: str | None,
    transient: bool,
) -> None:
    client = make_client(clock, max_retries=0)
    with respx.mock(base_url="https://r2-api.dotdigital.com") as api:
        route = api.get("/contacts/v3/email/jo%40example.com")
        route.respond(status, json=body) if body is not None else route.respond(status)
        with pytest.raises(cls) as info:
            client.get_contact("email", "jo@example.com")
    err = info.value
    assert type(err) is cls
    assert err.status == status
    assert err.error_code == code
    assert err.transient is transient
    assert err.operation == "get_contact"
    assert "jo@example.com" not in str(err)  # the path in the message is masked
    assert "j***@example.com" in str(err)


def test_v3_details_are_kept_but_not_in_the_message(client: DotdigitalClient,
                                                    api: respx.MockRouter) -> None:
    api.get(url__regex=r"/contacts/v3/email/.*").respond(404, json=V3_NOT_FOUND)
    with pytest.raises(NotFoundError) as info:
        client.get_contact("email", "jo@example.com")
    assert info.value.details == V3_NOT_FOUND["details"]
    assert info.value.description == V3_NOT_FOUND["description"]
    assert "could not be found" in str(info.value)


def test_authentication_error_hints_at_credentials_and_region(
    client: DotdigitalClient, api: respx.MockRouter
) -> None:
    api.get("/v2/account-info").respond(403)
    with pytest.raises(AuthenticationError) as info:
        client.account_info()
    text = str(info.value)
    assert "DOTDIGITAL_API_PASSWORD" in text and "region" in text


def test_rate_limit_error_carries_headers(clock: FakeClock) -> None:
    client = make_client(clock, max_retries=0)
    with respx.mock(base_url="https://r2-api.dotdigital.com") as api:
        api.get("/v2/account-info").respond(429, headers={
            "X-RateLimit-Limit": "35", "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(T0 + 42)), "X-RateLimit-Scope": "account",
        }, json={"errorCode": "rateLimited", "description": "slow down"})
        with pytest.raises(RateLimitedError) as info:
            client.account_info()
    err = info.value
    assert (err.limit, err.remaining, err.scope) == (35, 0, "account")
    assert err.reset_at is not None and err.reset_at.timestamp() == T0 + 42


def test_non_json_error_body_is_summarised(client: DotdigitalClient,
                                           api: respx.MockRouter) -> None:
    api.get("/v2/campaigns/5").respond(400, text="<html>Bad Request</html>")
    with pytest.raises(ValidationError, match="Bad Request"):
        client.get_campaign(5)


def test_non_json_success_body_is_an_error(client: DotdigitalClient,
                                           api: respx.MockRouter) -> None:
    api.get("/v2/campaigns/5").respond(200, text="<html>maintenance</html>")
    with pytest.raises(DotdigitalError, match="not JSON"):
        client.get_campaign(5)


def test_redirects_are_not_followed(client: DotdigitalClient, api: respx.MockRouter) -> None:
    api.get("/v2/campaigns/5").respond(302, headers={"Location": "https://evil.example/"})
    with pytest.raises(DotdigitalError) as info:
        client.get_campaign(5)
    assert info.value.status == 302
    assert len(api.calls) == 1


def test_errors_survive_pickling(client: DotdigitalClient, api: respx.MockRouter) -> None:
    api.get(url__regex=r"/contacts/v3/email/.*").respond(404, json=V3_NOT_FOUND)
    with pytest.raises(NotFoundError) as info:
        client.get_contact("email", "jo@example.com")
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is NotFoundError
    assert (copy.status, copy.error_code, str(copy)) == (404, "contacts:contactNotFound",
                                                         str(info.value))


def test_delete_missing_ok(client: DotdigitalClient, api: respx.MockRouter) -> None:
    api.delete(url__regex=r"/contacts/v3/email/.*").respond(404, json=V3_NOT_FOUND)
    client.delete_contact("email", "jo@example.com", missing_ok=True)
    with pytest.raises(NotFoundError):
        client.delete_contact("email", "jo@example.com")


def test_unexpected_status_is_a_plain_dotdigital_error(client: DotdigitalClient,
                                                       api: respx.MockRouter) -> None:
    api.get("/v2/campaigns/5").mock(return_value=httpx.Response(304))
    with pytest.raises(DotdigitalError) as info:
        client.get_campaign(5)
    assert type(info.value) is DotdigitalError
    assert info.value.transient is False
