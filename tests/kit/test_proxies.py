"""The client behind our proxies: the rightmost X-Forwarded-For address outside the trusted networks."""

from ipaddress import ip_network

import pytest

from services.kit.proxies import PRIVATE_NETWORKS, client_address, parse_address, upstream_forwarded_for

ALB, STOREFRONT, GATEWAY = "10.0.1.20", "10.0.8.33", "127.0.0.1"
BROWSER, OTHER_BROWSER, ATTACKER = "203.0.113.7", "198.51.100.23", "192.0.2.66"


def test_a_direct_callers_forged_prefix_is_ignored():
    # attacker -> ALB -> users: the ALB appends the attacker's real address to what they sent.
    for forged in ("1.2.3.4", "10.0.0.1", "1.2.3.4, 10.9.9.9", "127.0.0.1", "::1", "garbage"):
        assert client_address(ALB, f"{forged}, {ATTACKER}", PRIVATE_NETWORKS) == ATTACKER


def test_a_direct_caller_without_a_header_is_the_address_the_alb_saw():
    assert client_address(ALB, ATTACKER, PRIVATE_NETWORKS) == ATTACKER
    assert client_address(ATTACKER, None, PRIVATE_NETWORKS) == ATTACKER  # no proxy at all
    assert client_address(ATTACKER, "", PRIVATE_NETWORKS) == ATTACKER


def test_a_browser_via_the_storefront_is_the_browser():
    # browser -> ALB -> storefront -> ALB -> users: the storefront passes on "<its XFF>, <the ALB>",
    # and the second ALB hop appends the storefront's address.
    for browser in (BROWSER, OTHER_BROWSER):
        chain = f"{browser}, {ALB}, {STOREFRONT}"
        assert client_address(ALB, chain, PRIVATE_NETWORKS) == browser
        # The browser's own forged prefix changes nothing either.
        assert client_address(ALB, f"6.6.6.6, {chain}", PRIVATE_NETWORKS) == browser


def test_an_all_private_chain_is_its_leftmost_address():
    # Locally: browser on localhost -> gateway -> storefront -> gateway -> users.
    assert client_address(GATEWAY, "127.0.0.1, 127.0.0.1, 127.0.0.1", PRIVATE_NETWORKS) == "127.0.0.1"
    assert client_address(GATEWAY, "192.168.1.50, 10.0.0.2", PRIVATE_NETWORKS) == "192.168.1.50"
    assert client_address("127.0.0.1", None, PRIVATE_NETWORKS) == "127.0.0.1"


def test_ipv6_addresses_and_networks():
    networks = (*PRIVATE_NETWORKS, ip_network("2001:db8:aaaa::/48"))
    assert client_address("::1", "2001:db8:ffff::1, fd00::5", networks) == "2001:db8:ffff::1"
    assert client_address("2001:db8:aaaa::9", "2001:DB8:FFFF:0::1", networks) == "2001:db8:ffff::1"
    assert client_address("fd00::5", "2001:db8:aaaa::1", networks) == "2001:db8:aaaa::1"  # all trusted
    # A dual-stack socket reports IPv4 clients as IPv4-mapped IPv6: same client, same networks.
    assert client_address("::ffff:10.0.0.7", "::ffff:203.0.113.7", networks) == BROWSER


@pytest.mark.parametrize("junk", ["not-an-ip", "", "  ", "unknown", "203.0.113.7:443",
                                  "[2001:db8::1]", "999.1.1.1", "10.0.0.0/8", "1.2.3.4; evil"])
def test_junk_stops_the_walk_at_the_hop_that_passed_it_on(junk):
    # Only reachable when every hop to its right is trusted; the junk and anything left of it are
    # never the key, so nobody can pick a bucket by writing junk.
    assert client_address(ALB, f"{BROWSER}, {junk}, {STOREFRONT}", PRIVATE_NETWORKS) == STOREFRONT
    assert client_address(ALB, f"{BROWSER}, {junk}", PRIVATE_NETWORKS) == ALB
    # Junk left of an untrusted address is never even looked at.
    assert client_address(ALB, f"{junk}, {BROWSER}", PRIVATE_NETWORKS) == BROWSER


def test_a_socket_address_that_is_not_an_ip_ignores_the_header():
    assert client_address("unix-socket", BROWSER, PRIVATE_NETWORKS) == "unix-socket"
    assert client_address(None, BROWSER, PRIVATE_NETWORKS) == ""


def test_trusting_nothing_means_the_socket_address():
    assert client_address(ALB, f"{BROWSER}, {STOREFRONT}", ()) == ALB


def test_parse_address():
    assert str(parse_address(" 203.0.113.7 ")) == BROWSER
    assert str(parse_address("::ffff:203.0.113.7")) == BROWSER
    assert parse_address("example.com") is None


def test_the_upstream_chain_uses_the_addresses_as_received():
    environ = {"REMOTE_ADDR": BROWSER, "HTTP_X_FORWARDED_FOR": f"6.6.6.6, {BROWSER}",
               "werkzeug.proxy_fix.orig": {"REMOTE_ADDR": ALB}}  # ProxyFix took BROWSER from the header
    assert upstream_forwarded_for(environ) == f"6.6.6.6, {BROWSER}, {ALB}"
    assert upstream_forwarded_for({"REMOTE_ADDR": ALB}) == ALB
    assert upstream_forwarded_for({"REMOTE_ADDR": ALB, "HTTP_X_FORWARDED_FOR": " "}) == ALB
    assert upstream_forwarded_for({}) == ""
