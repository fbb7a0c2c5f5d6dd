"""Who is asking: the client's address, believing X-Forwarded-For only from our trusted proxies."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from fastapi import Request

from funnelflow import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def parse_networks(raw: str | None) -> tuple[Network, ...]:
    """Comma-separated addresses or networks; a wrong entry is an error naming the setting."""
    nets = []
    for part in (raw or "").split(","):
        part = part.strip()
        if part:
            try:
                nets.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(
                    f"FUNNELFLOW_TRUSTED_PROXIES: {part!r} is not an address or network"
                ) from None
    return tuple(nets)


def trusted_proxies() -> tuple[Network, ...]:
    return parse_networks(settings.env("FUNNELFLOW_TRUSTED_PROXIES"))


def _in(address: str, networks: tuple[Network, ...] | list[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(request: Request, trusted: tuple[Network, ...] | list[Network] | None = None) -> str:
    """The peer, unless it is a trusted proxy: then the nearest untrusted address in X-Forwarded-For.

    A forged header from anyone else is ignored, so nobody can pose as another address.
    """
    trusted = trusted_proxies() if trusted is None else trusted
    peer = request.client.host if request.client else "unknown"
    if not trusted or not _in(peer, trusted):
        return peer
    forwarded = [p.strip() for p in request.headers.get("x-forwarded-for", "").split(",") if p.strip()]
    for hop in reversed(forwarded):
        if not _in(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return peer
