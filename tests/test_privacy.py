"""What leaves the query log: a member's questions and votes on their request (in every server
at once, or one server's by its moderators), and questions older than a retention."""

from __future__ import annotations

import sqlite3

import pytest

from retrieval.errors import Forbidden, InvalidQuery
from retrieval.models import Caller

A, B = 101, 202
ALICE, BOB = 7, 8
SPEND = "How much money did DeepSeek spend developing its model?"


async def _asked(kb, user: int, guild: int) -> int:
    answer = await kb.ask(SPEND, 3, Caller.member(guild, user))
    assert answer.query_id is not None
    return answer.query_id


def _rows(db_path) -> list[tuple]:
    with sqlite3.connect(db_path) as con:
        return con.execute("SELECT guild_id, user_id FROM queries ORDER BY id").fetchall()


def _votes(db_path) -> list[tuple]:
    with sqlite3.connect(db_path) as con:
        return con.execute(
            "SELECT q.guild_id, f.user_id FROM feedback f JOIN queries q ON q.id = f.query_id "
            "ORDER BY f.query_id, f.user_id"
        ).fetchall()


async def test_forget_me_deletes_a_members_rows_in_every_server_and_nothing_else(
    kb, db_path
) -> None:
    alice_a, alice_b = await _asked(kb, ALICE, A), await _asked(kb, ALICE, B)
    bob_a = await _asked(kb, BOB, A)
    await kb.record_feedback(bob_a, ALICE, True, A)  # Alice's vote on Bob's answer
    await kb.record_feedback(alice_a, BOB, False, A)  # Bob's vote on Alice's answer
    await kb.record_feedback(alice_b, BOB, True, B)
    with pytest.raises(Forbidden):  # someone else's questions everywhere: never
        await kb.forget_member(ALICE, Caller.member(A, BOB), everywhere=True)
    forgotten = await kb.forget_member(ALICE, Caller.member(A, ALICE), everywhere=True)
    assert forgotten == (2, 1)  # her two questions (Bob's votes on them go too), her one vote
    assert _rows(db_path) == [(A, BOB)]
    assert _votes(db_path) == []


async def test_a_moderator_forgetting_themselves_in_a_server_keeps_their_other_rows(
    kb, db_path
) -> None:
    await _asked(kb, ALICE, A)
    await _asked(kb, ALICE, B)
    assert await kb.forget_member(ALICE, Caller.member(A, ALICE)) == (1, 0)
    assert _rows(db_path) == [(B, ALICE)]


async def test_a_repeated_not_helpful_vote_keeps_its_reason(kb) -> None:
    query_id = await _asked(kb, ALICE, A)
    await kb.record_feedback(query_id, BOB, False, A)
    await kb.record_reason(query_id, BOB, "wrong year", A)
    await kb.record_feedback(query_id, BOB, False, A)  # pressed again
    rows = await kb.query_log("feedback", 5, Caller.member(A, None))
    assert rows[0].reasons == ("wrong year",)


async def test_a_moderator_forgets_a_member_in_their_server_only(kb, db_path) -> None:
    await _asked(kb, ALICE, A)
    await _asked(kb, ALICE, B)
    await _asked(kb, BOB, A)
    assert await kb.forget_member(ALICE, Caller.member(A, BOB)) == (1, 0)
    assert _rows(db_path) == [(B, ALICE), (A, BOB)]
    with pytest.raises(Forbidden):
        await kb.forget_member(BOB, Caller.member(None, ALICE))
    assert await kb.forget_member(BOB, Caller.terminal()) == (1, 0)  # the operator: everywhere
    assert _rows(db_path) == [(B, ALICE)]


async def test_purge_deletes_only_rows_older_than_the_age_in_its_scope(kb, db_path) -> None:
    old_a, old_b = await _asked(kb, ALICE, A), await _asked(kb, ALICE, B)
    await _asked(kb, BOB, A)  # new
    with sqlite3.connect(db_path) as con:
        con.execute(
            "UPDATE queries SET asked_at = '2020-01-01T00:00:00.000+00:00' WHERE id IN (?, ?)",
            (old_a, old_b),
        )
    assert await kb.purge_log(30, Caller.member(A, BOB)) == 1  # server A's old row only
    assert _rows(db_path) == [(B, ALICE), (A, BOB)]
    assert await kb.purge_log(30, Caller.terminal()) == 1  # the operator: every server
    assert _rows(db_path) == [(A, BOB)]
    with pytest.raises(InvalidQuery):
        await kb.purge_log(0, Caller.terminal())
    with pytest.raises(Forbidden):
        await kb.purge_log(30, Caller.member(None, ALICE))
