"""The facade and its storage: scopes, freshness, transactions, migrations, the log."""

import json
import sqlite3
from pathlib import Path

import pytest

from retrieval.errors import BadSource, DuplicateSource, Forbidden, NotFound
from retrieval.knowledge import KnowledgeBase
from retrieval.models import Caller
from retrieval.store import SCHEMA_VERSION, Store
from tests.conftest import dump_tables, query_rows, table_dump

ROOT = Path(__file__).resolve().parent.parent
GUILD_A, GUILD_B = 111111111111111111, 222222222222222222
ROBOTICS = (
    "Warehouse robots at Ferncliff Logistics now pick 4,000 parcels an hour. "
    "The Ferncliff robots use suction grippers and a shared map of the shelves, "
    "and the company says the fleet paid for itself within eleven months."
)


async def test_bundled_corpus_is_ingested_once(address):
    async with await KnowledgeBase.open(address) as kb:
        assert len(await kb.list_sources()) == 5
        assert await kb.ensure_seeds() == 0
    before = await dump_tables(address)
    async with await KnowledgeBase.open(address) as kb:
        assert [s.source for s in await kb.list_sources()][2] == "seeds/002_2d5ac121eab98ad0.txt"
    assert await dump_tables(address) == before


async def test_a_bundled_corpus_that_differs_from_seeds_is_brought_up_to_date_on_open(db_path):
    """Opening checks the bundled corpus with one read (its fingerprint); when that differs,
    as in a database seeded by another version, the articles are ingested again."""
    async with await KnowledgeBase.open(db_path):
        pass
    with sqlite3.connect(db_path) as con:
        con.execute("PRAGMA foreign_keys = ON")
        con.execute("DELETE FROM documents WHERE source = 'seeds/002_2d5ac121eab98ad0.txt'")
        con.execute("UPDATE meta SET value = 'older' WHERE key = 'seed_fingerprint'")
    async with await KnowledgeBase.open(db_path, seed=False) as kb:
        assert len(await kb.list_sources()) == 4  # seed=False: left as it is
    async with await KnowledgeBase.open(db_path) as kb:
        sources = await kb.list_sources()
        assert [s.source for s in sources][4] == "seeds/002_2d5ac121eab98ad0.txt"
        assert len(sources) == 5
        assert (await kb.ask("How much did DeepSeek spend to train its model?")).answered
    with sqlite3.connect(db_path) as con:
        stored = con.execute("SELECT value FROM meta WHERE key = 'seed_fingerprint'").fetchone()
    assert stored[0] != "older"


async def test_schema_version_wal_and_refusal_of_a_newer_schema(db_path):
    async with await KnowledgeBase.open(db_path):
        pass
    with sqlite3.connect(db_path) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        con.execute("PRAGMA user_version = 999")
    with pytest.raises(RuntimeError, match="newer than this citebot"):
        await Store.open(db_path)


async def test_a_server_sees_its_own_sources_and_the_bundled_corpus_only(any_kb):
    kb = any_kb
    added = await kb.add_text(ROBOTICS, title="Ferncliff robots", guild_id=GUILD_A)
    assert added.source.guild_id == GUILD_A and added.passages == 1
    in_a = await kb.ask("Ferncliff robots suction grippers", caller=Caller(guild_id=GUILD_A))
    assert in_a.answered and in_a.hits[0].title == "Ferncliff robots"
    assert in_a.articles_searched == 6
    for caller in (Caller(guild_id=GUILD_B), Caller()):
        elsewhere = await kb.ask("Ferncliff robots suction grippers", caller=caller)
        assert not elsewhere.answered and elsewhere.articles_searched == 5
    assert [s.title for s in await kb.list_sources(GUILD_B)] == [
        s.title for s in await kb.list_sources()
    ]
    with pytest.raises(NotFound):
        await kb.summary("Ferncliff", GUILD_B)
    assert (await kb.summary("Ferncliff", GUILD_A)).doc_id == added.source.doc_id
    with pytest.raises(NotFound):
        await kb.remove_source(added.source.doc_id, Caller.member(GUILD_B, 7))
    bundled = await kb.ask("Stargate Project", caller=Caller(guild_id=GUILD_B))
    assert bundled.answered


async def test_duplicates_are_refused_per_server_and_against_the_bundled_corpus(any_kb):
    kb = any_kb
    await kb.add_text(ROBOTICS, guild_id=GUILD_A)
    with pytest.raises(DuplicateSource, match=r"already source \[6\]"):
        await kb.add_text("  " + ROBOTICS.replace(". ", ".\n\n"), guild_id=GUILD_A)
    assert (await kb.add_text(ROBOTICS, guild_id=GUILD_B)).source.doc_id == 7
    seed = (await kb.list_sources())[2]
    text = (ROOT / seed.source).read_text(encoding="utf-8")
    with pytest.raises(DuplicateSource, match=r"already source \[3\] \"China's AI Leap"):
        await kb.add_text(text, guild_id=GUILD_A)


async def test_servers_cannot_remove_global_or_bundled_sources(any_kb):
    kb = any_kb
    shared = await kb.add_text(ROBOTICS)
    with pytest.raises(Forbidden, match="only be removed from the command line"):
        await kb.remove_source(shared.source.doc_id, Caller.member(GUILD_A, 7))
    with pytest.raises(Forbidden, match="bundled corpus"):
        await kb.remove_source(1, Caller.member(GUILD_A, 7))
    own = await kb.add_text(ROBOTICS.replace("Ferncliff", "Hollow Oak"), guild_id=GUILD_A)
    removed = await kb.remove_source(own.source.doc_id, Caller.member(GUILD_A, 7))
    assert removed.title == own.source.title


async def test_a_source_added_by_another_process_is_found_without_restart(address, any_kb):
    kb, db_path = any_kb, address
    first = await kb.ask("Ferncliff parcels per hour")
    assert not first.answered
    async with await KnowledgeBase.open(db_path) as other:  # another connection, as the CLI
        await other.add_text(ROBOTICS, title="Ferncliff robots")
    second = await kb.ask("Ferncliff parcels per hour")
    assert second.answered and second.hits[0].title == "Ferncliff robots"
    async with await KnowledgeBase.open(db_path) as other:
        await other.remove_source(second.hits[0].doc_id, Caller.terminal())
    assert not (await kb.ask("Ferncliff parcels per hour")).answered


async def test_a_failed_ingest_leaves_no_half_added_source(kb, db_path):
    # A real SQLite trigger makes the third passage's insert fail mid-transaction.
    with sqlite3.connect(db_path) as con:
        con.execute(
            "CREATE TRIGGER explode BEFORE INSERT ON passages WHEN NEW.text LIKE '%EXPLODE%' "
            "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )
    before = table_dump(db_path)
    paragraphs = [f"Paragraph {i} about Ferncliff robots. " * 8 for i in range(4)]
    paragraphs[2] += "EXPLODE"
    with pytest.raises(sqlite3.IntegrityError, match="disk on fire"):
        await kb.add_text("\n\n".join(paragraphs), title="Half an article")
    assert table_dump(db_path) == before
    assert not (await kb.ask("Ferncliff robots")).answered


async def test_refused_text_writes_nothing(any_kb, address):
    kb = any_kb
    before = await dump_tables(address)
    with pytest.raises(BadSource, match="has no text that can be searched"):
        await kb.add_text("!!! ??? ... the of and")
    with pytest.raises(BadSource, match="too long"):
        await kb.add_text("word " * 500_000)
    assert await dump_tables(address) == before


async def test_the_log_row_carries_who_asked_from_where(any_kb, address):
    kb = any_kb
    caller = Caller(surface="discord", guild_id=GUILD_A, channel_id=42, user_id=7, command="ask")
    answer = await kb.ask("What did Zuckerberg pledge to invest?", k=2, caller=caller)
    assert answer.answered and "$60 billion" in answer.hits[0].text
    [row] = await query_rows(
        address,
        "SELECT surface, guild_id, channel_id, user_id, command, query, hits, answered "
        "FROM queries WHERE id = ?",
        answer.query_id,
    )
    assert row[:6] == ("discord", GUILD_A, 42, 7, "ask", "What did Zuckerberg pledge to invest?")
    assert row[7] == 1 and row[6].startswith(f"[[{answer.hits[0].passage_id}, ")
    rows = await kb.query_log("recent", 10, Caller.member(GUILD_A, 7))
    assert [r.id for r in rows] == [answer.query_id]
    assert await kb.query_log("recent", 10, Caller.member(GUILD_B, 7)) == []


async def test_highlights_mark_the_query_terms_in_the_passage(any_kb):
    kb = any_kb
    answer = await kb.ask("H800 export restrictions", k=1)
    hit = answer.hits[0]
    marked = {hit.text[s:e] for s, e in hit.highlights}
    assert {"H800s", "restrictions"} <= marked


async def test_two_processes_opening_a_new_database_at_once(address):
    import asyncio

    first, second = await asyncio.gather(KnowledgeBase.open(address), KnowledgeBase.open(address))
    try:
        assert len(await first.list_sources()) == len(await second.list_sources()) == 5
    finally:
        await first.close()
        await second.close()
    assert await query_rows(address, "SELECT count(*) FROM documents") == [(5,)]


async def test_refresh_never_reads_an_uploads_name_from_this_machine(
    kb, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    upload = await kb.add_upload(
        "notes.txt", b"Ferncliff robots pick parcels with suction grippers.", guild_id=GUILD_A
    )
    (tmp_path / "notes.txt").write_text("SECRET host file: the database password is hunter2.")
    [own] = await kb.refresh(None, Caller.member(GUILD_A, 7))
    assert own.status == "skipped"
    everything = await kb.refresh(None, Caller.terminal())  # the operator's --all
    assert [r.status for r in everything if r.source.doc_id == upload.source.doc_id] == ["skipped"]
    assert not (await kb.ask("hunter2 password", caller=Caller(guild_id=GUILD_A))).answered


CRANES = "The Ardle quay cranes lift {} containers an hour, the harbour master says."
OPERATOR, MODERATOR = Caller.terminal(), Caller.member(GUILD_A, 7)


async def test_who_refreshes_decides_what_is_read_from_this_machine(kb, db_path, tmp_path):
    # The operator adds a file to server A from a path; a moderator of A uploads a file whose
    # name is the absolute path of another file on this machine.
    notes, host = tmp_path / "notes.md", tmp_path / "host.md"
    notes.write_text(CRANES.format("forty"))
    host.write_text("The Ardle quay cranes were sold; the vault code is 4471.")
    from_path = await kb.add_file(notes, caller=Caller.terminal(GUILD_A))
    upload = await kb.add_upload(
        str(host), b"Ardle quay opening hours: six to six.", guild_id=GUILD_A, added_by="7"
    )
    with sqlite3.connect(db_path) as con:  # stored as before the Caller value: no migration
        stored = dict(con.execute("SELECT id, added_by FROM documents WHERE guild_id IS NOT NULL"))
    assert stored == {from_path.source.doc_id: "cli", upload.source.doc_id: "7"}
    notes.write_text(CRANES.format("ninety"))

    mine = {r.source.doc_id: r.status for r in await kb.refresh(None, MODERATOR)}
    assert mine == {from_path.source.doc_id: "skipped", upload.source.doc_id: "skipped"}

    every = {r.source.doc_id: r.status for r in await kb.refresh(None, OPERATOR)}
    assert every[from_path.source.doc_id] == "changed"
    assert every[upload.source.doc_id] == "skipped"
    answer = await kb.ask("How many containers do the Ardle quay cranes lift?", 1, MODERATOR)
    assert "ninety containers" in answer.hits[0].text
    assert not (await kb.ask("vault code", caller=MODERATOR)).answered


async def test_only_the_operator_reads_files_the_whole_log_or_removes_shared_sources(
    kb, db_path, tmp_path
):
    notes = tmp_path / "notes.md"
    notes.write_text(CRANES.format("forty"))
    await kb.ask("Ardle quay cranes", caller=Caller(surface="discord", guild_id=GUILD_B))
    shared = await kb.add_text(ROBOTICS, title="Ferncliff robots")
    before = table_dump(db_path)
    nowhere = Caller.member(None, 7)  # a member outside any server: no operator's rights
    for member, refusal in (
        (MODERATOR, "is shared by every server and can only be removed from the command line"),
        (nowhere, "only the operator, from the command line, removes sources here"),
    ):
        with pytest.raises(Forbidden, match="only the operator, from the command line, adds"):
            await kb.add_file(notes, caller=member)
        with pytest.raises(Forbidden, match=refusal):
            await kb.remove_source(shared.source.doc_id, member)
    with pytest.raises(Forbidden, match="only the operator, from the command line, reads"):
        await kb.query_log("recent", 10, nowhere)
    with pytest.raises(Forbidden, match="only the operator, from the command line, refreshes"):
        await kb.refresh(None, nowhere)
    assert table_dump(db_path) == before
    assert await kb.query_log("recent", 10, MODERATOR) == []  # server A asked nothing
    [row] = await kb.query_log("recent", 10, OPERATOR)  # the whole log: server B's question
    assert row.guild_id == GUILD_B
    assert (await kb.remove_source(shared.source.doc_id, OPERATOR)).title == "Ferncliff robots"


def test_a_damaged_saved_index_is_rebuilt(db_path, cli) -> None:
    assert cli("ask", "Stargate Project").code == 0
    saved = Path(f"{db_path}.segments")
    manifest = json.loads((saved / "manifest.json").read_text())
    postings = saved / manifest["segments"][0]["name"] / "docs.npy"
    for damage in (postings.read_bytes()[:1000], b""):
        postings.write_bytes(damage)
        result = cli("ask", "Stargate Project", "--json")
        assert result.code == 0, result.err
        assert json.loads(result.out)["answered"] is True
        manifest = json.loads((saved / "manifest.json").read_text())
        postings = saved / manifest["segments"][0]["name"] / "docs.npy"  # rebuilt anew


async def test_a_transaction_cancelled_while_starting_leaves_the_connection_usable(kb) -> None:
    import asyncio

    async def enter() -> None:
        async with kb.store.transaction():
            await asyncio.Event().wait()

    task = asyncio.create_task(enter())
    await asyncio.sleep(0)  # let it take the lock and queue BEGIN
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    added = await kb.add_text(ROBOTICS, title="Ferncliff robots")
    assert added.source.title == "Ferncliff robots"
