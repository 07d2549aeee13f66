"""What leaves the query log: a member's questions and votes on their request (in every server
at once, or one server's by its moderators), and questions older than a retention. On both
backends (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from retrieval.errors import Forbidden, InvalidQuery
from retrieval.models import Caller
from tests.conftest import query_rows

A, B = 101, 202
ALICE, BOB = 7, 8
SPEND = "How much money did DeepSeek spend developing its model?"


async def _asked(any_kb, user: int, guild: int) -> int:
    answer = await any_kb.ask(SPEND, 3, Caller.member(guild, user))
    assert answer.query_id is not None
    return answer.query_id


async def _rows(address: str) -> list[tuple]:
    return await query_rows(address, "SELECT guild_id, user_id FROM queries ORDER BY id")


async def _votes(address: str) -> list[tuple]:
    return await query_rows(
        address,
        "SELECT q.guild_id, f.user_id FROM feedback f JOIN queries q ON q.id = f.query_id "
        "ORDER BY f.query_id, f.user_id",
    )


async def test_forget_me_deletes_a_members_rows_in_every_server_and_nothing_else(
    any_kb, address
) -> None:
    alice_a, alice_b = await _asked(any_kb, ALICE, A), await _asked(any_kb, ALICE, B)
    bob_a = await _asked(any_kb, BOB, A)
    await any_kb.record_feedback(bob_a, ALICE, True, A)  # Alice's vote on Bob's answer
    await any_kb.record_feedback(alice_a, BOB, False, A)  # Bob's vote on Alice's answer
    await any_kb.record_feedback(alice_b, BOB, True, B)
    with pytest.raises(Forbidden):  # someone else's questions everywhere: never
        await any_kb.forget_member(ALICE, Caller.member(A, BOB), everywhere=True)
    forgotten = await any_kb.forget_member(ALICE, Caller.member(A, ALICE), everywhere=True)
    assert forgotten == (2, 1)  # her two questions (Bob's votes on them go too), her one vote
    assert await _rows(address) == [(A, BOB)]
    assert await _votes(address) == []


async def test_a_moderator_forgetting_themselves_in_a_server_keeps_their_other_rows(
    any_kb, address
) -> None:
    await _asked(any_kb, ALICE, A)
    await _asked(any_kb, ALICE, B)
    assert await any_kb.forget_member(ALICE, Caller.member(A, ALICE)) == (1, 0)
    assert await _rows(address) == [(B, ALICE)]


async def test_a_repeated_not_helpful_vote_keeps_its_reason(any_kb) -> None:
    query_id = await _asked(any_kb, ALICE, A)
    await any_kb.record_feedback(query_id, BOB, False, A)
    await any_kb.record_reason(query_id, BOB, "wrong year", A)
    await any_kb.record_feedback(query_id, BOB, False, A)  # pressed again
    rows = await any_kb.query_log("feedback", 5, Caller.member(A, None))
    assert rows[0].reasons == ("wrong year",)


async def test_a_moderator_forgets_a_member_in_their_server_only(any_kb, address) -> None:
    await _asked(any_kb, ALICE, A)
    await _asked(any_kb, ALICE, B)
    await _asked(any_kb, BOB, A)
    assert await any_kb.forget_member(ALICE, Caller.member(A, BOB)) == (1, 0)
    assert await _rows(address) == [(B, ALICE), (A, BOB)]
    with pytest.raises(Forbidden):
        await any_kb.forget_member(BOB, Caller.member(None, ALICE))
    assert await any_kb.forget_member(BOB, Caller.terminal()) == (1, 0)  # the operator: everywhere
    assert await _rows(address) == [(B, ALICE)]


async def test_purge_deletes_only_rows_older_than_the_age_in_its_scope(any_kb, address) -> None:
    old_a, old_b = await _asked(any_kb, ALICE, A), await _asked(any_kb, ALICE, B)
    await _asked(any_kb, BOB, A)  # new
    await query_rows(
        address,
        "UPDATE queries SET asked_at = '2020-01-01T00:00:00.000+00:00' WHERE id IN (?, ?)",
        old_a,
        old_b,
    )
    assert await any_kb.purge_log(30, Caller.member(A, BOB)) == 1  # server A's old row only
    assert await _rows(address) == [(B, ALICE), (A, BOB)]
    assert await any_kb.purge_log(30, Caller.terminal()) == 1  # the operator: every server
    assert await _rows(address) == [(A, BOB)]
    with pytest.raises(InvalidQuery):
        await any_kb.purge_log(0, Caller.terminal())
    with pytest.raises(Forbidden):
        await any_kb.purge_log(30, Caller.member(None, ALICE))
