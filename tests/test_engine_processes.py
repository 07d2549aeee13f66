"""Questions answered in engine processes (`retrieval.engine_processes`): the same answers as in
threads, sources added since found, each server's own passages kept to it, a process killed
mid-session costing no question, and no secret handed to the processes."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

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


async def test_a_server_flooding_questions_makes_another_wait_for_one_of_them(
    kb: KnowledgeBase,
) -> None:
    """Queued questions go to the engine process one server at a time, in turn."""
    assert await kb.answer_in_processes(1)
    await kb.ask(QUESTIONS[0], 3)  # the process has the index open
    done: list[str] = []

    def ask(label: str, guild_id: int) -> asyncio.Task[Answer]:
        task = asyncio.create_task(kb.ask(QUESTIONS[1], 3, Caller(guild_id=guild_id)))
        task.add_done_callback(lambda _: done.append(label))
        return task

    flood = [ask(f"A{i}", SERVER_A) for i in range(20)]
    other = ask("B", SERVER_B)
    answers = await asyncio.gather(*flood, other)
    assert all(a.answered for a in answers)
    # Two of A's were in the process's hands when B asked; B's went next after one more.
    assert done.index("B") <= 3, done
    assert kb.answering._processes is not None
    assert kb.answering._processes.answered == 22


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
