"""Outbound requests to addresses the org's users choose (webhook callback URLs): the SSRF policy.

A URL must be https and its host must resolve only to public addresses: never private, loopback, link-local,
multicast, reserved or unspecified ones (IPv4 and IPv6, IPv4-mapped and NAT64/6to4 embeddings unwrapped). The check
runs when the URL is saved and again at each delivery, and the delivery connects to the very address that passed
(`pinned_post`): a DNS answer that changes between check and connect (rebinding) cannot redirect it. Redirects are
never followed. Development and tests may allow http and loopback (`WEBHOOK_ALLOW_LOCAL`), so a local receiver works;
production refuses to start with it on (config.check_production).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Hosts spelled as numbers the resolver would accept but that are not a canonical address
# (2130706433, 0x7f.1, 0177.0.0.1, 127.1): refused outright rather than guessed.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]*|[0-9]*))*\.?$", re.IGNORECASE)
_LOCAL_NAMES = {"localhost", "localhost.localdomain"}


class UnsafeURL(ValueError):
    """The URL breaks the outbound policy; the message says why (shown to the org's admin)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written (Host header, TLS server name)
    port: int
    path: str  # path and query
    address: IPAddress  # the checked address to connect to


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in ipaddress.IPv6Network("64:ff9b::/96"):  # NAT64 well-known prefix
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.teredo is not None:
        return address.teredo[1]
    return None


def _forbidden(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None and _forbidden(inner):
            return True
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or getattr(address, "is_site_local", False)
        or not address.is_global
    )


def _loopback(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def parse(url: str, *, allow_local: bool) -> tuple[str, str, int, str]:
    """Scheme, host, port and path of an acceptable URL's *shape* (no DNS): https (http only when local is allowed),
    a host, no credentials, no fragment, no numeric trickery."""
    if not isinstance(url, str) or not url or len(url) > 2000 or any(ord(c) < 33 for c in url):
        raise UnsafeURL("must be an absolute https URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeURL("must be an absolute https URL") from error
    schemes = ("https", "http") if allow_local else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise UnsafeURL("must be an absolute https URL")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("must not contain credentials")
    if parts.fragment:
        raise UnsafeURL("must not contain a fragment")
    host = parts.hostname.rstrip(".").lower()
    if _NUMERIC_HOST.match(host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError as error:
            raise UnsafeURL("must name its host by name or by a canonical IP address") from error
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise UnsafeURL("host does not resolve") from error
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def check(url: str, *, allow_local: bool) -> Target:
    """The address to connect to for `url`, after checking every address its host resolves to."""
    scheme, host, port, path = parse(url, allow_local=allow_local)
    if host in _LOCAL_NAMES and not allow_local:
        raise UnsafeURL("must not point to a private, loopback or reserved address")
    addresses = resolve(host, port)
    if not addresses:
        raise UnsafeURL("host does not resolve")
    for address in addresses:
        if allow_local and _loopback(address):
            continue
        if _forbidden(address):
            raise UnsafeURL("must not point to a private, loopback or reserved address")
    return Target(scheme, host, port, path, addresses[0])


@dataclass(frozen=True)
class Response:
    status: int
    excerpt: str


def pinned_post(target: Target, body: bytes, headers: dict[str, str], *, timeout: float) -> Response:
    """POST `body` to the checked address, naming the original host in Host and TLS (SNI, certificate check).
    No redirects, no retries (the worker retries), a short timeout, at most 1 KB of the answer read."""
    host_header = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
    if ":" in target.host:
        host_header = f"[{target.host}]" if target.port in (80, 443) else f"[{target.host}]:{target.port}"
    options = {"timeout": urllib3.Timeout(connect=timeout, read=timeout), "retries": False, "maxsize": 1}
    if target.scheme == "https":
        pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
            str(target.address),
            target.port,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            **options,
        )
    else:
        pool = urllib3.HTTPConnectionPool(str(target.address), target.port, **options)
    with pool:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": host_header},
            redirect=False,
            assert_same_host=False,
            preload_content=False,
        )
        try:
            excerpt = response.read(1024, decode_content=False)
        finally:
            response.release_conn()
    return Response(response.status, excerpt.decode("utf-8", "replace"))
