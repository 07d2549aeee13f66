"""The library: the sources each server can see, found by id or title, summarised, removed.

One job: reading the catalogue of sources (and taking one out of it). What comes into it (added,
refreshed, the bundled corpus) is `retrieval.intake`'s job; this part imports none of the
ingest pipeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retrieval.errors import HINT_LIST_SOURCES, Ambiguous, Forbidden, NotFound
from retrieval.models import Caller, Source
from retrieval.store import Store

if TYPE_CHECKING:
    from retrieval.reports import PassageContext, Summary


def title_key(text: str) -> str:
    """`retrieval.cleaning.title_key`, imported on the first title matched: cleaning is the
    ingest pipeline's module, and `citebot ask` opens a library without matching a title."""
    from retrieval.cleaning import title_key as key

    return key(text)


class Library:
    """The sources of one store, as each server (or the command line) sees them."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def passage_context(
        self, passage_id: int, guild_id: int | None = None, around: int = 1
    ) -> PassageContext:
        """A passage `guild_id` may see, with `around` passages before and after it in its
        article; NotFound when it is gone (its source removed) or not this server's."""
        from retrieval.reports import PassageContext

        rows = await self.store.passage_context(passage_id, guild_id, around)
        at = next((i for i, r in enumerate(rows) if r["id"] == passage_id), None)
        if at is None:
            raise NotFound("that passage is no longer in the sources", hint=HINT_LIST_SOURCES)
        row = rows[at]
        return PassageContext(
            passage_id=passage_id,
            title=row["title"],
            source=row["source"],
            kind=row["kind"],
            added_by=row["added_by"],
            added_at=row["added_at"],
            paragraph=row["paragraph"],
            before=tuple(r["text"] for r in rows[:at]),
            text=row["text"],
            after=tuple(r["text"] for r in rows[at + 1 :]),
        )

    async def example_question(self, guild_id: int | None = None) -> str | None:
        """A question to try here (for /help): one about this server's newest source, or a
        bundled article's when it added none; None for an empty corpus. Never a question from
        the log: a member's question (a private one, an auto-answered post) is theirs."""
        sources = await self.store.list_sources(guild_id)
        own = [s for s in sources if s.guild_id is not None] or sources
        if not own:
            return None
        newest = max(own, key=lambda s: (s.added_at, s.doc_id))
        title = " ".join(newest.title.split())[:150].rstrip(" .:;!?")
        return f"What does “{title}” say?"

    async def list_sources(self, guild_id: int | None = None) -> list[Source]:
        return await self.store.list_sources(guild_id)

    async def find_article(self, ref: str, guild_id: int | None = None) -> Source:
        """An article by id or by a fragment of its title, among those visible here."""
        ref = " ".join((ref or "").split())
        if not ref:
            raise NotFound("name an article: its id or a few words of its title")
        visible = await self.store.list_sources(guild_id)
        if ref.isascii() and ref.isdigit():  # not "²" or "①", which isdigit() also accepts
            for source in visible:
                if source.doc_id == int(ref):
                    return source
            raise NotFound(f"no article with id {ref}", hint=HINT_LIST_SOURCES)
        key = title_key(ref)
        if not key:
            raise NotFound(f"no article matches {ref!r}", hint=HINT_LIST_SOURCES)
        exact = [s for s in visible if title_key(s.title) == key]
        if len(exact) == 1:
            return exact[0]
        matches = [s for s in visible if key in title_key(s.title)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise NotFound(f"no article title contains {ref!r}", hint=HINT_LIST_SOURCES)
        raise Ambiguous(
            f"{ref!r} matches {len(matches)} articles; give the id or more of the title",
            [(s.doc_id, s.title) for s in matches],
        )

    async def titles(
        self, guild_id: int | None, fragment: str = "", limit: int = 25
    ) -> list[tuple[int, str]]:
        """Visible article titles containing `fragment` (case and punctuation ignored)."""
        key = title_key(fragment)
        sources = await self.store.list_sources(guild_id)
        matches = [(s.doc_id, s.title) for s in sources if key in title_key(s.title)]
        starts = [m for m in matches if title_key(m[1]).startswith(key)]
        rest = [m for m in matches if m not in starts]
        return (starts + rest)[:limit]

    # -- summaries and sources ---------------------------------------------------------------

    async def summary(self, ref: str, guild_id: int | None = None) -> Summary:
        from retrieval.reports import Summary  # not for every ask (see retrieval.models)

        source = await self.find_article(ref, guild_id)
        return Summary(source.doc_id, source.title, source.source, source.summary)

    async def summaries(self, guild_id: int | None = None) -> list[Summary]:
        from retrieval.reports import Summary

        return [
            Summary(s.doc_id, s.title, s.source, s.summary)
            for s in await self.store.list_sources(guild_id)
        ]

    async def remove_source(self, doc_id: int, caller: Caller) -> Source:
        """Remove a source visible in the caller's scope. The operator may remove any but the
        bundled ones; anyone else only their own server's."""
        guild_id = caller.guild_id
        source = await self.store.get_source(doc_id)
        if source is None or (guild_id is not None and source.guild_id not in (None, guild_id)):
            raise NotFound(f"no source with id {doc_id}")
        if source.bundled:
            raise Forbidden(
                f"[{doc_id}] {source.title!r} is part of the bundled corpus and cannot be removed"
            )
        if not caller.operator and guild_id is None:
            raise Forbidden("only the operator, from the command line, removes sources here")
        if not caller.operator and source.guild_id != guild_id:
            raise Forbidden(
                f"[{doc_id}] {source.title!r} is shared by every server and can "
                "only be removed from the command line"
            )
        async with self.store.transaction() as db:
            await self.store.delete_document(db, doc_id)
        return source
