"""What answering reads and writes per ask: stored term offsets instead of re-analysis, and the
query log written in batches that still show every row as soon as its ask returns."""

import asyncio
import dataclasses
import sqlite3
from binascii import b2a_base64

import pytest

from retrieval.analyzer import analyze_spans
from retrieval.documents import prepare
from retrieval.errors import InvalidQuery
from retrieval.ingest_jobs import decode_document
from retrieval.knowledge import KnowledgeBase
from retrieval.models import AddResult, Answer, Caller
from retrieval.rerank import sentence_terms
from retrieval.seeds import seed_files
from retrieval.store import LAYOUTS_PER_FETCH, Store
from retrieval.term_offsets import UNFIT, decode, encode, layout_of

GUILD = 333333333333333333
SPEND = "How much did DeepSeek spend to train its model?"
TAKEN_HOME = (
    "The night train from Vienna reached Zurich at 6:40. Passengers took home a souvenir "
    "ticket printed on recycled card, and the railway said the card costs less than plastic."
)


def _shown(answer: Answer) -> list[tuple[str, list[str]]]:
    """Each hit as a reader sees it: its text and the words set in bold."""
    return [(h.text, [h.text[a:b] for a, b in h.highlights]) for h in answer.hits]


def _layouts(db_path) -> int:
    with sqlite3.connect(db_path) as con:
        return con.execute("SELECT count(*) FROM passages WHERE layout IS NOT NULL").fetchone()[0]


def _with_layout(db_path, passage_ids) -> set[int]:
    with sqlite3.connect(db_path) as con:
        marks = ",".join("?" * len(passage_ids))
        sql = f"SELECT id FROM passages WHERE layout IS NOT NULL AND id IN ({marks})"
        return {row[0] for row in con.execute(sql, list(passage_ids))}


def _forget_layouts(db_path) -> None:
    """As passages written before ingest stored their offsets."""
    with sqlite3.connect(db_path) as con:
        con.execute("UPDATE passages SET layout = NULL")


@pytest.mark.parametrize("processes", [0, 1], ids=["threads", "engine process"])
async def test_the_words_in_bold_are_the_same_from_stored_offsets(kb, db_path, processes):
    """A passage stored without offsets (written before ingest stored them) is analysed when
    shown, and its offsets are kept (a few passages per ask, each written before the next
    ask's log row); once they are, the answer shows the same passages with the same words in
    bold. The same when an engine process answers (the bot keeps what it found unlaid)."""
    if processes:
        assert await kb.answer_in_processes(processes)
    _forget_layouts(db_path)
    assert _layouts(db_path) == 0
    first = await kb.ask(SPEND)
    shown = {h.passage_id for h in first.hits}
    answers = [first]
    while _with_layout(db_path, shown) != shown:
        answers.append(await kb.ask(SPEND))
        assert _layouts(db_path) <= LAYOUTS_PER_FETCH * len(answers)  # a few per ask
        assert len(answers) <= 10  # 30 candidates, 3 a time
    answers.append(await kb.ask(SPEND))  # read from the stored offsets
    assert all(_shown(a) == _shown(first) for a in answers)
    text, bold = _shown(answers[-1])[0]
    assert "$5.6 million" in text and "spent" in bold
    assert answers[-1].direct == first.direct and first.direct is not None
    if processes:
        assert kb.answering._processes.answered == len(answers)


async def test_an_old_database_gains_offsets_and_answers_as_before(db_path):
    async with await KnowledgeBase.open(db_path) as kb:
        before = await kb.ask(SPEND)
    with sqlite3.connect(db_path) as con:  # as a database from before the offsets were stored
        con.execute("DROP TABLE server_settings")  # what later versions added
        con.execute("ALTER TABLE queries DROP COLUMN message_channel_id")
        con.execute("ALTER TABLE queries DROP COLUMN message_id")
        con.execute("ALTER TABLE feedback DROP COLUMN reason")
        con.execute("ALTER TABLE passages DROP COLUMN layout")
        con.execute("PRAGMA user_version = 5")
    async with await KnowledgeBase.open(db_path) as kb:
        after = await kb.ask(SPEND)
        stored = await kb.ask(SPEND)
    assert _shown(after) == _shown(before) == _shown(stored)
    assert _layouts(db_path) >= len(after.hits)


def _passages(db_path) -> list[tuple[str, str, bytes | None]]:
    with sqlite3.connect(db_path) as con:
        return con.execute("SELECT text, terms, layout FROM passages ORDER BY id").fetchall()


async def test_every_passage_added_has_its_offsets_stored_by_ingest(kb, db_path, tmp_path):
    """Bundled articles, pasted text, a folder and a single file: each passage's offsets are
    stored when it is added (worked out by the parser process that read it), and they give
    what analysing its text gives; an ask then has none left to store."""
    folder = tmp_path / "notes"
    folder.mkdir()
    for n in range(3):
        (folder / f"{n}.md").write_text(f"# Ridge {n}\n\n{TAKEN_HOME} Ridge {n} was quiet.\n")
    (tmp_path / "one.txt").write_text("Kestrels nest on the north ridge. They hunt voles.")
    await kb.add_text(TAKEN_HOME, title="Night train souvenirs", guild_id=GUILD)
    async for _, outcome in kb.add_files(sorted(folder.iterdir()), caller=Caller.terminal()):
        assert isinstance(outcome, AddResult)
    await kb.add_file(tmp_path / "one.txt", caller=Caller.terminal())
    rows = _passages(db_path)
    assert len(rows) > 10 and all(layout is not None for _, _, layout in rows)
    for text, terms, blob in rows:
        layout = decode(blob, terms)
        assert layout is not None
        assert layout.spans == analyze_spans(text)
        assert layout.sentences == sentence_terms(text)
    await kb.ask(SPEND)
    assert _passages(db_path) == rows


def test_offsets_a_parser_process_sent_malformed_are_not_stored():
    """What a parser process sends is checked: offsets that do not fit their passage are
    dropped (the passage is analysed when shown, as one stored before offsets were)."""
    terms = "night train vienna"
    good = encode("The night train from Vienna.", terms)
    assert good is not None
    sent = {"title": "t", "summary": "s", "content_hash": "h", "word_count": 5}
    for layout, kept in [
        (b2a_base64(good).decode(), good),
        ("not base64 ~~~", None),
        (b2a_base64(good[:-1]).decode(), None),  # cut short
        (b2a_base64(good[:6]).decode(), None),  # no whole header
        (b2a_base64(bytes([1, 66, 66, 9, 0, 0, 0])).decode(), None),  # more spans than terms
        (b2a_base64(b"\x02" + good[1:]).decode(), None),  # another format
        (7, None),
        (b2a_base64(UNFIT).decode(), UNFIT),
    ]:
        passage = {"ordinal": 0, "paragraph": 1, "heading": None, "text": "x", "terms": terms}
        doc = decode_document({**sent, "passages": [{**passage, "layout": layout}]})
        assert doc.passages[0].layout == kept, layout
    # Terms spaced unevenly are counted as the index splits them: two, fewer than its spans.
    passage = {"ordinal": 0, "paragraph": 1, "heading": None, "text": "x", "terms": "night  train"}
    blob = b2a_base64(good).decode()
    doc = decode_document({**sent, "passages": [{**passage, "layout": blob}]})
    assert doc.passages[0].layout is None


async def test_offsets_decode_to_what_analysing_the_text_gives():
    checked = 0
    for source, path in seed_files():
        for passage in prepare(path.read_text(encoding="utf-8"), name=source).passages:
            layout = decode(encode(passage.text, passage.terms), passage.terms)
            assert layout is not None
            assert layout.spans == analyze_spans(passage.text)
            every = sentence_terms(passage.text)
            assert layout.sentences == every
            # What the rerank and the direct answer read: the bounds, and the sentences
            # holding some of the question's terms (here: every 3rd term of the passage, and
            # a term it lacks), the same from the stored layout as from the text.
            bounds = ([a for a, _, _ in every], [b for _, b, _ in every])
            assert layout.sentence_bounds() == bounds
            wanted = {*passage.terms.split()[::3], "zyzzyva"}
            held = {i: terms & wanted for i, (_, _, terms) in enumerate(every)}
            expected = {i: terms for i, terms in held.items() if terms}
            assert layout.sentences_holding(wanted) == expected
            analysed = layout_of(passage.text)
            assert analysed.sentence_bounds() == layout.sentence_bounds()
            assert analysed.sentences_holding(wanted) == expected
            checked += bool(expected)
    assert checked > 20


async def test_text_whose_offsets_would_not_be_exact_is_still_highlighted(kb):
    # "&amp;" is decoded by the analyzer: offsets into the analysed text would not index this
    # text, so none are stored for it and it is analysed whenever it is shown.
    assert encode("Trains &amp; trams run late.", "train tram run late") is None
    added = await kb.add_text(TAKEN_HOME, title="Night train souvenirs", guild_id=GUILD)
    assert added.passages == 1
    caller = Caller.member(GUILD, 1)
    for _ in range(2):  # analysed, then read from the stored offsets
        answer = await kb.ask("What did passengers take home from the night train?", caller=caller)
        text, bold = _shown(answer)[0]
        assert text == TAKEN_HOME
        assert bold == ["night", "train", "Passengers", "took", "home"]


async def test_concurrent_asks_each_show_their_row_in_the_log_at_once(kb):
    questions = [f"{SPEND} ({n})" for n in range(12)]
    answers = await asyncio.gather(
        *(kb.ask(q, caller=Caller.member(GUILD, n)) for n, q in enumerate(questions))
    )
    rows = await kb.query_log("recent", 20, Caller.member(GUILD, 0))
    assert sorted((r.id, r.query, r.user_id) for r in rows) == sorted(
        (a.query_id, a.query, n) for n, a in enumerate(answers)
    )


def _log(store: Store, n: int) -> "asyncio.Future[int]":
    return asyncio.ensure_future(
        store.log_query(
            surface="cli",
            guild_id=None,
            channel_id=None,
            user_id=None,
            command="ask",
            query=f"question {n}",
            hits=[],
            answered=False,
            confidence=0.0,
            latency_ms=1.0,
        )
    )


def _logged(db_path) -> list[tuple[int, str]]:
    with sqlite3.connect(db_path) as con:
        return con.execute("SELECT id, query FROM queries ORDER BY id").fetchall()


async def test_rows_logged_together_share_one_write(db_path):
    store = await Store.open(db_path)
    try:
        ids = await asyncio.gather(*(_log(store, n) for n in range(12)))
        assert store.log_writes == 1
        assert _logged(db_path) == [(i, f"question {n}") for n, i in enumerate(ids)]
    finally:
        await store.close()


async def test_a_busy_log_writes_at_most_once_per_interval(db_path):
    """The first row is written at once; rows that come within the interval after a write
    started wait for the next one (here: until the store closes), together."""
    store = await Store.open(db_path)
    store._writer.interval = 3600.0  # the next write would be an hour after the first
    try:
        first = await _log(store, 0)
        assert store.log_writes == 1 and _logged(db_path) == [(first, "question 0")]
        later = [_log(store, n) for n in range(1, 5)]
        for _ in range(20):
            await asyncio.sleep(0)
        assert not any(task.done() for task in later) and len(_logged(db_path)) == 1
    finally:
        await store.close()
    ids = [await task for task in later]
    assert store.log_writes == 2
    assert _logged(db_path) == [(first, "question 0")] + [
        (i, f"question {n}") for n, i in enumerate(ids, start=1)
    ]


async def test_a_row_held_by_the_interval_is_written_when_it_is_over(db_path):
    """The held row's write starts by itself once the interval since the last one is over
    (no close needed)."""
    store = await Store.open(db_path)
    store._writer.interval = 0.3
    try:
        first = await _log(store, 0)
        second = _log(store, 1)
        for _ in range(5):
            await asyncio.sleep(0)
        assert not second.done() and store.log_writes == 1
        held = await asyncio.wait_for(second, 60)  # a hang guard: it is written after 0.3 s
        assert store.log_writes == 2
        assert _logged(db_path) == [(first, "question 0"), (held, "question 1")]
    finally:
        await store.close()


async def test_rows_still_waiting_are_written_when_the_store_closes(db_path):
    store = await Store.open(db_path)
    logging = [_log(store, n) for n in range(5)]
    await asyncio.sleep(0)  # every row handed to the writer, none written yet
    assert _logged(db_path) == []
    await store.close()
    ids = [await task for task in logging]
    assert _logged(db_path) == [(i, f"question {n}") for n, i in enumerate(ids)]


async def test_an_ask_reads_the_database_in_its_engine_thread(kb):
    """After the first ask (which counts the articles), an ask reads nothing through the
    store's shared reader: the index check and the passages are read by the engine thread
    that searches and reranks, in the same trip."""
    await kb.ask(SPEND)
    statements: list[str] = []
    await kb.store._reader.set_trace_callback(statements.append)
    answer = await kb.ask("How much did DeepSeek spend to train its modle?")  # a typo too
    text, bold = _shown(answer)[0]
    assert "$5.6 million" in text and "spent" in bold
    assert ("modle", "model") in answer.searched_for
    assert statements == []


async def test_another_connection_s_change_is_found_by_the_next_ask(kb, db_path):
    """The engine thread's own connection sees what another connection committed: a source
    added through a second knowledge base on the same file is cited by the next ask here."""
    await kb.ask(SPEND)
    async with await KnowledgeBase.open(db_path, seed=False) as other:
        await other.add_text(TAKEN_HOME, title="Night train souvenirs")
    answer = await kb.ask("What did the passengers take home?")
    assert answer.answered and answer.hits[0].title == "Night train souvenirs"


def _as_shown(answer: Answer) -> Answer:
    """An answer without what differs between two asks of one question: timings, log id."""
    return dataclasses.replace(answer, latency_ms=0.0, search_ms=0.0, query_id=None)


async def test_asked_together_each_question_gets_its_own_answer_and_log_row(kb):
    # `ask --batch` asks questions together (searched one after another): the same answers
    # as one by one, a refusal in its place, and a source this server just added found.
    caller = Caller.member(GUILD, 7)
    await kb.ask(SPEND, caller=caller)  # the index is built; the next add makes it stale
    await kb.add_text(TAKEN_HOME, title="Night train souvenirs", guild_id=GUILD)
    questions = [SPEND, "   ", "What did passengers take home from the night train?", "Zzyzx?"]
    together = await kb.ask_many(questions, k=2, caller=caller)
    assert isinstance(together[1], InvalidQuery)
    assert str(together[1]).startswith("the question is empty")
    night, nothing = together[2], together[3]
    assert isinstance(night, Answer) and isinstance(nothing, Answer)
    assert night.hits[0].title == "Night train souvenirs"
    assert nothing.answered is False and nothing.hits == ()
    for question, answer in zip(questions, together, strict=True):
        if isinstance(answer, Answer):
            alone = await kb.ask(question, k=2, caller=caller)
            assert _as_shown(answer) == _as_shown(alone)
    rows = await kb.query_log("recent", 20, caller)
    ids = [a.query_id for a in together if isinstance(a, Answer)]
    assert sorted(r.id for r in rows if r.id in ids) == ids
    assert [r.query for r in sorted(rows, key=lambda r: r.id)][1:4] == [
        questions[0],
        questions[2],
        questions[3],
    ]
