"""Questions answered in engine processes (`retrieval.engine_processes`): the same answers as in
threads, sources added since found, each server's own passages kept to it, a process killed
mid-session costing no question, and no secret handed to the processes."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval import engine_processes
from retrieval.engine_processes import EngineProcesses
from retrieval.engine_worker import Engine, KeptRows
from retrieval.knowledge import KnowledgeBase
from retrieval.models import Answer, Caller

QUESTIONS = (
    "How much did DeepSeek spend to train its model?",
    "Which chip did Nvidia make for China?",
    "hw much did deepsek spend",  # typos: the corrections run in the process too
    "What is the capital of Mongolia?",  # not answered
)
MEMO = (
    "The Ferncliff memo says the warehouse robots will move to the night shift in March, "
    "and that the suction grippers need new filters every two weeks."
)
SERVER_A, SERVER_B = 111, 222


async def _one_process(kb: KnowledgeBase) -> tuple[EngineProcesses, int]:
    """Answering in one engine process, which has answered a question (its index is open)."""
    assert await kb.answer_in_processes(1)
    processes = kb.answering._processes
    assert processes is not None
    await kb.ask(QUESTIONS[0], 3)
    (pid,) = processes.pids
    return processes, pid


def _seen(answer: Answer) -> tuple[object, ...]:
    """What a member sees of an answer (not its timings or log id)."""
    return (
        answer.answered,
        answer.reason,
        round(answer.confidence, 9),
        [(h.title, h.paragraph, h.text, h.highlights, round(h.score, 9)) for h in answer.hits],
        answer.direct,
        answer.searched_for,
        answer.has_more,
    )


async def test_an_engine_process_gives_the_answers_threads_give(kb: KnowledgeBase) -> None:
    in_threads = [_seen(await kb.ask(q, 5)) for q in QUESTIONS]
    assert await kb.answer_in_processes(1)
    processes = kb.answering._processes
    assert processes is not None and len(processes.pids) == 1
    in_a_process = [_seen(await kb.ask(q, 5)) for q in QUESTIONS]
    assert processes.answered == len(QUESTIONS)  # none fell back to a thread
    assert in_a_process == in_threads
    assert in_a_process[0][0] and "$5.6 million" in in_a_process[0][3][0][2]
    assert not in_a_process[3][0]
    page = await kb.page((await kb.ask(QUESTIONS[0], 1)).query_id or 0, 1, 1)
    assert page.hits and page.hits[0].rank == 2


async def test_questions_waiting_at_once_get_the_answers_they_get_alone(
    kb: KnowledgeBase,
) -> None:
    """A process answers the questions waiting in its pipe together (searched one after
    another): each still gets its own server's passages, its own page size and its own
    corrections, as when asked alone in a thread."""
    await kb.add_text(MEMO, title="Ferncliff memo", guild_id=SERVER_A)
    asked = [
        (q, k, guild)
        for q in (*QUESTIONS, "Ferncliff suction grippers filters")
        for k, guild in ((5, SERVER_A), (1, SERVER_B), (3, None))
    ]
    alone = [_seen(await kb.ask(q, k, Caller(guild_id=g))) for q, k, g in asked]
    assert await kb.answer_in_processes(1)
    processes = kb.answering._processes
    assert processes is not None
    await kb.ask(QUESTIONS[0], 3)  # the process has the index open
    at_once = await asyncio.gather(*(kb.ask(q, k, Caller(guild_id=g)) for q, k, g in asked))
    assert [_seen(a) for a in at_once] == alone
    assert processes.answered == len(asked) + 1  # none fell back to a thread
    memo = [a for a, (q, _, _) in zip(at_once, asked, strict=True) if q.startswith("Ferncliff")]
    assert [a.answered for a in memo] == [True, False, False]  # only server A has the memo


def _as_sent(reply: tuple[str, object]) -> tuple[object, ...]:
    """An engine's reply without the search's milliseconds."""
    status, payload = reply
    if payload is None:
        return (status, None)
    found, behind, unlaid = payload  # type: ignore[misc]
    if found is not None:
        found = dataclasses.replace(found, search_ms=0.0)
    return (status, found, behind, unlaid)


async def test_requests_answered_together_get_what_each_gets_alone(
    kb: KnowledgeBase, db_path: Path
) -> None:
    """`Engine.answer_together` on a saved index, deterministically (no timing decides what
    waits together): mixed servers and page sizes, a later page, a question for a server whose
    sources changed since (stale: no answer, the bot rebuilds) and one for a server whose did
    not (answered, behind)."""
    await kb.add_text(MEMO, title="Ferncliff memo", guild_id=SERVER_A)
    await kb.settle_index()
    index = await kb.answering.current_index()
    saved = (index.saved_as, index.version, index.scope_versions)
    await kb.add_text("Harbour cranes were inspected in May.", guild_id=SERVER_B)  # B is stale
    asked = [
        ("Ferncliff suction grippers filters", 5, SERVER_A, 0, True),
        ("Ferncliff suction grippers filters", 1, None, 0, True),
        (QUESTIONS[0], 3, SERVER_B, 0, True),  # B's sources changed: stale for B
        (QUESTIONS[2], 2, SERVER_A, 0, False),
        (QUESTIONS[0], 1, SERVER_A, 1, True),  # a later page: answered on its own
        (QUESTIONS[3], 3, None, 0, True),
    ]
    requests = [
        (*saved, text, k, guild, offset, check, "") for text, k, guild, offset, check in asked
    ]
    # A follow-up (an earlier question searched too): answered on its own, as alone.
    requests.append((*saved, "who makes them?", 3, SERVER_A, 0, True, "Ferncliff grippers"))
    folder = db_path.parent / f"{db_path.name}.segments"
    alone = Engine(str(db_path), folder)
    expected = [_as_sent(alone.answer(r)) for r in requests]
    together = Engine(str(db_path), folder)
    got = {
        n: _as_sent((status, payload))
        for n, status, payload in together.answer_together(list(enumerate(requests)))
    }
    assert [got[n] for n in range(len(requests))] == expected
    assert expected[2] == ("found", None, False, [])  # stale for B
    assert expected[0][1].hits[0].title == "Ferncliff memo" and expected[0][2] is True  # behind
    assert expected[1][1].hits == []  # the memo is A's alone
    assert expected[4][1].hits[0].rank == 2


async def test_rows_kept_within_their_budget_give_the_same_answers(
    kb: KnowledgeBase, db_path: Path
) -> None:
    """An engine whose rows overflow their budget again and again (the older half dropped
    each time) answers as one that keeps them all, and keeps no more than the budget."""
    index = await kb.answering.current_index()
    saved = (index.saved_as, index.version, index.scope_versions)
    requests = [(*saved, q, 5, SERVER_A, 0, True, "") for q in QUESTIONS * 3]
    folder = db_path.parent / f"{db_path.name}.segments"
    roomy = Engine(str(db_path), folder)
    expected = [_as_sent(roomy.answer(r)) for r in requests]
    tight = Engine(str(db_path), folder)
    kept = tight.rows_for(index)
    kept.budget = 6_000  # a few passages
    got = [_as_sent(tight.answer(r)) for r in requests]
    assert got == expected
    assert 0 < kept.size <= kept.budget and 0 < len(kept) < len(roomy.rows_for(index))


def test_kept_rows_drop_the_oldest_until_half_the_budget_is_free() -> None:
    def row(i: int, letter: str) -> dict[str, object]:
        return {"id": i, "text": letter * 100, "layout": None}

    one = KeptRows()
    one.put((None, 0), row(0, "x"))
    kept = KeptRows(budget=10 * one.size)  # ten rows of this shape
    for i in range(10):
        kept.put((None, i), row(i, "x"))
    assert len(kept) == 10 and kept.get((None, 0)) == row(0, "x")
    kept.put((None, 10), row(10, "y"))  # over: the oldest go until half the budget is free
    assert [kept.get((None, i)) is not None for i in range(11)] == [False] * 6 + [True] * 5
    assert kept.size == 5 * one.size <= kept.budget // 2
    kept.put((5, 3), row(3, "z"))  # another server's row of the same passage is its own
    assert kept.get((5, 3)) == row(3, "z") and kept.get((None, 3)) is None
    wide = KeptRows()
    wide.put((None, 0), row(0, "\U0001f600"))  # outside ASCII: four bytes a character
    assert wide.size > one.size + 300


async def test_kept_rows_are_not_walked_by_the_garbage_collector(
    kb: KnowledgeBase, db_path: Path
) -> None:
    """An engine's kept rows hold only text, numbers and bytes, so the cyclic garbage
    collector does not track them (kept as sqlite3.Row objects, every full collection walked
    them all)."""
    index = await kb.answering.current_index()
    saved = (index.saved_as, index.version, index.scope_versions)
    engine = Engine(str(db_path), db_path.parent / f"{db_path.name}.segments")
    for question in QUESTIONS:
        assert engine.answer((*saved, question, 5, SERVER_A, 0, True, ""))[0] == "found"
    assert engine.index is not None
    kept = list(engine.rows_for(engine.index).rows())
    assert kept and not any(gc.is_tracked(row) for row in kept)
    assert all(isinstance(row["text"], str) for row in kept)


async def test_a_process_never_shows_a_passage_as_it_was_before_a_change(
    kb: KnowledgeBase,
) -> None:
    """A process keeps the rows it read for the corpus's version: a source removed and another
    added (whose passage takes the freed id) is shown as it is now."""
    assert await kb.answer_in_processes(1)
    processes = kb.answering._processes
    assert processes is not None
    caller = Caller.terminal(SERVER_A)
    first = await kb.add_text(MEMO, title="Ferncliff memo", guild_id=SERVER_A)
    before = await kb.ask("Ferncliff suction grippers filters", 1, caller)
    assert before.hits[0].text == MEMO
    await kb.remove_source(first.source.doc_id, caller)
    second = MEMO.replace("two weeks", "three weeks")
    await kb.add_text(second, title="Ferncliff memo, revised", guild_id=SERVER_A)
    after = await kb.ask("Ferncliff suction grippers filters", 1, caller)
    assert after.hits[0].passage_id == before.hits[0].passage_id  # the id was taken again
    assert (after.hits[0].title, after.hits[0].text) == ("Ferncliff memo, revised", second)
    assert processes.answered == 2


async def test_a_source_added_is_found_by_the_next_question_in_a_process(
    kb: KnowledgeBase,
) -> None:
    assert await kb.answer_in_processes(1)
    processes = kb.answering._processes
    assert processes is not None
    before = await kb.ask("Ferncliff suction grippers filters", 1, Caller(guild_id=SERVER_A))
    assert not before.answered
    await kb.add_text(MEMO, title="Ferncliff memo", guild_id=SERVER_A)
    after = await kb.ask("Ferncliff suction grippers filters", 1, Caller(guild_id=SERVER_A))
    assert after.answered and after.hits[0].title == "Ferncliff memo"
    # Another server never sees it, and its scores do not move.
    other = await kb.ask("Ferncliff suction grippers filters", 1, Caller(guild_id=SERVER_B))
    assert not other.answered
    assert processes.answered == 3


async def test_a_server_flooding_questions_makes_another_wait_only_for_what_is_in_hand(
    kb: KnowledgeBase,
) -> None:
    """Queued questions go to the engine process one server at a time, in turn."""
    assert await kb.answer_in_processes(1)
    for server in (SERVER_A, SERVER_B):  # the process has the index open, and each server's
        await kb.ask(QUESTIONS[0], 3, Caller(guild_id=server))  # article count is read
    done: list[str] = []

    def ask(label: str, guild_id: int) -> asyncio.Task[Answer]:
        task = asyncio.create_task(kb.ask(QUESTIONS[1], 3, Caller(guild_id=guild_id)))
        task.add_done_callback(lambda _: done.append(label))
        return task

    flood = [ask(f"A{i}", SERVER_A) for i in range(4 * engine_processes.DEPTH)]
    other = ask("B", SERVER_B)
    answers = await asyncio.gather(*flood, other)
    assert all(a.answered for a in answers)
    # DEPTH of A's were in the process's hands when B asked; B's went next after one more.
    assert done.index("B") <= engine_processes.DEPTH + 1, done
    assert kb.answering._processes is not None
    assert kb.answering._processes.answered == len(answers) + 2


async def test_processes_answer_with_numpy_until_the_search_is_compiled_then_load_it(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The compiled search is compiled (or found in numba's cache) by a process of its own at
    # the lowest priority; the engine processes answer meanwhile, then load it one at a time,
    # each with a question: the same answers all along. (Not waited for at the start, as when
    # it is compiled the first time after an install.)
    monkeypatch.setattr(engine_processes, "PRECOMPILE_WAIT_S", 0.0)
    expected = [_seen(await kb.ask(q, 5)) for q in QUESTIONS]
    assert await kb.answer_in_processes(2, compiled=True)
    processes = kb.answering._processes
    assert processes is not None and len(processes.pids) == 2
    assert [_seen(await kb.ask(q, 5)) for q in QUESTIONS] == expected
    assert await asyncio.wait_for(processes.compiled_ready(), 600)  # a hang guard only
    for _ in range(20):  # rounds of questions at once, until both have loaded it
        answers = await asyncio.gather(*(kb.ask(q, 5) for q in QUESTIONS * 2))
        assert [_seen(a) for a in answers] == expected * 2
        if len(processes.compiled_pids) == 2:
            break
    assert sorted(processes.compiled_pids) == sorted(processes.pids)
    assert processes.answered == len(QUESTIONS) * (1 + 2 * (_ + 1))  # none went to threads


async def test_a_killed_engine_process_costs_no_question(kb: KnowledgeBase) -> None:
    assert await kb.answer_in_processes(1)
    processes = kb.answering._processes
    assert processes is not None
    expected = _seen(await kb.ask(QUESTIONS[0], 3))
    (pid,) = processes.pids
    os.kill(pid, signal.SIGKILL)
    for _ in range(200):  # a hang guard: its pipe closes as soon as the kernel reaps it
        if not processes.pids:
            break
        await asyncio.sleep(0.05)
    assert processes.pids == []
    assert _seen(await kb.ask(QUESTIONS[0], 3)) == expected  # answered in a thread
    assert processes.answered == 1


async def test_an_engine_process_that_died_is_started_again(kb: KnowledgeBase) -> None:
    assert await kb.answer_in_processes(1)
    processes = kb.answering._processes
    assert processes is not None
    processes.restart_after_s = 0.0
    (pid,) = processes.pids
    os.kill(pid, signal.SIGKILL)
    for _ in range(200):  # a hang guard
        if not processes.pids:
            break
        await asyncio.sleep(0.05)
    assert (await kb.ask(QUESTIONS[0], 3)).answered  # in a thread; starts another process
    for _ in range(600):  # a hang guard
        if processes.pids:
            break
        await asyncio.sleep(0.05)
    assert processes.pids and processes.pids != [pid]
    assert (await kb.ask(QUESTIONS[1], 3)).answered
    assert processes.answered == 1


async def test_an_engine_process_gets_no_discord_token(
    kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "secret-token-for-the-test")
    assert await kb.answer_in_processes(1)
    processes = kb.answering._processes
    assert processes is not None
    (pid,) = processes.pids
    environ = await asyncio.to_thread(Path(f"/proc/{pid}/environ").read_bytes)
    assert b"secret-token-for-the-test" not in environ
    assert b"DISCORD_TOKEN" not in environ


async def test_an_in_memory_database_answers_in_threads() -> None:
    async with await KnowledgeBase.open(":memory:") as kb:
        assert not await kb.answer_in_processes(1)
        assert (await kb.ask(QUESTIONS[0], 1)).answered


async def test_a_process_answers_a_server_whose_scopes_did_not_change_while_the_index_catches_up(
    db_path: Path,
) -> None:
    """Another server's new source leaves this server's scopes as they were: the process
    answers from the index it has (and says it is behind), as the bot's threads do; the
    server that changed waits for the new index."""
    async with await KnowledgeBase.open(db_path) as kb:
        index = await kb.answering.current_index()
        engine = Engine(str(db_path), Path(f"{db_path}.segments"))
        assert engine.index_for(index.saved_as or "", index.version) is not None
        async with await KnowledgeBase.open(db_path) as other:  # another process, say the CLI
            await other.add_text(MEMO, title="Ferncliff memo", guild_id=SERVER_A)

        def ask(guild_id: int) -> tuple[str, object]:
            request = (
                index.saved_as,
                index.version,
                index.scope_versions,
                QUESTIONS[0],
                3,
                guild_id,
                0,
                True,
                "",
            )
            return engine.answer(request)

        status, (found, behind, _) = await asyncio.to_thread(ask, SERVER_B)
        assert status == "found" and behind
        assert found is not None and "$5.6 million" in found.hits[0].text
        status, (found, behind, _) = await asyncio.to_thread(ask, SERVER_A)
        assert status == "found" and found is None  # its own scope changed: it waits
        engine.db.close()


async def test_questions_in_a_killed_processs_hands_are_answered_in_threads(
    kb: KnowledgeBase,
) -> None:
    processes, pid = await _one_process(kb)
    os.kill(pid, signal.SIGSTOP)  # it holds the next questions without answering
    asks = [asyncio.create_task(kb.ask(q, 3)) for q in QUESTIONS[:3]]
    for _ in range(100):  # a hang guard: the questions reach the process's pipe at once
        await asyncio.sleep(0)
    os.kill(pid, signal.SIGKILL)
    answers = await asyncio.wait_for(asyncio.gather(*asks), 120)  # a hang guard only
    assert [a.answered for a in answers] == [True, True, True]
    assert "$5.6 million" in answers[0].hits[0].text
    assert processes.answered == 1


async def test_a_hung_process_is_stopped_and_its_questions_answered_in_threads(
    kb: KnowledgeBase,
) -> None:
    processes, pid = await _one_process(kb)
    processes.deadline_s = 0.5  # instead of half a minute
    os.kill(pid, signal.SIGSTOP)
    answer = await asyncio.wait_for(kb.ask(QUESTIONS[0], 3), 120)  # a hang guard only
    assert answer.answered and "$5.6 million" in answer.hits[0].text
    for _ in range(200):  # a hang guard: the kill is reaped at once
        if not processes.pids:
            break
        await asyncio.sleep(0.05)
    assert processes.pids == []


def test_an_engine_process_refuses_to_serve_after_the_code_changed(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            *("-m", "retrieval.engine_worker", str(tmp_path / "x.db"), str(tmp_path)),
            *("--stamp", "another-version"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 3
    assert "citebot's files changed since the bot started" in done.stderr
