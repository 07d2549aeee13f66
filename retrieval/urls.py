"""URL and address rules for fetching web pages: which URLs and which IP addresses are allowed.

Kept apart from the HTTP client (retrieval.fetch) so that the command line can check and
canonicalise URLs without importing aiohttp, and so the rules can be tested on their own.
`CITEBOT_ALLOWED_PRIVATE_NETWORKS` (CIDR blocks) exempts exactly those networks, for a team's own
intranet or for tests on 127.0.0.1; it is empty by default.

Hosts are parsed here, not left to the HTTP library: numeric IPv4 forms (`2130706433`, `127.1`,
`0177.0.0.1`, `0x7f.1`), percent-encoded and full-width hosts are turned into the address they
name and checked, whichever aiohttp (or socket) version would otherwise interpret them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlencode

from retrieval.errors import BadSource

if TYPE_CHECKING:
    import yarl

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


# NAT64 prefixes (RFC 6052, RFC 8215). The well-known /96 carries a public IPv4 address in its low
# 32 bits; the local-use /48 is an operator's own translator, where the IPv4 address sits at a
# place only the operator knows, so it is refused as a whole like any private network.
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
# IPv4-compatible (::a.b.c.d, deprecated) and IPv4-translated (::ffff:0:a.b.c.d, SIIT)
# addresses: never public addresses in their own right, but judged by the IPv4 address inside.
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address that packets to `ip` may end up at, for the IPv6 forms that carry one:
    mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d),
    NAT64 (64:ff9b::a.b.c.d), 6to4 (2002:AABB:CCDD::) and Teredo (the client address in
    2001:0::/32)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if (
        ip in _NAT64_WELL_KNOWN
        or ip in _IPV4_TRANSLATED
        or (ip in _IPV4_COMPATIBLE and int(ip) > 1)
    ):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)  # the low 32 bits; not :: or ::1
    if ip.sixtofour is not None:
        return ip.sixtofour
    return ip.teredo[1] if ip.teredo else None


def _refusal(ip: IPAddress, policy: FetchPolicy) -> tuple[IPAddress, str] | None:
    """The address that decided the refusal (`ip` or the IPv4 address inside it) and why."""
    if ip.version == 6 and ip.scope_id:  # fe80::1%eth0: the zone does not change the class
        ip = ipaddress.IPv6Address(ip.packed)
    if any(ip in network for network in policy.allowed_private):
        return None
    if ip.version == 6:
        if ip in _NAT64_LOCAL_USE:
            return ip, "a private address"
        embedded = embedded_ipv4(ip)
        if embedded is not None:
            inner = _refusal(embedded, policy)
            if inner is None and (ip in _IPV4_COMPATIBLE or ip in _IPV4_TRANSLATED):
                return ip, "a reserved address"
            return inner
        if ip.is_site_local:  # fec0::/10, deprecated but still routed inside some networks
            return ip, "a site-local address"
    if ip.is_loopback:
        return ip, "a loopback address"
    if ip.is_link_local:
        return ip, "a link-local address"
    if ip.is_multicast:
        return ip, "a multicast address"
    if ip.is_private:
        return ip, "a private address"
    if ip.is_reserved or ip.is_unspecified or not ip.is_global:
        return ip, "a reserved address"
    return None


def address_refusal(ip: IPAddress, policy: FetchPolicy) -> str | None:
    """Why connecting to `ip` is refused, or None when it is allowed.

    An IPv6 address that carries an IPv4 address is judged by the IPv4 address, since that is
    where the packets go; `CITEBOT_ALLOWED_PRIVATE_NETWORKS` exempts exactly its networks.
    """
    found = _refusal(ip, policy)
    return found[1] if found else None


_NUMBER = re.compile(r"0[xX][0-9a-fA-F]*|[0-9]+")
_DIGITS = {
    8: frozenset("01234567"),
    10: frozenset("0123456789"),
    16: frozenset("0123456789abcdefABCDEF"),
}
# What each part of a 1-, 2-, 3- or 4-part numeric host may hold: the last fills the rest.
_PART_LIMITS = {1: (0xFFFFFFFF,), 2: (255, 0xFFFFFF), 3: (255, 255, 0xFFFF), 4: (255,) * 4}


def _ipv4_part(text: str) -> int:
    """One part of a numeric host as inet_aton reads it: 0x hex, 0 octal, else decimal."""
    if text[:2] in ("0x", "0X"):
        digits, base = text[2:], 16
    elif len(text) > 1 and text[0] == "0":
        digits, base = text[1:], 8
    else:
        digits, base = text, 10
    if not digits or not set(digits) <= _DIGITS[base]:  # int() would also take "_" and spaces
        raise ValueError(text)
    return int(digits, base)


def numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a numeric host stands for, the way inet_aton (and so getaddrinfo and
    most HTTP clients) read it: `127.1`, `2130706433`, `0177.0.0.1`, `0x7f.1`, `127.0.0.1.`.

    None when the host is a name. A host whose last label is a number is numeric (as in the
    WHATWG URL standard); if it is then not a valid address (`256.1.1.1`, `1.2.3.4.5`,
    `0x1ffffffff`, `08.1.1.1`), ValueError: no client may be left to guess what it means.
    """
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()  # one trailing dot, as in a fully qualified name
    if not _NUMBER.fullmatch(labels[-1]):
        return None
    limits = _PART_LIMITS.get(len(labels))
    if limits is None:
        raise ValueError(host)
    value = 0
    for text, limit in zip(labels, limits, strict=True):
        part = _ipv4_part(text)
        if part > limit:
            raise ValueError(host)
        value = value * (limit + 1) + part
    return ipaddress.IPv4Address(value)


@dataclass(frozen=True, slots=True)
class Host:
    """A URL's host as the connection will use it, and its IP address when it is a literal."""

    name: str
    address: IPAddress | None = None


def parse_host(written: str) -> Host:
    """The host as written in a URL (percent-encoded, see yarl's raw_host) after every
    normalisation a client could apply: percent-decoding, IDNA folding (full-width digits and
    dots become ASCII), numeric IPv4 forms read as inet_aton reads them. What is checked is then
    what is used. BadSource names a host that no client could use unambiguously."""
    host = written
    if "%" in host and ":" not in host:
        import yarl  # lazy, see check_url

        try:
            host = yarl.URL.build(scheme="http", host=unquote(host, errors="strict")).host or ""
        except (UnicodeDecodeError, ValueError):
            raise BadSource(f"{written!r} is not a valid host name") from None
        if "%" in host:  # encoded twice: no name or address contains a "%"
            raise BadSource(f"{written!r} is not a valid host name")
    if ":" in host:
        try:
            return Host(host, ipaddress.IPv6Address(host))
        except ValueError:
            raise BadSource(f"{written!r} is not a valid IPv6 address") from None
    if len(host) > 253 or "" in host.removesuffix(".").split("."):
        raise BadSource(f"{written!r} is not a valid host name")
    try:
        address = numeric_ipv4(host)
    except ValueError:
        raise BadSource(
            f"{written!r} ends in a number but is not a valid IPv4 address; "
            "use a host name or four numbers from 0 to 255"
        ) from None
    if address is None:
        return Host(host)
    return Host(str(address), address)


def canonical_url(url: str) -> str:
    """The form used to recognise the same page twice: lower-case scheme and host, numeric IPv4
    hosts dotted, no default port, no fragment, no tracking parameters, query parameters
    sorted."""
    import yarl  # lazy, see check_url

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
    host = (parsed.raw_host or "").lower()
    if ":" in host:
        host = f"[{host}]"
    else:
        try:
            address = numeric_ipv4(host)
        except ValueError:
            address = None
        if address is not None:  # http://127.1/ and http://127.0.0.1/ are the same page
            host = str(address)
    path = parsed.raw_path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/")
    built = yarl.URL.build(
        scheme=parsed.scheme.lower(),
        host=host,
        port=parsed.explicit_port if not parsed.is_default_port() else None,
        path=path,
        query_string=urlencode(query),
        encoded=True,
    )
    return str(built)


def check_url(url: str, policy: FetchPolicy) -> yarl.URL:
    """A URL we may fetch, or BadSource.

    Returned with its host normalised (see parse_host): a numeric host such as `0x7f.1` becomes
    its dotted address, so the HTTP library connects to exactly the address checked here,
    whatever its own parsing. IP literals are checked here (they never reach the resolver);
    names are checked on every address they resolve to (retrieval.fetch.GuardedResolver).
    """
    # Imported here, not at the top: FetchPolicy is built by every `citebot ask`, which has no
    # URL to parse and should not pay for yarl (with multidict, idna and propcache).
    import yarl

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
    written = parsed.raw_host or ""  # as encoded in the URL: yarl's .host decodes only %25
    host = parse_host(written)
    if host.address is None:
        return parsed if host.name == written else parsed.with_host(host.name)
    found = _refusal(host.address, policy)
    if found:
        judged, reason = found
        shown = written if str(judged) == written else f"{written} ({judged})"
        raise BadSource(f"{shown} is {reason}; citebot only fetches public web pages")
    if host.address.version == 6 and host.address.scope_id:
        raise BadSource(f"{written}: IPv6 zone ids (%25...) are not accepted")
    return parsed if host.name == written else parsed.with_host(host.name)
