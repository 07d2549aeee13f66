"""The query log: every question asked, the votes on its answers, and the views moderators read.

One job: the rows that say what people asked and what they thought of the answers. The answering
part writes a row per question through `record`; a page click and a vote find their question
through `question`, which shows a row only to the server (or the command line) that asked it.
Rows leave it when a member asks (`forget`: Discord's Developer Terms want a user's data deleted
promptly on request) and when they are older than a server's retention (`purge`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from retrieval.errors import Forbidden, InvalidQuery, NotFound
from retrieval.models import Caller, FeedbackRow, Hit, QueryRecord, TopQuery
from retrieval.store import Store

if TYPE_CHECKING:
    from retrieval.gaps import Gap
    from retrieval.log_stats import LogStats

MAX_LOG_ROWS = 100_000
MAX_PURGE_DAYS = 3650
MAX_STATS_DAYS = 366
MAX_REASON_CHARS = 200
GROUPED_ROWS = 100_000  # the latest questions `top` and `unanswered` group
GAP_ROWS = 5000  # the latest unanswered and not-helpful questions gaps are found among
LogView = Literal["recent", "top", "unanswered", "feedback"]


class QueryLog:
    """The log of one store's questions and feedback."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(
        self,
        caller: Caller,
        query: str,
        hits: Sequence[Hit],
        *,
        answered: bool,
        confidence: float,
        latency_ms: float,
    ) -> int:
        """Log one question as `caller` asked it and the hits it was shown; its row id."""
        return await self.store.log_query(
            surface=caller.surface,
            guild_id=caller.guild_id,
            channel_id=caller.channel_id,
            user_id=caller.user_id,
            command=caller.command,
            query=query,
            hits=[(h.passage_id, h.score) for h in hits],
            answered=answered,
            confidence=confidence,
            latency_ms=latency_ms,
        )

    def answer_posted(
        self, query_id: int, guild_id: int | None, channel_id: int, message_id: int
    ) -> None:
        """The answer to `query_id` went out as message `message_id` in `channel_id` (or,
        nothing posted, that is the member's message it considered): the log links the row
        there and a gap closed later is announced under it. Only a row of `guild_id`'s server
        is marked. Written shortly, with others (`retrieval.log_writer.Trickle`): the views
        that show it write what is waiting first."""
        self.store.note_message(query_id, guild_id, channel_id, message_id)

    async def reply_targets(
        self, query_ids: Sequence[int], caller: Caller
    ) -> list[tuple[int, str, int | None, int, int]]:
        """Of `query_ids`, the questions of the caller's server whose answer (or question) is
        a message to reply under: (id, question, asker, channel, message), newest first."""
        if caller.guild_id is None and not caller.operator:
            raise Forbidden("only the operator, from the command line, reads the whole log")
        return await self.store.reply_targets(caller.guild_id, list(query_ids)[:MAX_LOG_ROWS])

    async def question(self, query_id: int, guild_id: int | None) -> QueryRecord | None:
        """The logged question `query_id` when it was asked where `guild_id` says (a server, or
        None: the command line); None when it is gone or was asked elsewhere."""
        record = await self.store.get_query(query_id)
        if record is None or record.guild_id != guild_id:
            return None
        return record

    async def forget(
        self, user_id: int, caller: Caller, *, everywhere: bool = False
    ) -> tuple[int, int]:
        """Delete a member's questions and votes; (questions, votes) deleted. The operator: in
        `caller.guild_id`'s server, or everywhere. `everywhere` (/privacy forget-me): in every
        server at once, for the member themselves only. Otherwise (a server's moderator: the
        surface checks that) in the caller's server only, whoever is forgotten."""
        if caller.operator:
            scope = caller.guild_id
        elif everywhere:
            if caller.user_id != user_id:
                raise Forbidden("only members themselves delete their questions everywhere")
            scope = None
        elif caller.guild_id is None:
            raise Forbidden("a member's questions are deleted by them, or in a server")
        else:
            scope = caller.guild_id
        return await self.store.forget_user(user_id, scope)

    async def purge(self, days: int, caller: Caller) -> int:
        """Delete the questions older than `days` days (and their votes): the operator's in
        `caller.guild_id`'s server or everywhere; a server's in that server only. How many."""
        if not 1 <= days <= MAX_PURGE_DAYS:
            raise InvalidQuery(f"the age must be between 1 and {MAX_PURGE_DAYS:,} days")
        if caller.guild_id is None and not caller.operator:
            raise Forbidden("only the operator, from the command line, purges the whole log")
        before = datetime.now(UTC) - timedelta(days=days)
        return await self.store.purge_queries(
            before.isoformat(timespec="milliseconds"), caller.guild_id
        )

    async def stats(self, days: int, caller: Caller) -> LogStats:
        """The log's figures for the last `days` days against the `days` before (see
        `retrieval.log_stats`): a server's for its moderators, the whole log's for the
        operator."""
        from retrieval.log_stats import LoggedAsk, compute

        if not 1 <= days <= MAX_STATS_DAYS:
            raise InvalidQuery(f"the period must be between 1 and {MAX_STATS_DAYS} days")
        if caller.guild_id is None and not caller.operator:
            raise Forbidden("only the operator, from the command line, reads the whole log")
        now = datetime.now(UTC)
        since = now - timedelta(days=2 * days)
        rows, cast = await self.store.asks_since(
            caller.guild_id, since.isoformat(timespec="milliseconds")
        )
        votes: dict[int, list[bool]] = {}
        for query_id, helpful in cast:
            votes.setdefault(query_id, []).append(bool(helpful))
        asks = [LoggedAsk(int(i), _moment(t), u, bool(a), float(ms)) for i, t, u, a, ms in rows]
        return await asyncio.to_thread(compute, asks, votes, days, now)

    async def gaps(self, caller: Caller, limit: int = GAP_ROWS) -> list[Gap]:
        """What the corpus lacks, by what people asked: the latest unanswered and not-helpful
        questions in clusters (`retrieval.gaps`), largest first."""
        from retrieval.gaps import find_gaps

        if caller.guild_id is None and not caller.operator:
            raise Forbidden("only the operator, from the command line, reads the whole log")
        rows = await self.store.gap_rows(caller.guild_id, limit)
        return await asyncio.to_thread(find_gaps, rows)

    async def record_reason(
        self, query_id: int, user_id: int, reason: str, guild_id: int | None = None
    ) -> None:
        """Why `user_id` found the answer to `query_id` not helpful (blank: no reason), kept
        with their not-helpful vote; NotFound when they have none on it."""
        if await self.question(query_id, guild_id) is None:
            raise NotFound("that answer is no longer in the log")
        printable = "".join(ch for ch in reason if ch.isprintable() or ch.isspace())
        text = " ".join(printable.split())[:MAX_REASON_CHARS] or None
        if not await self.store.set_feedback_reason(query_id, user_id, text):
            raise NotFound("there is no not-helpful vote of yours on that answer to explain")

    async def record_feedback(
        self, query_id: int, user_id: int, helpful: bool, guild_id: int | None = None
    ) -> bool:
        """One vote per user per answer; a second click changes the vote.

        Returns True when this replaced an earlier vote by the same user.
        """
        if await self.question(query_id, guild_id) is None:
            raise NotFound("that answer is no longer in the log")
        return await self.store.upsert_feedback(query_id, user_id, helpful)

    async def rows(
        self, view: LogView, limit: int, caller: Caller
    ) -> list[QueryRecord] | list[TopQuery] | list[FeedbackRow]:
        """One view of the log: recent questions, the most asked and the unanswered ones (each
        grouped by what it asks: `retrieval.question_groups`), or the answers people voted
        on. In a server's scope, that server's rows; the whole log is the operator's alone."""
        if not 1 <= limit <= MAX_LOG_ROWS:
            raise InvalidQuery(f"the limit must be between 1 and {MAX_LOG_ROWS:,}")
        guild_id = caller.guild_id  # None: every row (the store's view for the operator)
        if guild_id is None and not caller.operator:
            raise Forbidden("only the operator, from the command line, reads the whole log")
        if view in ("top", "unanswered"):  # grouped by what they ask (question_groups)
            from retrieval.question_groups import group_questions

            # Among the latest GROUPED_ROWS: what people ask lately, in bounded time.
            texts = await self.store.query_texts(
                guild_id, GROUPED_ROWS, unanswered=view == "unanswered"
            )
            groups = await asyncio.to_thread(group_questions, texts)
            return groups[:limit]
        if view == "feedback":
            return await self.store.feedback_rows(guild_id, limit)
        if view == "recent":
            return await self.store.recent_queries(guild_id, limit)
        raise InvalidQuery(f"unknown log view {view!r}; use recent, top, unanswered or feedback")


def _moment(text: str) -> datetime:
    """A logged time (ISO 8601; one without a zone is UTC, as every row's is)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
