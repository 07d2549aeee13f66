"""Links from logged questions to the messages their answers were posted as (issue 12, point
6): shown by the log's views at once, kept across a stop, and only ever on the row of the
server that posted it. On both backends."""

from __future__ import annotations

from retrieval.knowledge import KnowledgeBase
from retrieval.models import Caller

A, B = 101, 202
SPEND = "How much money did DeepSeek spend developing its model?"


async def test_a_link_is_in_the_log_at_once_and_after_a_stop(address) -> None:
    async with await KnowledgeBase.open(address) as kb:
        first = await kb.ask(SPEND, 3, Caller.member(A, 1))
        second = await kb.ask(SPEND, 3, Caller.member(A, 2))
        kb.answer_posted(first.query_id, A, 11, 111)
        [newest, oldest] = await kb.query_log("recent", 10, Caller.member(A, None))
        assert oldest.message_url == f"https://discord.com/channels/{A}/11/111"
        assert newest.message_url is None
        kb.answer_posted(second.query_id, A, 11, 222)  # noted just before the bot stops
    async with await KnowledgeBase.open(address) as kb:
        rows = await kb.query_log("recent", 10, Caller.member(A, None))
        assert [r.message_url for r in rows] == [
            f"https://discord.com/channels/{A}/11/222",
            f"https://discord.com/channels/{A}/11/111",
        ]


async def test_a_link_never_lands_on_another_servers_row(address) -> None:
    async with await KnowledgeBase.open(address) as kb:
        theirs = await kb.ask(SPEND, 3, Caller.member(B, 1))
        kb.answer_posted(theirs.query_id, A, 11, 111)  # server A naming B's question
        [row] = await kb.query_log("recent", 10, Caller.member(B, None))
        assert row.message_url is None
        assert await kb.reply_targets([theirs.query_id], Caller.member(A, None)) == []
