"""Strangers' documents are read in limited child processes: CPU, memory and time are bounded,
one server's ingest never holds up another server's questions, and the database is untouched by
every refusal."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from retrieval.errors import BadSource, Busy, CitebotError, DuplicateSource
from retrieval.ingest import MAX_WAITING, IngestQueue
from retrieval.ingest_jobs import read_document
from retrieval.knowledge import KnowledgeBase
from retrieval.models import Caller
from retrieval.sandbox import Budget, HostPool, OverBudget, run_limited, shared_pool
from tests import hostile
from tests.conftest import table_dump

SMALL = Budget(cpu_seconds=1, memory_bytes=256 * 1024 * 1024, wall_seconds=30)


def test_a_job_runs_in_the_child_and_returns_json() -> None:
    value = run_limited(
        hostile.echo, ({"a": [1, "é"]},), name="x", budget=SMALL, pool=shared_pool()
    )
    assert value == {"a": [1, "é"]}


def test_cpu_is_bounded() -> None:
    with pytest.raises(OverBudget, match=r"^spin needs more than 1 s of processing to read"):
        run_limited(hostile.spin, (), name="spin", budget=SMALL, pool=shared_pool())


def test_memory_is_bounded() -> None:
    with pytest.raises(OverBudget, match=r"^hog needs more than 256 MB of memory to read"):
        run_limited(hostile.hog_memory, (), name="hog", budget=SMALL, pool=shared_pool())


def test_wall_time_is_bounded() -> None:
    budget = Budget(cpu_seconds=5, wall_seconds=0.5)
    with pytest.raises(OverBudget, match=r"^nap took longer than 0.5 s to read"):
        run_limited(hostile.hang, (), name="nap", budget=budget, pool=shared_pool())


def test_a_child_that_dies_is_a_clear_refusal_and_the_next_job_works() -> None:
    with pytest.raises(OverBudget, match="could not be read within the limits"):
        run_limited(hostile.die, (), name="x", budget=SMALL, pool=shared_pool())
    assert run_limited(hostile.echo, (1,), name="x", budget=SMALL, pool=shared_pool()) == 1


async def test_a_pdf_built_to_exhaust_the_parser_is_refused_and_changes_nothing(
    db_path: Path,
) -> None:
    queue = IngestQueue(Budget(cpu_seconds=2, wall_seconds=60))
    async with await KnowledgeBase.open(db_path, ingest=queue) as kb:
        before = table_dump(db_path)
        with pytest.raises(OverBudget) as refused:
            await kb.add_upload("report.pdf", hostile.shared_stream_pdf(), guild_id=1)
        assert str(refused.value).startswith(
            "report.pdf needs more than 2 s of processing to read; it is refused as too complex"
        )
        assert table_dump(db_path) == before


async def test_another_server_is_answered_while_one_uploads_hostile_pdfs(db_path: Path) -> None:
    queue = IngestQueue(Budget(cpu_seconds=30, wall_seconds=120), workers=2)
    async with await KnowledgeBase.open(db_path, ingest=queue) as kb:
        attacks = [
            asyncio.create_task(kb.add_upload(f"r{i}.pdf", hostile.shared_stream_pdf(), guild_id=1))
            for i in range(3)
        ]
        await asyncio.sleep(0)  # let them take their turns first
        answers = [
            await kb.ask("How much did DeepSeek spend?", 3, Caller(guild_id=2)) for _ in range(5)
        ]
        assert all(a.answered and "5.6 million" in a.hits[0].text for a in answers)
        # The questions did not wait for the parsing: it is still going on.
        assert not all(t.done() for t in attacks)
        for task in attacks:
            task.cancel()
        await asyncio.gather(*attacks, return_exceptions=True)


async def test_one_ingest_at_a_time_per_server_the_others_are_told_they_wait() -> None:
    queue = IngestQueue(workers=4)
    told: list[tuple[int, int]] = []
    release = asyncio.Event()
    started: list[int] = []

    async def hold(scope: int, label: int) -> None:
        async def note(position: int) -> None:
            told.append((label, position))

        async with queue.turn(scope, note):
            started.append(label)
            await release.wait()

    first = asyncio.create_task(hold(1, 1))
    await asyncio.sleep(0)
    second = asyncio.create_task(hold(1, 2))
    other_server = asyncio.create_task(hold(2, 3))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert started == [1, 3]  # server 2 does not wait behind server 1
    assert told == [(2, 1)]
    waiting = [asyncio.create_task(hold(1, 10 + i)) for i in range(MAX_WAITING - 1)]
    await asyncio.sleep(0)
    with pytest.raises(Busy, match="sources are already being added here"):
        async with queue.turn(1):
            pass
    release.set()
    await asyncio.gather(first, second, other_server, *waiting)
    assert started[:3] == [1, 3, 2]


async def test_pasted_text_and_uploads_still_work_through_the_sandbox(kb: KnowledgeBase) -> None:
    text = (
        "Ferncliff warehouse robots pick four thousand parcels an hour with suction grippers. " * 3
    )
    added = await kb.add_text(text, title="Robots", guild_id=5)
    assert added.passages >= 1 and added.source.title == "Robots"
    with pytest.raises(DuplicateSource):
        await kb.add_upload("robots.txt", text.encode(), guild_id=5)
    with pytest.raises(BadSource, match="is an image"):
        await kb.add_upload("x.txt", b"\x89PNG\r\n\x1a\n" + bytes(64), guild_id=5)


def test_the_budget_comes_from_the_environment() -> None:
    assert Budget.from_env({}) == Budget()
    budget = Budget.from_env({"CITEBOT_INGEST_CPU_SECONDS": "5", "CITEBOT_INGEST_MEMORY_MB": "300"})
    assert (budget.cpu_seconds, budget.memory_bytes) == (5, 300 << 20)
    for bad in ("0", "-1", "x", "²"):
        with pytest.raises(CitebotError, match="CITEBOT_INGEST_CPU_SECONDS must be a positive"):
            Budget.from_env({"CITEBOT_INGEST_CPU_SECONDS": bad})


def test_the_parser_process_gets_no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "not-for-parsers")
    monkeypatch.setenv("SOME_API_KEY", "nor-this")
    pool = HostPool()  # a host started now, with this environment
    try:
        seen = run_limited(hostile.environment, (), name="x", budget=SMALL, pool=pool)
        where = run_limited(hostile.working_directory, (), name="x", budget=SMALL, pool=pool)
    finally:
        pool.close()
    assert "DISCORD_TOKEN" not in seen and "SOME_API_KEY" not in seen
    assert "not-for-parsers" not in str(seen)
    assert where == "/"


def test_the_html_parser_is_loaded_once_a_document_needs_it() -> None:
    """A folder of Markdown never pays for importing the HTML and PDF parsers; once a page
    needed one, the children after it start with it (the host imported it too)."""
    pool = HostPool()
    page = (
        b"<html><head><title>Kestrels</title></head><body><article><p>"
        + (b"Kestrels hover over the north ridge at dawn, hunting voles in the grass. " * 8)
        + b"</p></article></body></html>"
    )

    def read(data: bytes, name: str) -> dict:
        return run_limited(
            read_document, (data, name, None, None, None), name=name, budget=SMALL, pool=pool
        )

    def loaded() -> list[str]:
        return run_limited(hostile.parsers_loaded, (), name="x", budget=SMALL, pool=pool)

    try:
        assert loaded() == []
        note = read(b"# Kestrels\n\nKestrels hover over the north ridge at dawn.\n", "k.md")
        assert note["doc"]["title"] == "Kestrels"
        assert loaded() == []
        assert "hunting voles" in read(page, "k.html")["doc"]["passages"][0]["text"]
        assert loaded() == ["trafilatura"]
        assert "hunting voles" in read(page, "again.html")["doc"]["passages"][0]["text"]
    finally:
        pool.close()


async def test_waiting_for_a_turn_has_a_limit_and_other_servers_slots_are_announced() -> None:
    queue = IngestQueue(workers=1)
    told: list[int] = []

    async def note(position: int) -> None:
        told.append(position)

    async with queue.turn(1):
        with pytest.raises(Busy, match="are taking a long time; try again in a few minutes"):
            async with queue.turn(1, note, wait_limit=0.05):
                pass
        assert told == [1]
        with pytest.raises(Busy):  # the one slot is server 1's: server 2 is told, then waits
            async with queue.turn(2, note, wait_limit=0.05):
                pass
        assert told == [1, 0]
    async with queue.turn(1, note, wait_limit=0.05):  # nothing left behind by the refusals
        assert told == [1, 0]


async def test_pasted_text_over_the_limit_is_refused_before_it_is_sent_to_a_parser(
    kb: KnowledgeBase, db_path: Path
) -> None:
    before = table_dump(db_path)
    with pytest.raises(BadSource, match=r"^the text is too long \(2,000,001 characters; the limit"):
        await kb.add_text("a" * 2_000_001, guild_id=5)
    assert table_dump(db_path) == before
