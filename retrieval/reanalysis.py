"""Bringing stored passage terms up to the current analyzer.

The database keeps each passage's analysed terms, so that building the index never re-reads
text; when the analyzer changes (`ANALYZER_VERSION`), terms made by the old one would never meet
a question analysed by the new one ("sevres" against a stored "sèvr"). Opening such a database
re-analyses every passage once: read on the read connection, analysed in a worker thread, written
in one transaction that skips passages whose text changed meanwhile, and every scope's version
bumped so that no saved index built from the old terms is used again.
"""

from __future__ import annotations

import asyncio
import logging

from retrieval.analyzer import ANALYZER_VERSION, normalize
from retrieval.store import Store

log = logging.getLogger(__name__)


async def reanalyse_if_needed(store: Store) -> int:
    """Re-analyse stored passages made by another analyzer version; returns how many."""
    stored = await store.meta("analyzer_version")
    if stored == str(ANALYZER_VERSION):
        return 0
    # Imported only now: every open calls this, and the ingest pipeline behind index_terms
    # (cleaning, passages, summaries) is no part of answering a question.
    from retrieval.documents import index_terms

    rows = await store.passages_to_reanalyse()
    if rows:
        log.info(
            "re-analysing %d passages (analyzer version %s -> %d)",
            len(rows),
            stored or 1,
            ANALYZER_VERSION,
        )

    def analyse() -> list[tuple[str, str, int, str]]:
        out = []
        for passage_id, heading, text in rows:
            # Text stored by an older version may hold what normalisation now changes
            # (HTML entities): highlights are offsets into the normalised text.
            new_text = normalize(text)
            out.append((new_text, index_terms(heading, new_text), passage_id, text))
        return out

    updated = await asyncio.to_thread(analyse)
    async with store.transaction() as db:
        if await store.meta("analyzer_version", db) == str(ANALYZER_VERSION):
            return 0  # another process did it meanwhile
        await store.store_reanalysed(db, updated, ANALYZER_VERSION)
    return len(updated)
