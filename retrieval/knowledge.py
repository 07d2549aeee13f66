"""The facade: the one object the command line and the Discord cogs talk to.

Both surfaces call these coroutines and render what comes back, so a question asked in a
terminal and in Discord gets the same passages and leaves the same kind of log row. Behind the
one door are rooms with one job each, sharing one store:

- `retrieval.answering.Answering`: questions searched, reranked, judged (and logged);
- `retrieval.library.Library`: the sources each server sees, found, summarised, removed;
- `retrieval.intake.Intake`: sources added and refreshed, and the bundled corpus;
- `retrieval.query_log.QueryLog`: the log of questions and the votes on their answers;
- `retrieval.server_settings.ServerSettingsRoom`: each server's own settings.

The facade's public methods are its rooms' own: the surfaces (and the benchmarks) need one
object, and none of them has to know how the rooms are divided. The intake is built on its first
use (`_Door`): it brings the ingest pipeline, the parser processes' queue and the URL rules, and
`citebot ask`, which opens a knowledge base to answer one question, needs none of them.

Who acts is said, not guessed: the methods whose rules depend on it (refresh, remove, the whole
log, files read from this machine) take a `retrieval.models.Caller`, the operator at this
machine's terminal (`Caller.terminal`) or a member of a server (`Caller.member`). Elsewhere a
`guild_id` is only a scope: the corpus of that server (None: the global corpus alone).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.answering import MAX_K, MAX_QUERY_CHARS, Answering, validate_query
from retrieval.backends import is_postgres
from retrieval.library import Library
from retrieval.live_index import LiveIndex
from retrieval.query_log import MAX_LOG_ROWS, LogView, QueryLog
from retrieval.reanalysis import reanalyse_if_needed
from retrieval.seeds import SEED_FINGERPRINT, seeds_fingerprint
from retrieval.store import Store


async def open_store(address: str | Path) -> Store:
    """The database at `address`: a SQLite file (or ":memory:"), or PostgreSQL when it is a
    `postgresql://` address (`retrieval.pg_store`; asyncpg is imported only then)."""
    if is_postgres(str(address)):
        from retrieval.pg_store import PgStore

        return await PgStore.open(str(address))  # type: ignore[return-value]
    return await Store.open(address)


if TYPE_CHECKING:  # aiohttp is imported only when a page is fetched: `citebot ask` stays fast
    from aiohttp.abc import AbstractResolver

    from retrieval.index import Bm25Index
    from retrieval.ingest import IngestQueue
    from retrieval.intake import Intake
    from retrieval.server_settings import ServerSettingsRoom
    from retrieval.urls import FetchPolicy

# What the surfaces import from here (the limits they check before calling, the log's views).
__all__ = [
    "MAX_K",
    "MAX_LOG_ROWS",
    "MAX_QUERY_CHARS",
    "KnowledgeBase",
    "LogView",
    "validate_query",
]


class _Door:
    """A public method of a room the facade builds on first use: `kb.add_file` is
    `kb.intake.add_file`, looked up when it is called for, so the room is not built before."""

    def __init__(self, room: str, method: str = "") -> None:
        self.room = room
        self.name = method

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = self.name or name

    def __get__(self, kb: object, owner: type | None = None) -> Any:
        if kb is None:
            return self
        return getattr(getattr(kb, self.room), self.name)


class KnowledgeBase:
    """Open with `await KnowledgeBase.open(path)` (or `async with`); the bundled corpus is
    ingested on first use."""

    def __init__(
        self,
        store: Store,
        *,
        fetch_policy: FetchPolicy | None = None,
        resolver: AbstractResolver | None = None,
        ingest: IngestQueue | None = None,
    ) -> None:
        self.store = store
        self.queries = QueryLog(store)
        self.library = Library(store)
        self._servers: ServerSettingsRoom | None = None
        self._fetch_policy = fetch_policy
        self._resolver = resolver
        self._ingest = ingest
        self._intake: Intake | None = None
        self.answering = Answering(store, LiveIndex(store), self.queries)
        # The door: each public call is its room's own method, so its signature and docstring
        # live in one place.
        self.warm_up = self.answering.warm_up
        self.settle_index = self.answering.settle_index
        self.ask = self.answering.ask
        self.ask_many = self.answering.ask_many
        self.page = self.answering.page
        self.answers_now = self.answering.answers_now
        self.record_feedback = self.queries.record_feedback
        self.record_reason = self.queries.record_reason
        self.logged_question = self.queries.question
        self.answer_posted = self.queries.answer_posted
        self.reply_targets = self.queries.reply_targets
        self.forget_member = self.queries.forget
        self.purge_log = self.queries.purge
        self.log_stats = self.queries.stats
        self.log_gaps = self.queries.gaps
        self.query_log = self.queries.rows
        self.list_sources = self.library.list_sources
        self.find_article = self.library.find_article
        self.titles = self.library.titles
        self.summary = self.library.summary
        self.summaries = self.library.summaries
        self.remove_source = self.library.remove_source
        self.passage_context = self.library.passage_context
        self.example_question = self.library.example_question

    server_settings = _Door("servers", "of")
    change_server_settings = _Door("servers", "change")
    retention = _Door("servers", "retention")
    digests = _Door("servers", "digests")
    digest_sent = _Door("servers", "digest_sent")
    mark_digest_sent = _Door("servers", "mark_digest_sent")
    digest_refused = _Door("servers", "digest_refused")
    mark_digest_refused = _Door("servers", "mark_digest_refused")
    ensure_seeds = _Door("intake")
    add_file = _Door("intake")
    add_files = _Door("intake")
    add_upload = _Door("intake")
    add_url = _Door("intake")
    add_text = _Door("intake")
    refresh = _Door("intake")

    @property
    def servers(self) -> ServerSettingsRoom:
        """Each server's settings (the bot's alone: built on first use, so `citebot ask`
        does not import it)."""
        if self._servers is None:
            from retrieval.server_settings import ServerSettingsRoom

            self._servers = ServerSettingsRoom(self.store)
        return self._servers

    @property
    def intake(self) -> Intake:
        """The room sources come in by, built (and its modules imported) on first use."""
        if self._intake is None:
            from retrieval.ingest import IngestQueue
            from retrieval.intake import Intake
            from retrieval.urls import FetchPolicy

            self._intake = Intake(
                self.store,
                self._ingest or IngestQueue(),
                self._fetch_policy or FetchPolicy(),
                self._resolver,
            )
        return self._intake

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        seed: bool = True,
        fetch_policy: FetchPolicy | None = None,
        resolver: AbstractResolver | None = None,
        ingest: IngestQueue | None = None,
        shards: tuple[int, tuple[int, ...]] | None = None,
    ) -> KnowledgeBase:
        """`shards` (count, this process's ids): index only the global corpus and the servers
        on those shards (a shard process of a bot past one process)."""
        store = await open_store(path)
        store.keep_shards(shards)
        kb = cls(store, fetch_policy=fetch_policy, resolver=resolver, ingest=ingest)
        try:
            await reanalyse_if_needed(store)
            # One read when the bundled corpus is as `seeds/` holds it (every open but the first
            # after an upgrade): the intake is built only when there is something to ingest.
            if seed and await store.meta(SEED_FINGERPRINT) != seeds_fingerprint():
                await kb.ensure_seeds()
        except BaseException:
            await store.close()
            raise
        return kb

    async def close(self) -> None:
        await self.answering.close()
        ingest = self._intake.ingest if self._intake is not None else self._ingest
        if ingest is not None:
            ingest.close()
        await self.store.close()

    async def __aenter__(self) -> KnowledgeBase:
        return self

    async def expect_many_questions(self, wait: float = 0.0, *, build: bool = True) -> bool:
        """For a process that will answer many questions (the bot, `ask --batch`): searches
        switch to the compiled search once it has loaded in the background (a second or so;
        the first time after an install, compiling takes longer). `wait`: seconds to wait
        for it. `build`: load the compiled build too, for a process that will build segments
        (the bot); not for one that only asks (`ask --batch`), where compiling it after an
        install would take a core for tens of seconds while the questions are timed. The
        same answers either way; a one-question ask does not pay for it. Returns whether
        searches use it now."""
        return await self.answering.expect_many_questions(wait, build=build)

    def answer_inline(self) -> bool:
        """For a caller that asks one question at a time with nothing else on its event loop
        (`ask --batch`): each question is answered on the loop's thread, without the hop to an
        engine thread (see Answering.answer_inline). Returns whether it is."""
        return self.answering.answer_inline()

    async def answer_in_processes(self, count: int, *, compiled: bool | None = None) -> bool:
        """For a bot: answer questions in `count` engine processes beside its event loop
        (`retrieval.engine_processes`), so the engine's Python and discord.py's no longer share
        one interpreter lock and the bot uses more than one core. The same answers; a question
        they cannot take (an index not yet saved) is answered in a thread. Returns whether
        they started (never for an in-memory database). `compiled`: whether the processes
        load the compiled search (default: when this process asked for it)."""
        return await self.answering.answer_in_processes(count, compiled=compiled)

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- what the surfaces read and set: the intake's limits ------------------------------------

    @property
    def fetch_policy(self) -> FetchPolicy:
        return self.intake.fetch_policy

    @property
    def ingest(self) -> IngestQueue:
        """The queue sources wait in for their turn to be read (and its limits)."""
        return self.intake.ingest

    @ingest.setter
    def ingest(self, queue: IngestQueue) -> None:
        self.intake.ingest = queue

    # -- the live index, as the benchmarks and index tests reach it ----------------------------

    @property
    def _live(self) -> LiveIndex:
        return self.answering.live

    @property
    def _index(self) -> Bm25Index | None:
        return self.answering.live.current

    @_index.setter
    def _index(self, index: Bm25Index | None) -> None:
        self.answering.live.current = index

    @property
    def _index_lock(self) -> asyncio.Lock:
        return self.answering.live.lock

    async def _current_index(self, guild_id: int | None = None) -> Bm25Index:
        return await self.answering.current_index(guild_id)

    # -- the surfaces' own settings -------------------------------------------------------------

    async def setting(self, key: str) -> str | None:
        """A value the surfaces keep between runs (the command-tree hash, for example)."""
        return await self.store.meta(f"setting:{key}")

    async def set_setting(self, key: str, value: str) -> None:
        async with self.store.transaction() as db:
            await self.store.set_meta(db, f"setting:{key}", value)
