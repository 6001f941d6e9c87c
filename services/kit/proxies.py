"""The client's address behind our own proxies, and the X-Forwarded-For to pass on to the next service.

Every proxy appends the address it received the request from to X-Forwarded-For, so, read from the
right, each entry was written by the hop to its right. Walking left from the socket address past the
hops inside the trusted networks (our load balancer, our services, the local gateway), the first
address outside them is the client: a proxy we trust wrote it. Anything further left is the client's
own say and may be forged. This is nginx's real_ip with set_real_ip_from and real_ip_recursive on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address

# Loopback and the private ranges: where the ALB, the services and the local gateway sit, and where
# no client from the internet can come from.
PRIVATE_NETWORKS: tuple[Network, ...] = tuple(ip_network(cidr) for cidr in (
    "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))


def parse_address(text: str) -> Address | None:
    """An IP address from one header entry, IPv4-mapped IPv6 as IPv4; None when it is not one."""
    try:
        address = ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def client_address(remote_addr: str | None, forwarded_for: str | None,
                   trusted_networks: Iterable[Network]) -> str:
    """The rightmost address of [X-Forwarded-For entries..., remote_addr] outside the trusted networks,
    or the leftmost when every one is trusted (a call from inside, e.g. everything on localhost).

    An entry that is not an IP address (junk, an empty entry) stops the walk and the client is the
    address to its right, i.e. the trusted hop that passed it on (nginx does the same). Never the
    junk itself and never anything left of it: what a caller writes cannot choose their key. A socket
    address that is not an IP address (a Unix socket) is returned as it is and the header ignored.
    """
    trusted = tuple(trusted_networks)
    client = parse_address(remote_addr or "")
    if client is None:
        return remote_addr or ""
    entries = forwarded_for.split(",") if forwarded_for else []
    for entry in reversed(entries):
        if not any(client in network for network in trusted):
            break
        earlier = parse_address(entry)
        if earlier is None:
            break
        client = earlier
    return str(client)


def upstream_forwarded_for(environ: Mapping[str, Any]) -> str:
    """X-Forwarded-For for a call made while serving this request, as a proxy writes it: the incoming
    header plus the address the request came from. Both as received, before any ProxyFix rewrote
    REMOTE_ADDR, so the next service can walk the whole chain itself."""
    original = environ.get("werkzeug.proxy_fix.orig") or {}
    remote = original.get("REMOTE_ADDR", environ.get("REMOTE_ADDR")) or ""
    incoming = (environ.get("HTTP_X_FORWARDED_FOR") or "").strip()
    return ", ".join(part for part in (incoming, remote) if part)
