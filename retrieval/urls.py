"""URL and address rules for fetching web pages: which URLs and which IP addresses are allowed.

Kept apart from the HTTP client (retrieval.fetch) so that the command line can check and
canonicalise URLs without importing aiohttp, and so the rules can be tested on their own.
`CITEBOT_ALLOWED_PRIVATE_NETWORKS` (CIDR blocks) exempts exactly those networks, for a team's own
intranet or for tests on 127.0.0.1; it is empty by default.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

import yarl

from retrieval.errors import BadSource

MAX_BYTES = 5 * 1024 * 1024
TIMEOUT_SECONDS = 15.0
MAX_REDIRECTS = 5
ALLOWED_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "text/plain",
        "text/markdown",
        "text/x-markdown",
        "application/pdf",
    }
)
_TRACKING = ("utm_", "fbclid", "gclid", "mc_cid", "mc_eid", "igshid", "ref_src")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """CIDR blocks from a comma-separated setting; BadSource names a malformed one."""
    networks = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise BadSource(
                f"CITEBOT_ALLOWED_PRIVATE_NETWORKS: {part!r} is not a CIDR block "
                "(for example 10.1.0.0/16)"
            ) from None
    return tuple(networks)


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    max_bytes: int = MAX_BYTES
    timeout: float = TIMEOUT_SECONDS
    max_redirects: int = MAX_REDIRECTS
    allowed_private: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FetchPolicy:
        return cls(allowed_private=parse_networks(env.get("CITEBOT_ALLOWED_PRIVATE_NETWORKS", "")))


def address_refusal(ip: IPAddress, policy: FetchPolicy) -> str | None:
    """Why connecting to `ip` is refused, or None when it is allowed."""
    if ip.version == 6:
        # Forms that carry an IPv4 address are judged by it: ::ffff:10.0.0.1 (mapped),
        # 2002:0a00:0001:: (6to4), 2001:0::/32 (Teredo's client address).
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            ip = embedded
    if any(ip in network for network in policy.allowed_private):
        return None
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved or ip.is_unspecified or not ip.is_global:
        return "a reserved address"
    return None


def canonical_url(url: str) -> str:
    """The form used to recognise the same page twice: lower-case scheme and host, no default
    port, no fragment, no tracking parameters, query parameters sorted."""
    try:
        parsed = yarl.URL(url.strip())
    except (ValueError, TypeError):
        return url.strip()
    if not parsed.is_absolute():
        return url.strip()
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parsed.raw_query_string, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING)
    )
    path = parsed.raw_path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/")
    built = yarl.URL.build(
        scheme=parsed.scheme.lower(),
        host=(parsed.raw_host or "").lower(),
        port=parsed.explicit_port if not parsed.is_default_port() else None,
        path=path,
        query_string=urlencode(query),
        encoded=True,
    )
    return str(built)


def check_url(url: str, policy: FetchPolicy) -> yarl.URL:
    """A URL we may fetch, or BadSource. IP literals are checked here (aiohttp does not resolve
    them, so the resolver never sees them)."""
    text = url.strip()
    try:
        parsed = yarl.URL(text)
    except (ValueError, TypeError):
        raise BadSource(f"{text!r} is not a valid URL") from None
    if parsed.scheme not in ("http", "https"):
        raise BadSource(f"only http and https URLs can be added, not {parsed.scheme or text!r}")
    if not parsed.host:
        raise BadSource(f"{text!r} has no host name")
    if parsed.user or parsed.password:
        raise BadSource("URLs with a user name or password are not accepted")
    try:
        literal = ipaddress.ip_address(parsed.host.strip("[]"))
    except ValueError:
        return parsed
    reason = address_refusal(literal, policy)
    if reason:
        raise BadSource(f"{parsed.host} is {reason}; citebot only fetches public web pages")
    return parsed
