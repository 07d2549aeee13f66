"""Sources from the web and from files, end to end: a real web server on 127.0.0.1, the facade,
the command line (several items at once, refresh) and the Discord commands.

The tests allow exactly 127.0.0.1/32 (CITEBOT_ALLOWED_PRIVATE_NETWORKS), as a team would allow its
intranet; everything else on loopback stays refused.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from retrieval.errors import BadSource, DuplicateSource
from retrieval.fetch import FetchPolicy, parse_networks
from retrieval.knowledge import KnowledgeBase
from retrieval.models import Caller
from tests.conftest import table_dump
from tests.test_extract import article_page, make_pdf

LOCAL = FetchPolicy(allowed_private=parse_networks("127.0.0.1/32"))
CHIPS = (
    "Nvidia designed the H20 accelerator for the Chinese market after export rules tightened, "
    "and analysts at Ferncliff Research expect shipments to double this year.",
    "The H20 trades raw compute for memory bandwidth, which suits inference workloads and keeps "
    "it below the performance threshold that the export rules set for sales to China.",
    "Cloud providers in Shenzhen said they would rent H20 clusters by the hour to startups that "
    "cannot afford to buy them outright, a model the analysts call compute-as-a-utility.",
)
CHIPS_V2 = (*CHIPS[:2], "Cloud providers in Hangzhou now rent Blackwell-free H20 racks monthly.")


@dataclass
class Site:
    port: int
    pages: dict[str, tuple[bytes, str]] = field(default_factory=dict)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def put(self, path: str, body: bytes | str, content_type: str = "text/html") -> str:
        data = body.encode() if isinstance(body, str) else body
        self.pages[path] = (data, content_type)
        return self.url(path)


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    app = web.Application()
    holder: dict[str, Site] = {}

    async def serve(request: web.Request) -> web.StreamResponse:
        found = holder["site"].pages.get(request.path)
        if found is None:
            raise web.HTTPNotFound()
        body, content_type = found
        if content_type == "redirect":
            raise web.HTTPFound(body.decode())
        return web.Response(body=body, headers={"Content-Type": content_type})

    app.router.add_get("/{tail:.*}", serve)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    holder["site"] = Site(tcp._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    site = holder["site"]
    site.put("/news/h20", article_page(CHIPS, title="Nvidia's China chip"))
    site.put("/mirror/h20", article_page(CHIPS, title="Nvidia's China chip"))
    site.put("/moved", f"http://127.0.0.1:{site.port}/news/h20", "redirect")
    site.put("/away", f"http://127.0.0.2:{site.port}/news/h20", "redirect")
    site.put("/shell", "<html><body><script>render()</script><div id=app></div></body></html>")
    site.put("/logo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png")
    site.put("/huge", b"<p>" + b"word " * (1_300_000), "text/html")
    site.put(
        "/paper.pdf",
        make_pdf(
            [
                [f"Page {n}: the H20 memory bandwidth study, part {n}." for _ in range(3)]
                for n in range(1, 4)
            ],
            title="H20 bandwidth study",
        ),
        "application/pdf",
    )
    try:
        yield site
    finally:
        await runner.cleanup()


@pytest.fixture
async def web_kb(db_path: Path) -> AsyncIterator[KnowledgeBase]:
    async with await KnowledgeBase.open(db_path, fetch_policy=LOCAL) as kb:
        yield kb


async def test_a_news_page_is_added_without_its_chrome(site: Site, web_kb: KnowledgeBase) -> None:
    added = await web_kb.add_url(site.url("/news/h20"))
    assert added.source.title == "Nvidia's China chip"
    assert added.source.kind == "url" and added.source.source == site.url("/news/h20")
    answer = await web_kb.ask("H20 memory bandwidth inference")
    hit = answer.hits[0]
    assert hit.is_url and hit.source == site.url("/news/h20")
    texts = " ".join(h.text for h in answer.hits)
    for chrome in ("cookies", "Related links", "gardening", "Markets and money", "Copyright"):
        assert chrome not in texts
    assert "Ferncliff Research" in added.summary or "H20" in added.summary


async def test_same_page_twice_is_a_duplicate_by_url_and_by_content(
    site: Site, web_kb: KnowledgeBase, db_path: Path
) -> None:
    first = await web_kb.add_url(site.url("/news/h20"))
    before = table_dump(db_path)
    with pytest.raises(
        DuplicateSource, match=rf"this page is already source \[{first.source.doc_id}\]"
    ):
        await web_kb.add_url(site.url("/news/h20?utm_source=newsletter#top"))
    with pytest.raises(DuplicateSource, match="this page is already source"):
        await web_kb.add_url(site.url("/moved"))  # redirects to the same page
    with pytest.raises(DuplicateSource, match="this content is already source"):
        await web_kb.add_url(site.url("/mirror/h20"))
    assert table_dump(db_path) == before


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/shell", "no article text"),
        ("/away", r"127\.0\.0\.2 is a loopback address"),
        ("/logo.png", "serves image/png, not an article"),
        ("/nowhere", "answered HTTP 404"),
        ("/huge", r"is 6\.2 MB; the limit is 5 MB"),
    ],
)
async def test_refused_pages_leave_the_database_untouched(
    site: Site, web_kb: KnowledgeBase, db_path: Path, path: str, message: str
) -> None:
    before = table_dump(db_path)
    with pytest.raises(BadSource, match=message):
        await web_kb.add_url(site.url(path))
    assert table_dump(db_path) == before


async def test_a_pdf_by_url_and_a_pdf_file(
    site: Site, web_kb: KnowledgeBase, tmp_path: Path
) -> None:
    added = await web_kb.add_url(site.url("/paper.pdf"))
    assert added.source.title == "H20 bandwidth study"
    answer = await web_kb.ask("H20 memory bandwidth study part 2")
    assert any("part 2" in h.text for h in answer.hits)
    other = tmp_path / "notes.pdf"
    other.write_bytes(make_pdf([["Ferncliff warehouse robots pick parcels with suction."]]))
    from_file = await web_kb.add_file(other, caller=Caller.terminal())
    assert from_file.source.kind == "file" and from_file.passages == 1


async def test_refresh_replaces_changed_pages_in_place(
    site: Site, web_kb: KnowledgeBase, db_path: Path
) -> None:
    added = await web_kb.add_url(site.url("/news/h20"))
    [same] = await web_kb.refresh(added.source.doc_id, Caller.terminal())
    assert same.status == "unchanged"
    site.put("/news/h20", article_page(CHIPS_V2, title="Nvidia's China chip"))
    [changed] = await web_kb.refresh(added.source.doc_id, Caller.terminal())
    assert changed.status == "changed"
    hit = (await web_kb.ask("Hangzhou racks monthly")).hits[0]
    assert hit.doc_id == added.source.doc_id
    assert not (await web_kb.ask("Shenzhen startups rent by the hour")).answered
    del site.pages["/news/h20"]
    before = table_dump(db_path)
    [failed] = await web_kb.refresh(added.source.doc_id, Caller.terminal())
    assert failed.status == "failed" and "HTTP 404" in failed.detail
    assert table_dump(db_path) == before  # the old content stays when a refresh fails


async def test_cli_adds_several_items_and_a_folder_with_a_summary(
    site: Site, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITEBOT_ALLOWED_PRIVATE_NETWORKS", "127.0.0.1/32")
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "robots.md").write_text("# Robots\n\nFerncliff robots pick parcels by suction.\n")
    (folder / "latin.txt").write_bytes(
        "Le modèle a coûté très peu, selon les rapports.".encode("cp1252")
    )
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 32)
    (folder / "page.html").write_text(article_page(CHIPS[::-1], title="Local copy"))
    result = await asyncio.to_thread(
        cli,
        "sources",
        "add",
        site.url("/news/h20"),
        site.url("/mirror/h20"),
        site.url("/away"),
        str(folder),
    )
    lines = result.out.strip().splitlines()
    assert result.code == 1  # one item failed
    assert lines[-1] == (
        "4 added, 1 skipped as duplicates, 1 failed; 1 other file in the folders ignored"
    )
    assert any(line.startswith("failed " + site.url("/away")) for line in lines), lines
    assert any(line.startswith("skipped " + site.url("/mirror/h20")) for line in lines)
    listing = json.loads((await asyncio.to_thread(cli, "sources", "list", "--json")).out)
    titles = {s["title"] for s in listing}
    assert {"Nvidia's China chip", "Robots", "Local copy"} <= titles
    assert any(s["title"].startswith("Le modèle a coûté") for s in listing)

    site.put("/news/h20", article_page(CHIPS_V2, title="Nvidia's China chip"))
    refreshed = await asyncio.to_thread(cli, "sources", "refresh", "--all")
    assert refreshed.code == 0, refreshed.err
    assert refreshed.out.strip().splitlines()[-1] == "1 changed, 3 unchanged, 0 skipped, 0 failed"
