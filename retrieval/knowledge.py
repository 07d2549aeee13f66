"""The facade: the one object the command line and the Discord cogs talk to.

Both surfaces call these coroutines and render what comes back, so a question asked in a
terminal and in Discord gets the same passages and leaves the same kind of log row. Behind the
one door are rooms with one job each, sharing one store:

- `retrieval.answering.Answering`: questions searched, reranked, judged (and logged);
- `retrieval.library.Library`: the sources each server sees, found, summarised, removed;
- `retrieval.intake.Intake`: sources added and refreshed, and the bundled corpus;
- `retrieval.query_log.QueryLog`: the log of questions and the votes on their answers.

The facade's methods only hand each call to its room: the surfaces (and the benchmarks) need
one object, and none of them has to know how the rooms are divided.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.answering import MAX_K, MAX_QUERY_CHARS, Answering, validate_query
from retrieval.errors import CitebotError
from retrieval.ingest import IngestQueue, OnQueued
from retrieval.intake import Intake
from retrieval.library import Library
from retrieval.live_index import LiveIndex
from retrieval.models import (
    AddResult,
    Answer,
    Caller,
    FeedbackRow,
    QueryRecord,
    RefreshResult,
    Source,
    Summary,
    TopQuery,
)
from retrieval.query_log import MAX_LOG_ROWS, LogView, QueryLog
from retrieval.reanalysis import reanalyse_if_needed
from retrieval.store import Store
from retrieval.urls import FetchPolicy

if TYPE_CHECKING:  # aiohttp is imported only when a page is fetched: `citebot ask` stays fast
    from aiohttp.abc import AbstractResolver

    from retrieval.index import Bm25Index

# What the surfaces import from here (the limits they check before calling, the log's views).
__all__ = [
    "MAX_K",
    "MAX_LOG_ROWS",
    "MAX_QUERY_CHARS",
    "KnowledgeBase",
    "LogView",
    "validate_query",
]


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
        policy = fetch_policy or FetchPolicy()
        self.intake = Intake(store, ingest or IngestQueue(), policy, resolver)
        self.answering = Answering(store, LiveIndex(store), self.queries)

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        seed: bool = True,
        fetch_policy: FetchPolicy | None = None,
        resolver: AbstractResolver | None = None,
        ingest: IngestQueue | None = None,
    ) -> KnowledgeBase:
        store = await Store.open(path)
        kb = cls(store, fetch_policy=fetch_policy, resolver=resolver, ingest=ingest)
        try:
            await reanalyse_if_needed(store)
            if seed:
                await kb.ensure_seeds()
        except BaseException:
            await store.close()
            raise
        return kb

    async def close(self) -> None:
        await self.answering.close()
        self.ingest.close()
        await self.store.close()

    async def __aenter__(self) -> KnowledgeBase:
        return self

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

    # -- asking ---------------------------------------------------------------------------------

    async def warm_up(self) -> int:
        """Load or build the index now (off the loop), so the first question is not the one
        that waits for it. Returns the number of passages indexed."""
        return await self.answering.warm_up()

    async def ask(self, query: str, k: int = 3, caller: Caller | None = None) -> Answer:
        """The top `k` passages for `query` visible to `caller`'s server, logged."""
        return await self.answering.ask(query, k, caller)

    async def page(
        self, query_id: int, page: int, k: int = 3, guild_id: int | None = None
    ) -> Answer:
        """Page `page` (0-based) of a logged question's results, searched again, not logged."""
        return await self.answering.page(query_id, page, k, guild_id)

    # -- the query log --------------------------------------------------------------------------

    async def record_feedback(
        self, query_id: int, user_id: int, helpful: bool, guild_id: int | None = None
    ) -> bool:
        """One vote per user per answer; True when it replaced the user's earlier vote."""
        return await self.queries.record_feedback(query_id, user_id, helpful, guild_id)

    async def query_log(
        self, view: LogView = "recent", limit: int = 20, guild_id: int | None = None
    ) -> list[QueryRecord] | list[TopQuery] | list[FeedbackRow]:
        return await self.queries.rows(view, limit, guild_id)

    # -- the library ----------------------------------------------------------------------------

    async def list_sources(self, guild_id: int | None = None) -> list[Source]:
        return await self.library.list_sources(guild_id)

    async def find_article(self, ref: str, guild_id: int | None = None) -> Source:
        """An article by id or by a fragment of its title, among those visible here."""
        return await self.library.find_article(ref, guild_id)

    async def titles(
        self, guild_id: int | None, fragment: str = "", limit: int = 25
    ) -> list[tuple[int, str]]:
        """Visible article titles containing `fragment` (case and punctuation ignored)."""
        return await self.library.titles(guild_id, fragment, limit)

    async def summary(self, ref: str, guild_id: int | None = None) -> Summary:
        return await self.library.summary(ref, guild_id)

    async def summaries(self, guild_id: int | None = None) -> list[Summary]:
        return await self.library.summaries(guild_id)

    async def remove_source(self, doc_id: int, guild_id: int | None = None) -> Source:
        """Remove a source. A server may remove only its own; nobody removes bundled ones."""
        return await self.library.remove_source(doc_id, guild_id)

    # -- the intake -----------------------------------------------------------------------------

    async def ensure_seeds(self) -> int:
        """Make the database's bundled articles match `seeds/`; how many were (re)added."""
        return await self.intake.ensure_seeds()

    async def add_file(
        self,
        path: Path,
        *,
        title: str | None = None,
        guild_id: int | None = None,
        added_by: str | None = None,
        on_queued: OnQueued | None = None,
        wait_limit: float | None = None,
    ) -> AddResult:
        """Ingest a file on this machine (.txt, .md, .html, .pdf, recognised by content)."""
        return await self.intake.add_file(
            path,
            title=title,
            guild_id=guild_id,
            added_by=added_by,
            on_queued=on_queued,
            wait_limit=wait_limit,
        )

    def add_files(
        self,
        paths: Sequence[Path],
        *,
        guild_id: int | None = None,
        added_by: str | None = None,
    ) -> AsyncIterator[tuple[Path, AddResult | CitebotError]]:
        """Ingest files on this machine: for each path in order, what `add_file` would return
        or raise for it (read and written in batches, see `Intake.add_files`)."""
        return self.intake.add_files(paths, guild_id=guild_id, added_by=added_by)

    async def add_upload(
        self,
        filename: str,
        data: bytes,
        *,
        title: str | None = None,
        guild_id: int | None = None,
        added_by: str | None = None,
        on_queued: OnQueued | None = None,
        wait_limit: float | None = None,
    ) -> AddResult:
        """Ingest an uploaded file (a Discord attachment): checked like a file on disk."""
        return await self.intake.add_upload(
            filename,
            data,
            title=title,
            guild_id=guild_id,
            added_by=added_by,
            on_queued=on_queued,
            wait_limit=wait_limit,
        )

    async def add_url(
        self,
        url: str,
        *,
        title: str | None = None,
        guild_id: int | None = None,
        added_by: str | None = None,
        on_queued: OnQueued | None = None,
        wait_limit: float | None = None,
    ) -> AddResult:
        """Fetch a web page (safely, see retrieval.fetch), extract its article, ingest it."""
        return await self.intake.add_url(
            url,
            title=title,
            guild_id=guild_id,
            added_by=added_by,
            on_queued=on_queued,
            wait_limit=wait_limit,
        )

    async def add_text(
        self,
        text: str,
        *,
        title: str | None = None,
        source: str = "pasted text",
        kind: str = "text",
        guild_id: int | None = None,
        added_by: str | None = None,
        name: str = "the text",
        on_queued: OnQueued | None = None,
        wait_limit: float | None = None,
    ) -> AddResult:
        """Ingest one article. Refusals (BadSource, DuplicateSource) write nothing."""
        return await self.intake.add_text(
            text,
            title=title,
            source=source,
            kind=kind,
            guild_id=guild_id,
            added_by=added_by,
            name=name,
            on_queued=on_queued,
            wait_limit=wait_limit,
        )

    async def refresh(
        self,
        doc_id: int | None = None,
        guild_id: int | None = None,
        *,
        deadline: float | None = None,
        on_queued: OnQueued | None = None,
        wait_limit: float | None = None,
    ) -> list[RefreshResult]:
        """Fetch or read sources again; replace passages and summary where the content changed
        (see `Intake.refresh`)."""
        return await self.intake.refresh(
            doc_id, guild_id, deadline=deadline, on_queued=on_queued, wait_limit=wait_limit
        )

    # -- the surfaces' own settings -------------------------------------------------------------

    async def setting(self, key: str) -> str | None:
        """A value the surfaces keep between runs (the command-tree hash, for example)."""
        return await self.store.meta(f"setting:{key}")

    async def set_setting(self, key: str, value: str) -> None:
        async with self.store.transaction() as db:
            await self.store.set_meta(db, f"setting:{key}", value)
