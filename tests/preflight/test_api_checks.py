"""The checks that ask Dotdigital: credentials, region, certificate and order campaigns.

Each has a passing setup and failing setups against the bundled emulator; seeds add
campaigns with other statuses or duplicate names, and a password mismatch gives a 401.
"""

from __future__ import annotations

import json

import httpx
import pytest

from dotsync.preflight import CHECK_NAMES
from tests.preflight.support import SECRET_PASSWORD, WRONG_PASSWORD, certificates, stage

API_DEPENDENT = ("certificate_campaign", "order_campaign")


class HostHeader(httpx.HTTPTransport):
    """Sends every request with another ``Host`` header.

    The emulator answers ``ApiEndpoint`` with the host it was reached as, so this is how a
    test gets an account whose reported endpoint differs from the one configured.
    """

    def __init__(self, host: str) -> None:
        super().__init__()
        self.host = host

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.headers["Host"] = self.host
        return super().handle_request(request)


def campaign(id: int, name: str, status: str = "Triggered") -> dict:
    return {"id": id, "name": name, "status": status}


DEFAULT_CAMPAIGNS = [
    campaign(1001, "Gift certificate"),
    campaign(1002, "Order confirmation"),
    campaign(1003, "Spring newsletter", "Sent"),
    campaign(1004, "Paused reminder", "Paused"),
    campaign(1005, "Cancelled promotion", "Cancelled"),
]


# ------------------------------------------------------------------------------ credentials
def test_credentials_pass_with_the_emulators_user_and_password(emulator, preflight):
    result = preflight(emulator())
    check = result.check("credentials")
    assert check.ok and check.status == "pass"
    assert "a***@apiconnector.com" in check.detail  # the user is shown masked
    assert result.ok, result.render()
    assert [c.name for c in result.checks] == list(CHECK_NAMES)


def test_wrong_password_fails_credentials_and_skips_what_needs_them(emulator, preflight):
    result = preflight(emulator(password=SECRET_PASSWORD), api_password=WRONG_PASSWORD)
    check = result.check("credentials")
    assert not check.ok and check.status == "fail" and check.severity == "error"
    assert "401" in check.detail
    assert "DOTDIGITAL_API_USER" in check.fix and "DOTDIGITAL_API_PASSWORD" in check.fix
    for name in API_DEPENDENT:
        assert result.check(name).status == "skipped", name
        assert "credentials" in result.check(name).detail
    assert result.check("region").status == "skipped"
    assert not result.ok
    # checks that need no API still ran
    assert result.check("insight_collection").status == "pass"
    text = result.render() + json.dumps(result.as_dict())
    assert WRONG_PASSWORD not in text and SECRET_PASSWORD not in text


def test_a_login_address_instead_of_an_api_user_is_named_in_the_fix(emulator, preflight):
    result = preflight(emulator(), api_user="owner@northwind.co.uk")
    check = result.check("credentials")
    assert not check.ok
    assert "@apiconnector.com" in check.fix and "o***@northwind.co.uk" in check.fix
    assert "owner@northwind.co.uk" not in result.render()


# ------------------------------------------------------------------------------ region
def test_region_passes_for_a_configured_endpoint_that_is_the_accounts(emulator, preflight):
    server = emulator()
    check = preflight(server).check("region")
    assert check.ok and server.url in check.detail and "configured" in check.detail


def test_region_is_discovered_through_api_endpoint_and_reached(emulator, preflight):
    server = emulator()
    result = preflight(server, discover=True)
    check = result.check("region")
    assert check.ok, check
    assert "discovered" in check.detail and server.url in check.detail
    # discovery on the r1 URL, then one call on the discovered regional endpoint
    assert [c["path"] for c in server.state.calls()].count("/v2/account-info") == 2
    assert result.ok


def test_region_fails_when_the_endpoint_cannot_be_reached(emulator, preflight):
    dead = emulator()
    url = dead.url
    dead.stop()  # nothing listens on that port any more
    result = preflight(dead, api_endpoint=url)
    region = result.check("region")
    assert region.status == "fail" and url in region.detail
    assert "DOTDIGITAL_API_ENDPOINT" in region.fix
    assert result.check("credentials").status == "skipped"
    for name in API_DEPENDENT:
        assert result.check(name).status == "skipped"
    assert not result.ok


def test_region_warns_when_the_configured_endpoint_is_not_the_accounts(emulator, preflight):
    server = emulator()
    other = f"localhost:{server.port}"
    result = preflight(server, transport=HostHeader(other))
    region = result.check("region")
    assert region.status == "warn" and region.severity == "warning"
    assert server.url in region.detail and f"http://{other}" in region.detail
    assert f"DOTDIGITAL_API_ENDPOINT=http://{other}" in region.fix
    assert result.ok  # a warning does not stop go-live


def test_a_discovered_endpoint_outside_the_allow_list_gets_no_further_calls(emulator,
                                                                             preflight):
    server = emulator()
    result = preflight(server, discover=True,
                       transport=HostHeader("r1-api.dotdigital.com.evil.example"))
    assert result.check("credentials").ok  # the discovery call itself was answered
    region = result.check("region")
    assert region.status == "fail" and "not allowed" in region.detail
    assert result.check("certificate_campaign").status == "skipped"
    assert [c["path"] for c in server.state.calls()] == ["/v2/account-info"]


# ----------------------------------------------------------------- certificate campaign
def test_certificate_campaign_passes_for_triggered_setting_and_staged_ids(emulator, preflight,
                                                                          store):
    stage(store, "certificates", certificates(3, campaign_id=lambda i: "1001" if i else None))
    check = preflight(emulator()).check("certificate_campaign")
    assert check.ok and "1001" in check.detail


def test_no_certificates_and_no_setting_passes_with_a_note(emulator, preflight):
    check = preflight(emulator(), certificate_campaign_id=None).check("certificate_campaign")
    assert check.ok and "nothing to send" in check.detail


@pytest.mark.parametrize(("campaign_id", "status"), [(1004, "Paused"), (1005, "Cancelled"),
                                                     (1003, "Sent")])
def test_certificate_campaign_that_refuses_triggered_sends_fails(emulator, preflight,
                                                                 campaign_id, status):
    check = preflight(emulator(), certificate_campaign_id=campaign_id).check(
        "certificate_campaign")
    assert check.status == "fail"
    assert f"campaign {campaign_id}" in check.detail and f"is {status}" in check.detail


def test_staged_campaign_ids_are_each_checked(emulator, preflight, store):
    stage(store, "certificates",
          certificates(4, campaign_id=lambda i: ["1001", "1005", "4242", "1001"][i]))
    check = preflight(emulator()).check("certificate_campaign")
    assert check.status == "fail"
    assert "1005" in check.detail and "Cancelled" in check.detail
    assert "4242" in check.detail and "does not exist" in check.detail
    assert "1 certificate" in check.detail  # how many certificates would use each


def test_certificates_without_campaign_and_without_setting_fail(emulator, preflight, store):
    stage(store, "certificates", certificates(2))
    check = preflight(emulator(), certificate_campaign_id=None).check("certificate_campaign")
    assert check.status == "fail"
    assert "2 certificates have no campaign_id" in check.detail
    assert "DOTSYNC_CERTIFICATE_CAMPAIGN_ID" in check.detail


def test_a_staged_campaign_id_that_is_not_a_number_fails(emulator, preflight, store):
    stage(store, "certificates", certificates(1, campaign_id="gift-campaign"))
    check = preflight(emulator()).check("certificate_campaign")
    assert check.status == "fail" and "'gift-campaign'" in check.detail


def test_many_campaign_ids_are_resolved_with_one_listing(emulator, preflight, store):
    many = [campaign(3000 + i, f"Gift {i}") for i in range(12)]
    server = emulator(seed={"campaigns": DEFAULT_CAMPAIGNS + many})
    stage(store, "certificates", certificates(12, campaign_id=lambda i: 3000 + i))
    result = preflight(server)
    assert result.check("certificate_campaign").ok, result.check("certificate_campaign")
    paths = [c["path"] for c in server.state.calls()]
    assert not any(p.startswith("/v2/campaigns/") for p in paths)  # no call per id
    assert paths.count("/v2/campaigns") == 1


# ------------------------------------------------------------------------------ order campaign
def test_order_campaign_name_is_found_by_paging_through_every_campaign(emulator, preflight):
    seed = {"campaigns": [*DEFAULT_CAMPAIGNS[:1], campaign(900000, "Order confirmation EU")],
            "generatedCampaigns": 2500}
    server = emulator(seed=seed)
    result = preflight(server, order_campaign="Order confirmation EU")
    check = result.check("order_campaign")
    assert check.ok, check
    assert "campaign 900000" in check.detail and "2,502 campaigns" in check.detail
    pages = [c for c in server.state.calls() if c["path"] == "/v2/campaigns"]
    assert len(pages) == 3  # 1000 + 1000 + 502


def test_order_campaign_given_as_an_id(emulator, preflight):
    assert preflight(emulator(), order_campaign="1002").check("order_campaign").ok


def test_order_campaign_unset_passes_with_a_note(emulator, preflight):
    check = preflight(emulator(), order_campaign=None).check("order_campaign")
    assert check.ok and "not set" in check.detail


def test_order_campaign_with_a_duplicated_name_fails_naming_both(emulator, preflight):
    seed = {"campaigns": [*DEFAULT_CAMPAIGNS, campaign(2002, "Order confirmation", "Paused")]}
    check = preflight(emulator(seed=seed)).check("order_campaign")
    assert check.status == "fail"
    assert "2 campaigns are named 'Order confirmation'" in check.detail
    assert "1002" in check.detail and "2002" in check.detail
    assert "id" in check.fix


def test_paused_order_campaign_fails_with_its_status(emulator, preflight):
    seed = {"campaigns": [campaign(1001, "Gift certificate"),
                          campaign(1002, "Order confirmation", "Paused")]}
    check = preflight(emulator(seed=seed)).check("order_campaign")
    assert check.status == "fail" and "Paused" in check.detail


def test_unknown_order_campaign_fails_and_suggests_a_near_name(emulator, preflight):
    result = preflight(emulator(), order_campaign="order CONFIRMATION")
    check = result.check("order_campaign")
    assert check.status == "fail" and "no campaign is named" in check.detail
    assert "'Order confirmation' (id 1002)" in check.fix
    placeholder = preflight(emulator(), order_campaign="OrderConfirmation").check(
        "order_campaign")
    assert placeholder.status == "fail" and "'OrderConfirmation'" in placeholder.detail


def test_order_campaign_id_that_does_not_exist_fails(emulator, preflight):
    check = preflight(emulator(), order_campaign="4711").check("order_campaign")
    assert check.status == "fail" and "4711" in check.detail
