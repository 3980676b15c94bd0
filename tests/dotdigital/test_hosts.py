"""The SPEC §3 allow-list: credentials go to Dotdigital (or loopback over http) only."""

from __future__ import annotations

import httpx
import pytest
import respx

from dotsync.dotdigital import DotdigitalClient, HostNotAllowedError, check_endpoint
from tests.dotdigital.fakes import BASIC_TOKEN, PASSWORD, R1, R2, USER, FakeClock, make_client

ALLOWED = {
    "https://r1-api.dotdigital.com": "https://r1-api.dotdigital.com",
    "https://r2-api.dotdigital.com/": "https://r2-api.dotdigital.com",
    "HTTPS://R3-API.DotDigital.COM": "https://r3-api.dotdigital.com",
    "https://r1-api.dotmailer.com": "https://r1-api.dotmailer.com",
    "https://dotdigital.com": "https://dotdigital.com",
    "https://r1-api.dotdigital.com:8443": "https://r1-api.dotdigital.com:8443",
    "http://127.0.0.1:8123": "http://127.0.0.1:8123",
    "http://127.5.6.7": "http://127.5.6.7",
    "http://localhost:9000/": "http://localhost:9000",
    "http://[::1]:9000": "http://[::1]:9000",
}

REFUSED = [
    "https://r1-api.dotdigital.com.evil.example",
    "https://evildotdigital.com",
    "https://dotdigital.com.evil.example/",
    "https://r1-api.dotdigital.co",
    "https://r1-api.dotdigital.com@evil.example",
    "https://user:pw@r1-api.dotdigital.com",
    "https://evil.example#@r1-api.dotdigital.com",
    "https://evil.example?@r1-api.dotdigital.com",
    "https://r1-api.dotdigital.com\\@evil.example",
    "https://evil.example\\.dotdigital.com",
    "https://r1-api.dotdіgital.com",  # Cyrillic і
    "https://r1-api.dotdigital.com.",
    "https://r1-api.dotdigital.com/v2",
    "http://r1-api.dotdigital.com",
    "http://10.0.0.1:8000",
    "http://192.168.1.10",
    "http://localhost.evil.example",
    "http://127.0.0.1.nip.io",
    "https://127.0.0.1",
    "ftp://r1-api.dotdigital.com",
    "r1-api.dotdigital.com",
    "",
    "https://r1-api.dotdigital.com:99999",
    "https:// r1-api.dotdigital.com",
]


@pytest.mark.parametrize(("url", "normalised"), sorted(ALLOWED.items()))
def test_allowed_endpoints(url: str, normalised: str) -> None:
    assert check_endpoint(url) == normalised


@pytest.mark.parametrize("url", REFUSED)
def test_refused_endpoints(url: str) -> None:
    with pytest.raises(HostNotAllowedError):
        check_endpoint(url)


@pytest.mark.parametrize("url", REFUSED[:10])
def test_refusal_never_echoes_userinfo(url: str) -> None:
    with pytest.raises(HostNotAllowedError) as info:
        check_endpoint(url.replace("user:pw", f"user:{PASSWORD}"))
    assert PASSWORD not in str(info.value)


@pytest.mark.parametrize("url", REFUSED[:12])
def test_client_refuses_bad_endpoint_before_sending_anything(clock: FakeClock, url: str) -> None:
    with respx.mock(assert_all_mocked=True) as router:
        with pytest.raises(HostNotAllowedError):
            make_client(clock, endpoint=url)
        assert not router.calls


def test_credentials_go_to_the_configured_endpoint(client: DotdigitalClient,
                                                   api: respx.MockRouter) -> None:
    api.get("/v2/account-info").respond(200, json={"id": 1, "properties": []})
    client.account_info()
    request = api.calls.last.request
    assert request.url.host == "r2-api.dotdigital.com"
    assert request.headers["Authorization"] == f"Basic {BASIC_TOKEN}"
    assert PASSWORD not in str(request.url)


def test_discovery_then_discovered_endpoint(clock: FakeClock) -> None:
    client = make_client(clock, endpoint=None)
    account = {"id": 9, "properties": [
        {"name": "ApiEndpoint", "type": "String", "value": "https://r3-api.dotdigital.com/"},
        {"name": "ApiCallsRemaining", "type": "Int32", "value": "1980"},
    ]}
    with respx.mock(assert_all_called=True) as router:
        discovery = router.get(f"{R1}/v2/account-info").respond(200, json=account)
        regional = router.get("https://r3-api.dotdigital.com/v2/campaigns/5").respond(
            200, json={"id": 5, "name": "x"})
        info = client.account_info()
        assert info.api_endpoint == "https://r3-api.dotdigital.com"
        assert info.api_calls_remaining == 1980
        assert client.endpoint == "https://r3-api.dotdigital.com"
        client.get_campaign(5)
    assert discovery.call_count == 1 and regional.call_count == 1


def test_first_operation_triggers_discovery(clock: FakeClock) -> None:
    client = make_client(clock, endpoint=None)
    account = {"id": 9, "properties": [{"name": "ApiEndpoint", "value": R2}]}
    with respx.mock(assert_all_called=True) as router:
        router.get(f"{R1}/v2/account-info").respond(200, json=account)
        router.get(f"{R2}/v2/campaigns/5").respond(200, json={"id": 5, "name": "x"})
        assert client.get_campaign(5).id == 5


@pytest.mark.parametrize("discovered", [
    "https://r2-api.dotdigital.com.evil.example/",
    "https://evildotdigital.com",
    "https://r2-api.dotdigital.com@evil.example",
    "http://r2-api.dotdigital.com",
    "http://10.1.2.3:8080",
])
def test_discovered_endpoint_outside_the_allow_list_is_refused(clock: FakeClock,
                                                               discovered: str) -> None:
    client = make_client(clock, endpoint=None)
    account = {"id": 9, "properties": [{"name": "ApiEndpoint", "value": discovered}]}
    with respx.mock(assert_all_mocked=False, assert_all_called=False) as router:
        router.get(f"{R1}/v2/account-info").respond(200, json=account)
        elsewhere = router.route(host__regex=r"^(?!r1-api\.dotdigital\.com$).*").respond(200)
        with pytest.raises(HostNotAllowedError):
            client.get_campaign(5)
        assert elsewhere.call_count == 0
        assert {str(c.request.url.host) for c in router.calls} == {"r1-api.dotdigital.com"}
    assert client.endpoint is None


def test_discovery_without_api_endpoint_is_an_error(clock: FakeClock) -> None:
    from dotsync.dotdigital import DotdigitalError

    client = make_client(clock, endpoint=None)
    with respx.mock() as router:
        router.get(f"{R1}/v2/account-info").respond(200, json={"id": 1, "properties": []})
        with pytest.raises(DotdigitalError, match="ApiEndpoint"):
            client.account_info()


def test_discovery_url_is_checked_too(clock: FakeClock) -> None:
    with pytest.raises(HostNotAllowedError):
        make_client(clock, endpoint=None, discovery_url="https://r1-api.dotdigital.com.evil.io")


def test_loopback_emulator_over_http(clock: FakeClock) -> None:
    client = make_client(clock, endpoint="http://127.0.0.1:8765")
    with respx.mock() as router:
        router.get("http://127.0.0.1:8765/v2/account-info").respond(200, json={"id": 1})
        assert client.account_info().id == 1


def test_request_url_is_rechecked_before_credentials_are_attached(clock: FakeClock) -> None:
    """Even if the endpoint were tampered with after construction, nothing leaves."""
    client = make_client(clock)
    client._endpoint = "https://evil.example"
    with respx.mock(assert_all_mocked=False, assert_all_called=False) as router:
        with pytest.raises(HostNotAllowedError):
            client.get_campaign(1)
        assert not router.calls


def test_missing_credentials_are_refused() -> None:
    with pytest.raises(ValueError, match="DOTDIGITAL_API_PASSWORD"):
        DotdigitalClient(USER, "", endpoint=R2)
    with pytest.raises(ValueError, match="DOTDIGITAL_API_USER"):
        DotdigitalClient("", PASSWORD, endpoint=R2)


def test_tls_verification_is_on() -> None:
    client = DotdigitalClient(USER, PASSWORD, endpoint=R2)
    transport = client._http._transport
    assert isinstance(transport, httpx.HTTPTransport)
    pool = transport._pool
    assert pool._ssl_context.verify_mode.name == "CERT_REQUIRED"
    assert pool._ssl_context.check_hostname is True
