"""A source added to a server from Discord, by /source add and by a gap's "Add a source" form
alike: a web page, an uploaded file or pasted text, waiting for its turn no longer than an
interaction's token lets the answer still be sent."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from retrieval.ingest import OnQueued
    from retrieval.knowledge import KnowledgeBase
    from retrieval.models import AddResult

# A reply must come within the interaction token's 15 minutes: an addition waits for its turn
# at most ADD_WAIT_SECONDS (a refresh has its own room: bot.cogs.sources.Sources._refresh_room).
TOKEN_SECONDS = 15 * 60
ADD_WAIT_SECONDS = 8 * 60


async def add_source(
    kb: KnowledgeBase,
    *,
    guild_id: int | None,
    added_by: str,
    title: str | None,
    url: str | None = None,
    upload: tuple[str, bytes] | None = None,
    text: str | None = None,
    on_queued: OnQueued | None = None,
) -> AddResult:
    """Add one of `url`, `upload` (file name, bytes) or `text` (the first given) to the server."""
    if url:
        return await kb.add_url(
            url,
            title=title,
            guild_id=guild_id,
            added_by=added_by,
            on_queued=on_queued,
            wait_limit=ADD_WAIT_SECONDS,
        )
    if upload is not None:
        name, data = upload
        return await kb.add_upload(
            name,
            data,
            title=title,
            guild_id=guild_id,
            added_by=added_by,
            on_queued=on_queued,
            wait_limit=ADD_WAIT_SECONDS,
        )
    assert text is not None
    return await kb.add_text(
        text,
        title=title,
        source="pasted text",
        kind="text",
        guild_id=guild_id,
        added_by=added_by,
        on_queued=on_queued,
        wait_limit=ADD_WAIT_SECONDS,
    )
