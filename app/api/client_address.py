"""Which client a request comes from, for the per-address rate limit.

The peer of the TCP connection is the client, unless it is one of the reverse proxies
named in ``TRUSTED_PROXIES``. Then ``X-Forwarded-For`` is read from the right (each
proxy appends the address it received the request from): the nearest address that is
not a trusted proxy itself is the client. Whatever a client writes into the header
itself is to the left of that and is never used, so it cannot choose its own address.
With no trusted proxies (the default) the header is ignored altogether.

``incentives serve`` runs uvicorn without its own proxy-header handling, which
trusts 127.0.0.1 by default and would let any local peer rewrite the address before
the application sees it (see README, "Limits").

An IPv6 client is counted by its /64 network: one host usually holds a whole /64 and
could otherwise rotate through it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
KEY_LENGTH = 64  # the column that keeps the count (rate_limit_counters.address)


def _parse(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 192.0.2.1:443
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: Address | None, proxies: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in proxies)


def _forwarded_for(scope: Scope) -> list[str]:
    values = [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-forwarded-for"]
    return [item for value in values for item in value.split(",") if item.strip()]


def client_address(scope: Scope, proxies: Sequence[Network]) -> Address | str:
    """The client's address (or the peer's name, when it is not an IP address)."""
    peer = scope.get("client")
    peer_text = str(peer[0]) if peer else "unknown"
    current = _parse(peer_text)
    if current is None:
        return peer_text
    if not proxies:
        return current
    for hop in reversed(_forwarded_for(scope)):
        if not _trusted(current, proxies):
            break
        previous = _parse(hop)
        if previous is None:
            break  # a proxy passed on something that is not an address: stop at the proxy
        current = previous
    return current


def rate_limit_key(address: Address | str) -> str:
    """What the count is kept under: the address, an IPv6 address's /64, at most 64 characters."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)[:KEY_LENGTH]
