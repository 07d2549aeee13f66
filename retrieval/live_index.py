"""The index a knowledge base searches, kept in step with its database.

One job: hold the current `Bm25Index` and bring it up to date when the corpus changes, without
rebuilding what did not change. At start it opens the segments saved next to the database
(memory-mapped); if the database has moved on since they were saved (a source added by the
command line, a backup restored) it diffs the documents by content hash and indexes only what is
new, marking what is gone. Each later change becomes a small segment of its own, so a new
source is searchable by the next question. Scopes that grow fragmented are merged (one segment
built again from the database) in the background; the merged index replaces the old one only
if nothing changed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from retrieval.index import TITLE_WEIGHT, Bm25Index, new_segment_name, segments_of
from retrieval.segments import Segment
from retrieval.store import CorpusDelta, Store

log = logging.getLogger(__name__)


class LiveIndex:
    """The current index of a store, updated incrementally (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.current: Bm25Index | None = None
        self.lock = asyncio.Lock()
        # Where segments are saved; an in-memory database has no folder: build, never save.
        self.folder = store.segment_folder
        self._merging: asyncio.Task[None] | None = None

    async def close(self) -> None:
        if self._merging is not None:
            self._merging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._merging

    async def update(self) -> Bm25Index:
        """The index for the latest corpus version; one update at a time."""
        async with self.lock:
            version = await self.store.version_map()
            current = self.current
            if current is None or current.version != version.number:
                current = self.current = await (
                    self._open() if current is None else self._synced(current)
                )
            self._schedule_merge()
            return current

    async def settle(self) -> Bm25Index:
        """The index brought up to the database, its fragmented scopes merged, and saved.

        For a process that changed the corpus and is about to exit (a terminal command): a
        background merge would be cancelled at exit, so without this every `citebot sources
        add` left one more segment for every later process to open and search; and the next
        process would sync the change itself. Settled, the next process opens the saved index
        as it is. Merges run one scope at a time; one that fails or finds the corpus moved on
        ends the loop (a later update merges it)."""
        await self.update()
        if self._merging is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._merging
        while self.current is not None and (plan := self.current.merge_plan()):
            before = self.current
            await self._merge(*plan[0])
            if self.current is before:
                break
        assert self.current is not None
        return self.current

    async def _identity(self, state: str) -> str:
        database_id = await self.store.meta("database_id") or "unknown"
        return f"{database_id} {state}"

    async def _open(self) -> Bm25Index:
        """The saved index, brought up to date; or a new one built from the database."""
        opened = (
            None
            if self.folder is None
            else await asyncio.to_thread(Bm25Index.open_saved, self.folder)
        )
        if opened is not None:
            index, identity = opened
            version = await self.store.version_map()
            current = await self._identity(version.state)
            if identity == current and index.version == version.number:
                index.scope_versions = version.scopes
                log.info("index opened: %d passages (corpus version %d)", len(index), index.version)
                return index
            if identity.split(" ")[0] == current.split(" ")[0]:  # this database, moved on
                return await self._synced(index)
        return await self._synced(None)

    async def _synced(self, index: Bm25Index | None) -> Bm25Index:
        """`index` (None: nothing yet) with what the database has since: new and changed
        documents as new segments, removed and changed ones marked deleted."""
        delta = await self.store.corpus_delta(None if index is None else index.hashes)
        identity = await self._identity(delta.version.state)
        updated = await asyncio.to_thread(self._apply, index, delta, identity)
        log.info(
            "index updated: %d passages (corpus version %d; %d passages new, %d documents gone)",
            len(updated),
            updated.version,
            len(delta.rows),
            len(delta.gone),
        )
        return updated

    def _apply(self, index: Bm25Index | None, delta: CorpusDelta, identity: str) -> Bm25Index:
        added = segments_of(delta.rows)
        number = delta.version.number
        if index is None:
            updated = Bm25Index.of(added, {}, number)
        else:
            updated = index.changed(added, delta.gone, number)
        updated.hashes = delta.hashes
        updated.scope_versions = delta.version.scopes
        self._save(updated, identity)
        return updated

    def _save(self, index: Bm25Index, identity: str) -> None:
        if self.folder is None:
            return
        try:
            index.save(self.folder, identity)
        except OSError as exc:
            log.warning("could not save the index next to the database: %s", exc)

    # -- merging -------------------------------------------------------------------------------

    def _schedule_merge(self) -> None:
        if self.current is None or (self._merging is not None and not self._merging.done()):
            return
        plan = self.current.merge_plan()
        if plan:
            self._merging = asyncio.create_task(self._merge(*plan[0]))

    async def _merge(self, scope: int, names: tuple[str, ...]) -> None:
        """These segments of one scope replaced by one built again from the database (their
        documents' passages now: removed ones leave, and their document frequencies with
        them). The merged index replaces the current one only if the corpus has not moved on
        meanwhile; otherwise a later update merges."""
        try:
            current = self.current
            if current is None:
                return
            documents = await asyncio.to_thread(current.live_documents, names)
            version, rows = await self.store.documents_passages(documents)
            if version.number != current.version:
                return
            segment = await asyncio.to_thread(
                Segment.build, new_segment_name(), scope, rows, TITLE_WEIGHT
            )
            identity = await self._identity(version.state)
            async with self.lock:
                current = self.current
                if current is None or current.version != version.number:
                    return  # the corpus moved on meanwhile: merged on a later update
                if not set(names) <= {s.name for s in current.segments}:
                    return
                merged = current.merged(names, segment, version.number)
                merged.hashes = current.hashes
                merged.scope_versions = current.scope_versions
                await asyncio.to_thread(self._save, merged, identity)
                self.current = merged
            log.info(
                "index scope %d: %d segments merged into one (%d passages)",
                scope,
                len(names),
                len(rows),
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("merging index scope %d failed", scope)
