"""Fetching web pages safely, against a real aiohttp server on 127.0.0.1.

No test sends a packet outside 127.0.0.0/8: private and reserved ranges are checked on the
address rule itself or through a test resolver that answers before any connection is made.
"""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from yarl import URL

from retrieval.errors import BadSource
from retrieval.fetch import (
    FetchPolicy,
    StaticResolver,
    address_refusal,
    canonical_url,
    check_url,
    fetch,
    parse_networks,
)
from retrieval.knowledge import KnowledgeBase
from tests.conftest import table_dump

LOCAL = FetchPolicy(allowed_private=parse_networks("127.0.0.1/32"))
ARTICLE = "<html><head><title>T</title></head><body><p>Hello there.</p></body></html>"


class Site:
    """The test web server: routes registered per test, a URL helper, a gate for slow pages."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.gate = asyncio.Event()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    app = web.Application()
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    holder: dict[str, Site] = {}

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=ARTICLE, content_type="text/html")

    async def hop(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        raise web.HTTPFound(f"/hop/{n - 1}" if n > 0 else "/page")

    async def to_other_loopback(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://127.0.0.2:{holder['site'].port}/page")

    async def slow(request: web.Request) -> web.Response:
        await holder["site"].gate.wait()  # released only at teardown
        return web.Response(text=ARTICLE, content_type="text/html")

    async def huge_declared(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (6 * 1024 * 1024), content_type="text/html")

    async def huge_streamed(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for _ in range(200):  # 200 x 64 KiB = 12.5 MiB unless the client hangs up
                await response.write(b"y" * 65536)
        except (ConnectionResetError, RuntimeError):
            pass
        return response

    async def gzip_bomb(request: web.Request) -> web.Response:
        body = gzip.compress(b"\0" * (50 * 1024 * 1024), compresslevel=9)
        return web.Response(
            body=body, headers={"Content-Type": "text/plain", "Content-Encoding": "gzip"}
        )

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG\r\n\x1a\n" + b"\0" * 100, content_type="image/png")

    async def missing(request: web.Request) -> web.Response:
        raise web.HTTPNotFound()

    async def redirect(request: web.Request) -> web.Response:
        # The Location exactly as given, even when it is not a valid URL.
        return web.Response(status=302, headers={"Location": request.query["to"]})

    app.router.add_get("/page", page)
    app.router.add_get("/hop/{n}", hop)
    app.router.add_get("/elsewhere", to_other_loopback)
    app.router.add_get("/slow", slow)
    app.router.add_get("/huge", huge_declared)
    app.router.add_get("/stream", huge_streamed)
    app.router.add_get("/bomb", gzip_bomb)
    app.router.add_get("/image.png", image)
    app.router.add_get("/missing", missing)
    app.router.add_get("/redirect", redirect)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    holder["site"] = Site(port)
    try:
        yield holder["site"]
    finally:
        holder["site"].gate.set()
        await runner.cleanup()


async def test_fetches_a_page_and_follows_redirects(site: Site) -> None:
    got = await fetch(site.url("/hop/3"), LOCAL)
    assert got.url == site.url("/page")
    assert got.data.decode() == ARTICLE and got.content_type == "text/html"
    assert len(got.redirects) == 4


async def test_more_than_five_redirects_are_refused(site: Site) -> None:
    await fetch(site.url("/hop/4"), LOCAL)  # five redirects: fine
    with pytest.raises(BadSource, match="redirects more than 5 times"):
        await fetch(site.url("/hop/5"), LOCAL)


async def test_a_redirect_outside_the_allowed_block_is_refused(site: Site) -> None:
    with pytest.raises(BadSource, match=r"127\.0\.0\.2 is a loopback address"):
        await fetch(site.url("/elsewhere"), LOCAL)


def redirect_to(site: Site, location: str) -> str:
    return str(URL(site.url("/redirect")).with_query(to=location))


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("http://2130706434/", r"2130706434 \(127\.0\.0\.2\) is a loopback address"),
        ("http://0177.0.0.2/", r"0177\.0\.0\.2 \(127\.0\.0\.2\) is a loopback address"),
        ("//0x7f.2/page", r"0x7f\.2 \(127\.0\.0\.2\) is a loopback address"),
        ("http://10.1/", r"10\.1 \(10\.0\.0\.1\) is a private address"),
        ("http://256.1.1.1/", "'256.1.1.1' ends in a number but is not a valid IPv4 address"),
        ("http://[::1", "which is not a valid URL"),
    ],
)
async def test_a_redirect_to_a_numeric_host_is_refused(
    site: Site, location: str, message: str
) -> None:
    nobody = StaticResolver({})  # no name is looked up, so no packet leaves this machine
    with pytest.raises(BadSource, match=message) as refused:
        await fetch(redirect_to(site, location), LOCAL, resolver=nobody)
    assert str(refused.value).startswith(f"{site.url('/redirect')}?to=")
    assert " redirects to " in str(refused.value)


async def test_a_redirect_to_a_numeric_host_leaves_the_database_as_it_was(
    site: Site, db_path: Path
) -> None:
    nobody = StaticResolver({})  # no name is looked up, so no packet leaves this machine
    async with await KnowledgeBase.open(db_path, fetch_policy=LOCAL, resolver=nobody) as kb:
        before = table_dump(db_path)
        for location, address in (
            ("http://2130706434/", "2130706434"),
            ("http://0177.0.0.2/", "0177.0.0.2"),
        ):
            with pytest.raises(
                BadSource, match=rf"{re.escape(address)} \(127\.0\.0\.2\) is a loopback address"
            ):
                await kb.add_url(redirect_to(site, location), guild_id=7)
        assert table_dump(db_path) == before


async def test_a_numeric_form_of_an_allowed_address_is_fetched_at_that_address(
    site: Site,
) -> None:
    # aiohttp itself refuses "127.1"; citebot hands it the dotted address it checked.
    for host in ("127.1", "0x7f000001", "2130706433"):
        got = await fetch(site.url("/page", host=host), LOCAL)
        assert got.url == site.url("/page")
        assert got.data.decode() == ARTICLE


async def test_loopback_is_refused_without_the_exemption(site: Site) -> None:
    with pytest.raises(BadSource, match=r"127\.0\.0\.1 is a loopback address"):
        await fetch(site.url("/page"), FetchPolicy())
    with pytest.raises(BadSource, match=r"localhost resolves to a loopback address"):
        await fetch(site.url("/page", host="localhost"), FetchPolicy())


async def test_slow_pages_time_out(site: Site) -> None:
    with pytest.raises(BadSource, match=r"took longer than 0\.2 s"):
        await fetch(
            site.url("/slow"), FetchPolicy(timeout=0.2, allowed_private=LOCAL.allowed_private)
        )


async def test_oversized_bodies_are_cut_off(site: Site) -> None:
    with pytest.raises(BadSource, match=r"is 6\.0 MB; the limit is 5 MB"):
        await fetch(site.url("/huge"), LOCAL)
    small = FetchPolicy(max_bytes=256 * 1024, allowed_private=LOCAL.allowed_private)
    with pytest.raises(BadSource, match=r"larger than the 0\.25 MB limit"):
        await fetch(site.url("/stream"), small)
    with pytest.raises(BadSource, match="larger than the 5 MB limit"):
        await fetch(site.url("/bomb"), LOCAL)  # limits apply after decompression


async def test_wrong_content_type_and_http_errors(site: Site) -> None:
    with pytest.raises(BadSource, match="serves image/png, not an article"):
        await fetch(site.url("/image.png"), LOCAL)
    with pytest.raises(BadSource, match="answered HTTP 404"):
        await fetch(site.url("/missing"), LOCAL)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.org/a.txt", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("http://user:pw@example.org/", "user name or password"),
        ("http:///nohost", "has no host name"),
        ("http://10.0.0.8/", "is a private address"),
        ("http://[::1]:8080/", "is a loopback address"),
        ("http://169.254.169.254/latest/meta-data", "is a link-local address"),
    ],
)
def test_urls_refused_before_any_connection(url: str, message: str) -> None:
    with pytest.raises(BadSource, match=message):
        check_url(url, FetchPolicy())


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("127.0.0.2", "a loopback address"),
        ("169.254.169.254", "a link-local address"),
        ("224.0.0.251", "a multicast address"),
        ("100.64.0.1", "a reserved address"),
        ("0.0.0.0", "a private address"),
        ("240.0.0.1", "a private address"),
        ("192.0.2.10", "a private address"),
        ("::1", "a loopback address"),
        ("fe80::1", "a link-local address"),
        ("fc00::1", "a private address"),
        ("ff02::1", "a multicast address"),
        ("::ffff:10.0.0.1", "a private address"),
        ("2001:db8::1", "a private address"),
        ("2002:a9fe:a9fe::1", "a link-local address"),  # 6to4 around 169.254.169.254
        ("2002:0a00:0001::1", "a private address"),  # 6to4 around 10.0.0.1
    ],
)
def test_non_public_addresses_are_refused(address: str, reason: str) -> None:
    assert address_refusal(ipaddress.ip_address(address), FetchPolicy()) == reason


def test_public_addresses_and_exempted_networks_are_allowed() -> None:
    assert address_refusal(ipaddress.ip_address("93.184.216.34"), FetchPolicy()) is None
    assert address_refusal(ipaddress.ip_address("2606:4700::1"), FetchPolicy()) is None
    exempt = FetchPolicy(allowed_private=parse_networks("10.1.0.0/16, 127.0.0.1/32"))
    assert address_refusal(ipaddress.ip_address("10.1.2.3"), exempt) is None
    assert address_refusal(ipaddress.ip_address("10.2.0.1"), exempt) == "a private address"
    assert address_refusal(ipaddress.ip_address("127.0.0.2"), exempt) == "a loopback address"


async def test_a_host_resolving_to_a_private_address_is_refused_at_resolution() -> None:
    resolver = StaticResolver(
        {"intranet.example": ["10.0.0.5"], "mixed.example": ["127.0.0.1", "192.168.0.9"]}
    )
    with pytest.raises(BadSource, match=r"intranet\.example resolves to a private address"):
        await fetch("http://intranet.example/wiki", LOCAL, resolver=resolver)
    # One bad address is enough: aiohttp would try the others in turn.
    with pytest.raises(BadSource, match=r"mixed\.example resolves to a private address"):
        await fetch("http://mixed.example/", LOCAL, resolver=resolver)


def test_malformed_network_setting_is_named() -> None:
    with pytest.raises(BadSource, match=r"'10\.0\.0\.0/33' is not a CIDR block"):
        parse_networks("127.0.0.1/32, 10.0.0.0/33")
    assert parse_networks("") == ()


def test_canonical_urls_recognise_the_same_page() -> None:
    same = {
        canonical_url(u)
        for u in (
            "HTTPS://Example.org:443/news/story/?utm_source=x&b=2&a=1#comments",
            "https://example.org/news/story?a=1&b=2",
            "https://example.org/news/story?b=2&a=1&fbclid=abc",
        )
    }
    assert same == {"https://example.org/news/story?a=1&b=2"}
    assert canonical_url("http://example.org:8080/") == "http://example.org:8080/"
