"""Fetching a web page for ingestion, safely.

A moderator's URL is untrusted input that makes our server open connections, so:
- only http and https, no credentials in the URL;
- every address a host resolves to must be public (not loopback, private, link-local, shared,
  multicast, reserved...), checked inside the resolver aiohttp connects with, so the address
  checked is the address used (no second DNS lookup an attacker could answer differently);
  IP literals, which aiohttp never resolves, are checked before the request, in every form
  (retrieval.urls parses numeric, octal and hex IPv4 hosts itself and hands aiohttp the dotted
  address, so what is checked is what is connected to, whatever the aiohttp version);
- redirects are followed by hand, at most `max_redirects`, each hop checked the same way (a
  numeric host in a Location header, such as http://2130706433/, is read as its address);
- the body is streamed and cut off at `max_bytes` (after decompression), the whole fetch has a
  time limit, and only article content types are read at all.

The rules themselves (which URLs and addresses) live in retrieval.urls.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult

from retrieval.errors import BadSource
from retrieval.urls import (
    ALLOWED_TYPES,
    FetchPolicy,
    address_refusal,
    canonical_url,
    check_url,
    parse_networks,
)

__all__ = [
    "FetchPolicy",
    "Fetched",
    "GuardedResolver",
    "StaticResolver",
    "address_refusal",
    "canonical_url",
    "check_url",
    "fetch",
    "parse_networks",
]

USER_AGENT = "citebot/0.1 (article ingestion for a team knowledge bot)"


@dataclass(frozen=True, slots=True)
class Fetched:
    """A fetched page: the URL it was finally served from, its bytes and declared type."""

    url: str
    data: bytes
    content_type: str | None
    charset: str | None
    redirects: tuple[str, ...] = field(default=())


class GuardedResolver(AbstractResolver):
    """Resolves with `inner`, then refuses the host if any of its addresses is not allowed.

    aiohttp connects to exactly the addresses returned here, so the check and the connection
    use the same lookup. Refusals are remembered per host for a clear message, since aiohttp
    wraps resolver errors in its own connection error.
    """

    def __init__(self, policy: FetchPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self.inner = inner or aiohttp.ThreadedResolver()
        self.refused: dict[str, str] = {}

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        for result in results:
            reason = address_refusal(ipaddress.ip_address(result["host"]), self.policy)
            if reason:
                self.refused[host] = f"{host} resolves to {reason} ({result['host']})"
                raise OSError(f"refused: {self.refused[host]}")
        return results

    async def close(self) -> None:
        await self.inner.close()


class StaticResolver(AbstractResolver):
    """A resolver from a fixed table (host -> addresses), for tests and for pinning hosts."""

    def __init__(self, table: Mapping[str, Sequence[str]]) -> None:
        self.table = {k.lower(): list(v) for k, v in table.items()}

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = self.table.get(host.lower())
        if not addresses:
            raise OSError(f"{host}: name not known")
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in addresses
        ]

    async def close(self) -> None:
        return None


def _next_hop(current: yarl.URL, location: str, policy: FetchPolicy) -> yarl.URL:
    """The URL a redirect leads to, checked exactly like the first one (numeric hosts
    included), or BadSource naming both ends of the hop."""
    shown = location if len(location) <= 200 else location[:200] + "..."
    try:
        following = str(current.join(yarl.URL(location)))
    except (ValueError, TypeError):
        raise BadSource(f"{current} redirects to {shown!r}, which is not a valid URL") from None
    try:
        return check_url(following, policy)
    except BadSource as exc:
        raise BadSource(f"{current} redirects to {shown}, refused: {exc}") from None


def _media_type(header: str | None) -> tuple[str | None, str | None]:
    if not header:
        return None, None
    main, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "charset" and value:
            charset = value.strip().strip('"')
    return main.strip().lower() or None, charset


async def fetch(
    url: str, policy: FetchPolicy | None = None, *, resolver: AbstractResolver | None = None
) -> Fetched:
    """Download one article page within the policy; BadSource says why not."""
    policy = policy or FetchPolicy()
    target = check_url(url, policy)
    guard = GuardedResolver(policy, resolver)
    connector = aiohttp.TCPConnector(resolver=guard, use_dns_cache=False, limit=4)
    timeout = aiohttp.ClientTimeout(total=policy.timeout)
    hops: list[str] = []
    try:
        async with aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            headers={"User-Agent": USER_AGENT, "Accept": ", ".join(sorted(ALLOWED_TYPES))},
            trust_env=False,
        ) as session:
            async with asyncio.timeout(policy.timeout):
                while True:
                    async with session.get(
                        target, allow_redirects=False, max_line_size=16384, max_field_size=16384
                    ) as response:
                        if response.status in (301, 302, 303, 307, 308):
                            location = response.headers.get("Location")
                            if not location:
                                raise BadSource(f"{target} redirects without a Location")
                            if len(hops) >= policy.max_redirects:
                                raise BadSource(
                                    f"{url} redirects more than {policy.max_redirects} times"
                                )
                            hops.append(str(target))
                            target = _next_hop(target, location, policy)
                            continue
                        return await _read(response, target, policy, tuple(hops))
    except TimeoutError:
        raise BadSource(f"{url} took longer than {policy.timeout:g} s to download") from None
    except aiohttp.ClientConnectorError as exc:
        host = exc.host
        if host in guard.refused:
            raise BadSource(
                f"{guard.refused[host]}; citebot only fetches public web pages"
            ) from None
        raise BadSource(f"cannot connect to {host}: {exc.os_error or exc}") from None
    except aiohttp.TooManyRedirects:
        raise BadSource(f"{url} redirects too many times") from None
    except aiohttp.ClientResponseError as exc:
        raise BadSource(f"{url}: the server's response is malformed ({exc.message})") from None
    except aiohttp.ClientError as exc:
        raise BadSource(f"cannot download {url}: {exc}") from None


async def _read(
    response: aiohttp.ClientResponse, url: yarl.URL, policy: FetchPolicy, hops: tuple[str, ...]
) -> Fetched:
    if response.status >= 400:
        raise BadSource(f"{url} answered HTTP {response.status}")
    media, charset = _media_type(response.headers.get("Content-Type"))
    if media is not None and media not in ALLOWED_TYPES:
        raise BadSource(f"{url} serves {media}, not an article (HTML, PDF, plain text or Markdown)")
    limit_mb = policy.max_bytes / 1_048_576
    declared = response.content_length
    if declared is not None and declared > policy.max_bytes:
        raise BadSource(f"{url} is {declared / 1_048_576:.1f} MB; the limit is {limit_mb:g} MB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(65536):
        size += len(chunk)
        if size > policy.max_bytes:
            raise BadSource(f"{url} is larger than the {limit_mb:g} MB limit")
        chunks.append(chunk)
    return Fetched(str(url), b"".join(chunks), media, charset, hops)
