"""Which webhook URLs scriptcron may call (server-side request forgery policy).

:func:`check_webhook_url` resolves a URL's host and judges every address it resolves to. Only
globally routable unicast addresses pass. Loopback passes when ``allow_loopback`` (development),
private networks (RFC 1918, IPv6 unique-local) when ``allow_private``. Link-local (cloud metadata at
169.254.169.254), shared address space 100.64/10, multicast, reserved, documentation and unspecified
addresses never pass, nor do the known metadata addresses. IPv6 forms that carry an IPv4 address
(IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo) are judged by the IPv4 address they carry.

The API checks a URL when a schedule is saved; the worker checks it again when sending and connects
to the address it checked (worker/delivery/transport.py), so a DNS answer that changes between the
check and the connection cannot redirect a webhook to an internal address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from enum import StrEnum
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}


class UrlNotAllowed(ValueError):
    """Raised when a webhook URL is malformed or its host resolves to an address the policy refuses.

    The message names the host and the reason, never the path, query or credentials of the URL.
    """


class HostNotResolved(UrlNotAllowed):
    """Raised when a webhook URL's host does not resolve (possibly a passing DNS failure)."""


class AddressClass(StrEnum):
    """What kind of address a resolved host gave; only GLOBAL passes without a setting."""

    GLOBAL = "global"
    LOOPBACK = "loopback"
    PRIVATE = "private network"
    LINK_LOCAL = "link-local"
    SHARED = "shared address space 100.64.0.0/10"
    MULTICAST = "multicast"
    UNSPECIFIED = "unspecified"
    METADATA = "cloud metadata endpoint"
    RESERVED = "reserved or not globally routable"


_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# Always refused, whatever the settings: instance metadata services reachable on private ranges.
_METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)

_V4_TABLE: tuple[tuple[_V4, AddressClass], ...] = (
    (_V4("0.0.0.0/8"), AddressClass.UNSPECIFIED),
    (_V4("127.0.0.0/8"), AddressClass.LOOPBACK),
    (_V4("169.254.0.0/16"), AddressClass.LINK_LOCAL),
    (_V4("100.64.0.0/10"), AddressClass.SHARED),
    (_V4("10.0.0.0/8"), AddressClass.PRIVATE),
    (_V4("172.16.0.0/12"), AddressClass.PRIVATE),
    (_V4("192.168.0.0/16"), AddressClass.PRIVATE),
    (_V4("224.0.0.0/4"), AddressClass.MULTICAST),
    (_V4("240.0.0.0/4"), AddressClass.RESERVED),  # includes 255.255.255.255
    (_V4("192.0.0.0/24"), AddressClass.RESERVED),
    (_V4("192.0.2.0/24"), AddressClass.RESERVED),
    (_V4("192.88.99.0/24"), AddressClass.RESERVED),
    (_V4("198.18.0.0/15"), AddressClass.RESERVED),
    (_V4("198.51.100.0/24"), AddressClass.RESERVED),
    (_V4("203.0.113.0/24"), AddressClass.RESERVED),
)

_V6_TABLE: tuple[tuple[_V6, AddressClass], ...] = (
    (_V6("::/128"), AddressClass.UNSPECIFIED),
    (_V6("::1/128"), AddressClass.LOOPBACK),
    (_V6("fe80::/10"), AddressClass.LINK_LOCAL),
    (_V6("fec0::/10"), AddressClass.RESERVED),  # deprecated site-local
    (_V6("fc00::/7"), AddressClass.PRIVATE),  # unique-local
    (_V6("ff00::/8"), AddressClass.MULTICAST),
    (_V6("100::/64"), AddressClass.RESERVED),  # discard-only
    (_V6("2001:db8::/32"), AddressClass.RESERVED),  # documentation
)

_MAPPED = _V6("::ffff:0:0/96")
_COMPATIBLE = _V6("::/96")  # deprecated IPv4-compatible form, ::a.b.c.d
_NAT64_WELL_KNOWN = _V6("64:ff9b::/96")
_NAT64_LOCAL = _V6("64:ff9b:1::/48")
_SIX_TO_FOUR = _V6("2002::/16")
_TEREDO = _V6("2001::/32")


def _nat64_candidates(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 address a local-use NAT64 address carries, under every prefix length (RFC 6052)
    that a /48-or-longer prefix can use: the operator's choice is unknown, so all must pass."""
    raw = address.packed
    # RFC 6052 section 2.2: bits 64..71 (byte 8) are the reserved "u" octet, skipped.
    layouts = {48: raw[6:8] + raw[9:11], 56: raw[7:8] + raw[9:12], 64: raw[9:13], 96: raw[12:16]}
    return [ipaddress.IPv4Address(b) for b in layouts.values()]


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[str, list[ipaddress.IPv4Address]] | None:
    """The IPv4 address(es) an IPv6 address carries, with the name of the form; None if none."""
    if address in _MAPPED:
        return "IPv4-mapped", [ipaddress.IPv4Address(address.packed[12:])]
    if address in _NAT64_WELL_KNOWN:
        return "NAT64", [ipaddress.IPv4Address(address.packed[12:])]
    if address in _NAT64_LOCAL:
        return "local-use NAT64", _nat64_candidates(address)
    if address in _SIX_TO_FOUR:
        return "6to4", [ipaddress.IPv4Address(address.packed[2:6])]
    if address in _TEREDO:
        teredo = address.teredo
        assert teredo is not None
        server, client = teredo
        return "Teredo", [client, server]
    if address in _COMPATIBLE and int(address) > 1:
        return "IPv4-compatible", [ipaddress.IPv4Address(address.packed[12:])]
    return None


def classify(address: IPAddress) -> AddressClass:
    """The class of one address (an IPv6 form carrying IPv4 takes the class of its worst IPv4)."""
    if address in _METADATA:
        return AddressClass.METADATA
    if isinstance(address, ipaddress.IPv4Address):
        for network, kind in _V4_TABLE:
            if address in network:
                return kind
        return AddressClass.GLOBAL if address.is_global else AddressClass.RESERVED
    if address.scope_id:
        address = ipaddress.IPv6Address(address.packed)
    carried = embedded_ipv4(address)
    if carried is not None:
        classes = [classify(v4) for v4 in carried[1]]
        worst = [c for c in classes if c is not AddressClass.GLOBAL]
        return worst[0] if worst else AddressClass.GLOBAL
    for network6, kind in _V6_TABLE:
        if address in network6:
            return kind
    return AddressClass.GLOBAL if address.is_global else AddressClass.RESERVED


def is_allowed(kind: AddressClass, *, allow_loopback: bool, allow_private: bool) -> bool:
    if kind is AddressClass.GLOBAL:
        return True
    if kind is AddressClass.LOOPBACK:
        return allow_loopback
    if kind is AddressClass.PRIVATE:
        return allow_private
    return False


def _describe(address: IPAddress, kind: AddressClass) -> str:
    text = f"{address} ({kind.value})"
    if isinstance(address, ipaddress.IPv6Address):
        carried = embedded_ipv4(address)
        if carried is not None:
            form, v4s = carried
            text = f"{address} ({form} form of {', '.join(map(str, v4s))}: {kind.value})"
    return text


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (getaddrinfo, TCP)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def split_webhook_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a webhook URL; raises UrlNotAllowed when it is not http(s) with a host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlNotAllowed(f"webhook URL is malformed: {exc}") from None
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if scheme not in ALLOWED_SCHEMES:
        raise UrlNotAllowed(f"webhook URL scheme {scheme or '(none)'!r} not allowed: use http or https")
    if not host:
        raise UrlNotAllowed("webhook URL has no host")
    return scheme, host, port or DEFAULT_PORTS[scheme]


def check_webhook_url(
    url: str, *, allow_loopback: bool, allow_private: bool, resolver: Resolver | None = None
) -> list[IPAddress]:
    """Resolve the URL's host; return its addresses if every one of them is allowed.

    Raises :class:`UrlNotAllowed` naming the host and the first refused address, or
    :class:`HostNotResolved` when the host does not resolve.
    """
    _scheme, host, port = split_webhook_url(url)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        names = [str(literal)]
    else:
        try:
            names = list((resolver or system_resolver)(host, port))
        except (OSError, UnicodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise HostNotResolved(f"webhook host {host!r} could not be resolved: {reason}") from None
        if not names:
            raise HostNotResolved(f"webhook host {host!r} resolves to no address")
    addresses: list[IPAddress] = []
    for name in names:
        address = ipaddress.ip_address(name)
        kind = classify(address)
        if not is_allowed(kind, allow_loopback=allow_loopback, allow_private=allow_private):
            raise UrlNotAllowed(
                f"webhook host {host!r} not allowed: it resolves to {_describe(address, kind)}"
            )
        addresses.append(address)
    return addresses
