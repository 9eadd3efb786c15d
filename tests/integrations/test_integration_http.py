"""Request details without a framework: client IP behind proxies, request ids, user agents."""

from __future__ import annotations

import pytest

from activitylog import ActivityLog, Actor, ConfigurationError
from activitylog.integrations._http import (
    RequestDetails,
    RequestSettings,
    attach,
    bound_details,
    client_ip,
    details_from,
)

PROXIES = RequestSettings(trusted_proxies=["10.0.0.0/8", "2001:db8::/32"]).trusted_proxies


class TestClientIp:
    def test_without_trusted_proxies_the_peer_is_the_client(self) -> None:
        """X-Forwarded-For is ignored: anyone can send it."""
        assert client_ip("192.0.2.1", "203.0.113.5") == "192.0.2.1"

    def test_an_untrusted_peer_cannot_forward(self) -> None:
        """Only a trusted proxy's X-Forwarded-For is read."""
        assert client_ip("192.0.2.1", "203.0.113.5", PROXIES) == "192.0.2.1"

    def test_the_hop_before_the_trusted_chain_is_the_client(self) -> None:
        """A spoofed leftmost hop is skipped: only trusted hops vouch for the next."""
        assert client_ip("10.0.0.2", "6.6.6.6, 203.0.113.5, 10.0.0.9", PROXIES) == "203.0.113.5"

    def test_ipv6_and_ports(self) -> None:
        """IPv6 peers and hops with ports are understood."""
        assert client_ip("2001:db8::1", "[2001:db9::7]:443", PROXIES) == "2001:db9::7"
        assert client_ip("10.1.1.1", "198.51.100.4:5000", PROXIES) == "198.51.100.4"

    def test_garbage_is_never_recorded(self) -> None:
        """A malformed hop stops the walk at the last good address; a bad peer is None."""
        assert client_ip("10.0.0.2", "<script>, 203.0.113.5", PROXIES) == "203.0.113.5"
        assert client_ip("10.0.0.2", "203.0.113.5, nonsense", PROXIES) == "10.0.0.2"
        assert client_ip("testclient", None) is None

    def test_a_bad_proxy_setting_is_a_configuration_error(self) -> None:
        """An unparseable network names itself."""
        with pytest.raises(ConfigurationError, match="not-an-ip"):
            RequestSettings(trusted_proxies=["not-an-ip"])


class TestDetails:
    def test_a_plain_request_id_is_kept_and_others_replaced(self) -> None:
        """Client-sent ids are echoed only when short and plain."""
        settings = RequestSettings()
        kept = details_from({"x-request-id": "abc-123"}, None, settings)
        assert kept.request_id == "abc-123"
        for bad in ("<img src=x>", "a" * 500, "line\nbreak"):
            fresh = details_from({"x-request-id": bad}, None, settings)
            assert fresh.request_id is not None and len(fresh.request_id) == 32

    def test_user_agents_lose_control_characters_and_length(self) -> None:
        """Terminal escapes and bidi overrides are removed; the text is capped."""
        agent = "evil\x1b[31m\u202eagent" + "x" * 1000
        details = details_from({"user-agent": agent}, "192.0.2.1", RequestSettings())
        assert details.user_agent is not None
        assert "\x1b" not in details.user_agent and "\u202e" not in details.user_agent
        assert len(details.user_agent) == 512

    def test_switched_off_details_are_not_read(self) -> None:
        """RequestSettings.off() yields empty details."""
        details = details_from({"user-agent": "x", "x-request-id": "r"}, "192.0.2.1",
                               RequestSettings.off())
        assert details.as_metadata() == {}


class TestAttach:
    def test_bound_details_land_in_metadata_and_the_callers_key_wins(self) -> None:
        """An attached log adds "request" unless the caller gave one."""
        log = attach(ActivityLog())
        attach(log)  # twice is harmless
        ada = Actor("1", "Ada")
        with log.context(org_id="acme", actor=ada), bound_details(RequestDetails("r1", None)):
            first = log.record("lead.created")
            second = log.record("lead.created", metadata={"request": "mine", "n": 1})
        third = log.record("lead.created", org_id="acme", actor=ada)
        assert first.metadata == {"request": {"id": "r1"}}
        assert second.metadata == {"request": "mine", "n": 1}
        assert third.metadata == {}
