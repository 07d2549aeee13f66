"""Hostile host forms, refused by citebot's own parsing whatever the HTTP library would do.

Each form is checked with `check_url` and end to end through `KnowledgeBase.add_url` against a
real database, which must be left exactly as it was. The knowledge base is given a resolver that
knows no names, so even a form that slipped through could not send a DNS query: no packet leaves
this machine.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from retrieval.errors import BadSource
from retrieval.fetch import StaticResolver
from retrieval.knowledge import KnowledgeBase
from retrieval.urls import FetchPolicy, canonical_url, check_url, numeric_ipv4, parse_networks
from tests.conftest import table_dump

LOCAL = FetchPolicy(allowed_private=parse_networks("127.0.0.1/32"))
PUBLIC_ONLY = "; citebot only fetches public web pages"

# URL -> the whole message a user sees. None of these is in 127.0.0.1/32, so LOCAL refuses them
# as well as the default policy does.
HOSTILE = {
    # Shortened, decimal, octal and hex IPv4 forms (inet_aton reads them all).
    "http://127.2/": "127.2 (127.0.0.2) is a loopback address",
    "http://2130706434/": "2130706434 (127.0.0.2) is a loopback address",
    "http://0177.0.0.2/": "0177.0.0.2 (127.0.0.2) is a loopback address",
    "http://0x7f.2/": "0x7f.2 (127.0.0.2) is a loopback address",
    "http://0x7f000002/": "0x7f000002 (127.0.0.2) is a loopback address",
    "http://0X7F.0.0.2/admin": "0x7f.0.0.2 (127.0.0.2) is a loopback address",
    "http://127.000.000.002:8080/": "127.000.000.002 (127.0.0.2) is a loopback address",
    "http://127.0.0.2./": "127.0.0.2. (127.0.0.2) is a loopback address",
    "http://10.1/": "10.1 (10.0.0.1) is a private address",
    "http://012.0.0.1/": "012.0.0.1 (10.0.0.1) is a private address",
    "http://192.168.257/": "192.168.257 (192.168.1.1) is a private address",
    "http://0xa9fea9fe/latest/meta-data": "0xa9fea9fe (169.254.169.254) is a link-local address",
    "http://169.254.43518/": "169.254.43518 (169.254.169.254) is a link-local address",
    "http://0/": "0 (0.0.0.0) is a private address",
    "http://0xe0000001/": "0xe0000001 (224.0.0.1) is a multicast address",
    "http://100.64.1/": "100.64.1 (100.64.0.1) is a reserved address",
    # Full-width digits and ideographic dots (IDNA folds them), percent-encoded hosts.
    "http://１２７.０.０.２/": "127.0.0.2 is a loopback address",
    "http://127。0。0。2/": "127.0.0.2 is a loopback address",
    "http://%31%32%37.0.0.2/": "%31%32%37.0.0.2 (127.0.0.2) is a loopback address",
    "http://127%2E0%2E0%2E2/": "127%2e0%2e0%2e2 (127.0.0.2) is a loopback address",
    "http://%EF%BC%91%EF%BC%92%EF%BC%97.0.0.2/": (
        "%ef%bc%91%ef%bc%92%ef%bc%97.0.0.2 (127.0.0.2) is a loopback address"
    ),
    "http://%3A%3A1/": "%3a%3a1 (::1) is a loopback address",
    # IPv6 literals, and the IPv6 forms that carry an IPv4 address.
    "http://[::1]/": "::1 is a loopback address",
    "http://[fe80::1%25eth0]/": "fe80::1%25eth0 (fe80::1) is a link-local address",
    "http://[fec0::1]/": "fec0::1 is a site-local address",
    "http://[::ffff:127.0.0.2]/": "::ffff:7f00:2 (127.0.0.2) is a loopback address",
    "http://[::127.0.0.2]/": "::7f00:2 (127.0.0.2) is a loopback address",
    "http://[::ffff:0:10.0.0.1]/": "::ffff:0:a00:1 (10.0.0.1) is a private address",
    "http://[64:ff9b::10.0.0.1]/": "64:ff9b::a00:1 (10.0.0.1) is a private address",
    "http://[64:ff9b::a9fe:a9fe]/": "64:ff9b::a9fe:a9fe (169.254.169.254) is a link-local address",
    "http://[64:ff9b:1::a00:1]/": "64:ff9b:1::a00:1 is a private address",
    "http://[2002:7f00:2::1]/": "2002:7f00:2::1 (127.0.0.2) is a loopback address",
}
HOSTILE = {url: message + PUBLIC_ONLY for url, message in HOSTILE.items()}

NOT_A_NUMBER = "ends in a number but is not a valid IPv4 address; use a host name or four numbers"
MALFORMED = {
    "http://256.1.1.1/": f"'256.1.1.1' {NOT_A_NUMBER}",
    "http://0x1ffffffff/": f"'0x1ffffffff' {NOT_A_NUMBER}",
    "http://1.2.3.4.5/": f"'1.2.3.4.5' {NOT_A_NUMBER}",
    "http://08.0.0.1/": f"'08.0.0.1' {NOT_A_NUMBER}",
    "http://1.2.65536/": f"'1.2.65536' {NOT_A_NUMBER}",
    "http://4294967296/": f"'4294967296' {NOT_A_NUMBER}",
    "http://0x/": f"'0x' {NOT_A_NUMBER}",
    "http://127.0.0.1../": "'127.0.0.1..' is not a valid host name",
    "http://%2531%2532%2537.0.0.1/": "'%2531%2532%2537.0.0.1' is not a valid host name",
    "http://127.0.0.1%00/": "'127.0.0.1%00' is not a valid host name",
    "http://%5B%3A%3A1%5D/": "'%5b%3a%3a1%5d' is not a valid host name",
    "http://[::ffff:0177.0.0.1]/": "'::ffff:0177.0.0.1' is not a valid IPv6 address",
    "http://[2606:4700::1%25eth0]/": "2606:4700::1%25eth0: IPv6 zone ids (%25...) are not accepted",
}
REFUSED = {**HOSTILE, **MALFORMED}


@pytest.mark.parametrize("policy", [FetchPolicy(), LOCAL], ids=["default", "local"])
@pytest.mark.parametrize(("url", "message"), list(REFUSED.items()))
def test_hostile_hosts_are_refused_naming_the_address(
    url: str, message: str, policy: FetchPolicy
) -> None:
    with pytest.raises(BadSource) as refused:
        check_url(url, policy)
    assert str(refused.value).startswith(message)


async def test_hostile_hosts_are_refused_by_add_url_and_leave_the_database_as_it_was(
    db_path: Path,
) -> None:
    nobody = StaticResolver({})  # any name lookup fails here, before a packet is sent
    async with await KnowledgeBase.open(db_path, fetch_policy=LOCAL, resolver=nobody) as kb:
        before = table_dump(db_path)
        assert before["documents"], "the seeded articles make 'unchanged' mean something"
        for url, message in REFUSED.items():
            with pytest.raises(BadSource, match=re.escape(message)):
                await kb.add_url(url, guild_id=7, added_by="mallory")
        assert table_dump(db_path) == before


@pytest.mark.parametrize(
    "host",
    [
        "127.1",
        "0x7f.1",
        "0X7F.0.0.1",
        "0177.0.0.2",
        "2130706433",
        "4294967295",
        "0xffffffff",
        "1.16777215",
        "1.2.65535",
        "00000000000000177.1",
        "0x00000000007f.1",
        "127.0.0.01",
        "0",
        "1.2.65536",
        "4294967296",
        "1.16777216",
        "256.1.1.1",
        "1.2.3.4.5",
        "0x.1",
        "09",
        "0x7g.1",
        "1..1",
    ],
)
def test_numeric_hosts_are_read_as_inet_aton_reads_them(host: str) -> None:
    """The C library's inet_aton (what getaddrinfo applies to a numeric host) is the reference."""
    try:
        expected = socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        with pytest.raises(ValueError):
            numeric_ipv4(host)
    else:
        assert str(numeric_ipv4(host)) == expected


def test_names_are_not_numbers_and_a_trailing_dot_is_allowed() -> None:
    assert numeric_ipv4("example.org") is None
    assert numeric_ipv4("1e2.example") is None  # the last label decides
    assert str(numeric_ipv4("127.0.0.1.")) == "127.0.0.1"
    with pytest.raises(ValueError):
        numeric_ipv4("example.123")  # ends in a number: a browser refuses it too


def test_an_allowed_network_admits_its_numeric_forms_and_only_those() -> None:
    assert str(check_url("http://127.1:8080/a?b=1", LOCAL)) == "http://127.0.0.1:8080/a?b=1"
    assert str(check_url("http://0x7f000001/", LOCAL)) == "http://127.0.0.1/"
    assert str(check_url("http://１２７.０.０.１/", LOCAL)) == "http://127.0.0.1/"
    assert str(check_url("http://exa%6Dple.org/", FetchPolicy())) == "http://example.org/"
    assert str(check_url("http://134744072/", FetchPolicy())) == "http://8.8.8.8/"
    assert str(check_url("http://%32%36%30%36%3A%34%37%30%30%3A%3A%31/", FetchPolicy())) == (
        "http://[2606:4700::1]/"
    )
    with pytest.raises(BadSource, match=r"::808:808 is a reserved address"):
        check_url("http://[::8.8.8.8]/", FetchPolicy())  # deprecated form, never public
    with pytest.raises(BadSource, match=r"127\.2 \(127\.0\.0\.2\) is a loopback address"):
        check_url("http://127.2/", LOCAL)


def test_canonical_urls_read_numeric_hosts_and_keep_ipv6_brackets() -> None:
    assert canonical_url("http://0x7f.1:8080/a/") == "http://127.0.0.1:8080/a"
    assert canonical_url("http://127.0.0.1:8080/a") == "http://127.0.0.1:8080/a"
    assert canonical_url("http://[2606:4700::1]:8080/a?b=1") == "http://[2606:4700::1]:8080/a?b=1"
    assert canonical_url("http://[2606:4700::1]:80/") == "http://[2606:4700::1]/"
