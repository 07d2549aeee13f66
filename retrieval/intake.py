"""Intake: what comes into the corpus: sources added, refreshed, and the bundled articles.

One job: bytes from a file, an upload, a web page or pasted text, read into a document by a
limited parser process (`retrieval.ingest`), checked against what is already here and written in
one transaction. The ingest pipeline (cleaning, passages, summaries, extraction) and the fetcher
are imported by the methods that use them, not by this module: the facade imports it, and the
`citebot ask` path must not pay for them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import aiosqlite

from retrieval.backends import database_errors
from retrieval.errors import CitebotError, DuplicateSource, Forbidden, NotFound
from retrieval.files import check_length, check_size, decode_text, read_file_bytes
from retrieval.ingest import FileRead, IngestQueue, OnQueued, read_files
from retrieval.models import AddResult, Caller, RefreshResult, Source
from retrieval.seeds import seed_files
from retrieval.store import NewDocument, Store
from retrieval.urls import FetchPolicy, canonical_url, check_url

if TYPE_CHECKING:  # aiohttp is imported only when a page is fetched: `citebot ask` stays fast
    from aiohttp.abc import AbstractResolver

    # Likewise the ingest pipeline (cleaning, passages, summaries, extraction): imported by the
    # methods that add sources, not by the ask path.
    from retrieval.documents import PreparedDocument
    from retrieval.ingest_jobs import ReadDocument

log = logging.getLogger(__name__)


def _resolved_bytes(path: Path) -> tuple[Path, bytes]:
    """The file's absolute path (kept as its source, so a refresh finds it from anywhere)
    and its bytes."""
    data = read_file_bytes(path)
    return path.resolve(), data


def _file_bytes_if_any(path: Path) -> bytes | None:
    """A file source's bytes when it is still where the command line read it from."""
    return read_file_bytes(path) if path.is_absolute() and path.is_file() else None


def _check_operator(caller: Caller) -> None:
    """Refuse to read this machine's files for anyone but the operator at its terminal."""
    if not caller.operator:
        raise Forbidden("only the operator, from the command line, adds files from this machine")


def _may_refresh(caller: Caller, source: Source) -> bool:
    """Whether `caller` may refresh `source`: in a server's scope, that server's own sources;
    the operator in the global scope, any."""
    if caller.guild_id is not None:
        return source.guild_id == caller.guild_id
    return caller.operator


def _scope_note(existing: Source, guild_id: int | None) -> str:
    """Where a duplicate lives, when it is not where the caller is adding."""
    if guild_id is None and existing.guild_id is not None:
        return f" in server {existing.guild_id}; a copy for every server would show there twice"
    return ""


def _duplicate(existing: Source, guild_id: int | None) -> DuplicateSource:
    """The refusal of content that is already source `existing`."""
    return DuplicateSource(
        f"this content is already source [{existing.doc_id}] "
        f"{existing.title!r} ({existing.source}){_scope_note(existing, guild_id)}"
    )


class Intake:
    """Adds and refreshes the sources of one store, one server's turn at a time."""

    def __init__(
        self,
        store: Store,
        ingest: IngestQueue,
        fetch_policy: FetchPolicy,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self.store = store
        self.ingest = ingest
        self.fetch_policy = fetch_policy
        self.resolver = resolver  # None: the system's DNS, through the address guard

    async def ensure_seeds(self) -> int:
        """Ingest, update or drop bundled articles so the database matches `seeds/`.

        Cheap when nothing changed: one hash of the raw files compared with the stored one.
        Returns the number of articles added or replaced.
        """
        files = seed_files()
        raw = [(source, path.read_bytes()) for source, path in files]
        fingerprint = hashlib.sha256(
            b"\0".join(s.encode() + b"\0" + data for s, data in raw)
        ).hexdigest()
        if await self.store.meta("seed_fingerprint") == fingerprint:
            return 0
        from retrieval.documents import prepare  # lazy: see TYPE_CHECKING above
        from retrieval.ingest_jobs import with_layouts

        prepared = await asyncio.to_thread(
            lambda: [(s, with_layouts(prepare(decode_text(d, s), name=s))) for s, d in raw]
        )
        changed = 0
        async with self.store.transaction() as db:
            existing = await self.store.seed_hashes(db)
            wanted = {s for s, _ in prepared}
            for source, (doc_id, _) in existing.items():
                if source not in wanted:
                    await self.store.delete_document(db, doc_id)
            for source, doc in prepared:
                old = existing.get(source)
                if old and old[1] == doc.content_hash:
                    continue
                if old:
                    await self.store.delete_document(db, old[0])
                await self._insert(
                    db, doc, source=source, kind="seed", guild_id=None, added_by="citebot"
                )
                changed += 1
            await self.store.set_meta(db, "seed_fingerprint", fingerprint)
        if changed:
            log.info("bundled corpus: %d article(s) ingested", changed)
        return changed

    async def add_file(
        self,
        path: Path,
        *,
        caller: Caller,
        title: str | None = None,
        on_queued: OnQueued | None = None,
        wait_limit: float | None = None,
    ) -> AddResult:
        """Ingest a file on this machine (.txt, .md, .html, .pdf, recognised by content) into
        the caller's scope; only the operator reads this machine's files."""
        _check_operator(caller)
        path, data = await asyncio.to_thread(_resolved_bytes, path)
        return await self._add_bytes(
            data,
            path.name,
            str(path),
            title,
            caller.guild_id,
            caller.added_by,
            on_queued,
            wait_limit,
        )

    async def add_files(
        self,
        paths: Sequence[Path],
        *,
        caller: Caller,
    ) -> AsyncIterator[tuple[Path, AddResult | CitebotError]]:
        """Ingest files on this machine (a folder from the command line): for each path in
        order, what `add_file` would return or raise for it, with the same rows written, as
        if they were added one after the other.

        Faster than that: the files are read in batches by limited parser processes, several
        at once (retrieval.ingest.read_files), and each batch is written in one transaction
        (`_store_batch`). When that transaction fails it leaves nothing, and the batch is
        written again one file at a time, each in a transaction of its own, so the files before
        the one that fails are added and that one raises, as they would one by one.
        """
        _check_operator(caller)
        guild_id, added_by = caller.guild_id, caller.added_by
        async with self.ingest.turn(guild_id):
            async for batch in read_files(self.ingest, paths, self._read_alone):
                try:
                    outcomes = await self._store_batch(batch, guild_id, added_by)
                except database_errors() as exc:
                    log.warning(
                        "writing %d files together failed (%s); one at a time", len(batch), exc
                    )
                    for read in batch:
                        yield read.path, await self._store_read(read, guild_id, added_by)
                    continue
                for outcome in outcomes:
                    yield outcome

    async def _store_read(
        self, read: FileRead, guild_id: int | None, added_by: str | None
    ) -> AddResult | CitebotError:
        """One file of a batch written alone, as `add_file` writes it."""
        if isinstance(read.outcome, CitebotError):
            return read.outcome
        try:
            return await self._store_new(
                read.outcome.doc,
                source=read.source,
                kind="file",
                guild_id=guild_id,
                added_by=added_by,
                published_at=read.outcome.published,
            )
        except CitebotError as exc:
            return exc

    async def _read_alone(self, data: bytes, name: str) -> ReadDocument:
        return await self._read(data, name, None)

    async def _store_batch(
        self, batch: Sequence[FileRead], guild_id: int | None, added_by: str | None
    ) -> list[tuple[Path, AddResult | CitebotError]]:
        """Write a batch of read files in one transaction; each file's outcome as `_store_new`
        would give it in turn (a duplicate of a document already here, or of one earlier in
        the batch, is refused with the same message)."""
        outcomes: dict[int, AddResult | CitebotError] = {
            i: f.outcome for i, f in enumerate(batch) if isinstance(f.outcome, CitebotError)
        }
        todo = [(i, f, f.outcome) for i, f in enumerate(batch) if i not in outcomes]
        async with self.store.transaction() as db:
            owners = await self.store.content_owners(db, [r.doc.content_hash for _, _, r in todo])
            known: dict[int, Source] = {}  # the duplicates' originals, by id
            new: list[tuple[int, FileRead, ReadDocument]] = []
            twins: list[tuple[int, int]] = []  # (file, the earlier file of this batch it repeats)
            for i, f, read in todo:
                held = owners[read.doc.content_hash]
                visible = [o for o in held if o[1] is None or o[1] == guild_id]
                if visible or (held and guild_id is None):
                    doc_id = (visible or held)[0][0]
                    if doc_id < 0:
                        twins.append((i, -doc_id - 1))
                        continue
                    if doc_id not in known:
                        found = await self.store.get_source(doc_id, db)
                        assert found is not None
                        known[doc_id] = found
                    outcomes[i] = _duplicate(known[doc_id], guild_id)
                    continue
                held.append((-len(new) - 1, guild_id))  # an id to come: its place in `new`
                new.append((i, f, read))
            stored = await self.store.insert_documents(
                db,
                [
                    NewDocument(
                        guild_id=guild_id,
                        title=read.doc.title,
                        source=f.source,
                        kind="file",
                        content_hash=read.doc.content_hash,
                        summary=read.doc.summary,
                        word_count=read.doc.word_count,
                        added_by=added_by,
                        passages=read.doc.passages,
                        published_at=read.published,
                    )
                    for _, f, read in new
                ],
            )
        added = []
        for (i, f, read), (doc_id, added_at) in zip(new, stored, strict=True):
            doc = read.doc
            source = Source(
                doc_id=doc_id,
                title=doc.title,
                source=f.source,
                kind="file",
                guild_id=guild_id,
                passages=len(doc.passages),
                added_at=added_at,
                added_by=added_by,
                summary=doc.summary,
            )
            added.append(source)
            outcomes[i] = AddResult(source, len(doc.passages), doc.summary)
        for i, earlier in twins:
            outcomes[i] = _duplicate(added[earlier], guild_id)
        return [(f.path, outcomes[i]) for i, f in enumerate(batch)]

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
        check_size(filename, len(data))
        return await self._add_bytes(
            data, filename, filename, title, guild_id, added_by, on_queued, wait_limit
        )

    async def _add_bytes(
        self,
        data: bytes,
        name: str,
        source: str,
        title: str | None,
        guild_id: int | None,
        added_by: str | None,
        on_queued: OnQueued | None,
        wait_limit: float | None,
    ) -> AddResult:
        async with self.ingest.turn(guild_id, on_queued, wait_limit=wait_limit):
            read = await self._read(data, name, title)
            return await self._store_new(
                read.doc,
                source=source,
                kind="file",
                guild_id=guild_id,
                added_by=added_by,
                published_at=read.published,
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
        check_url(url, self.fetch_policy)
        await self._refuse_known_url(url, guild_id)
        async with self.ingest.turn(guild_id, on_queued, wait_limit=wait_limit):
            from retrieval.fetch import fetch

            fetched = await fetch(url, self.fetch_policy, resolver=self.resolver)
            if fetched.redirects:
                await self._refuse_known_url(fetched.url, guild_id)
            read = await self._read(
                fetched.data, fetched.url, title, fetched.content_type, fetched.url
            )
            return await self._store_new(
                read.doc,
                source=fetched.url,
                kind="url",
                guild_id=guild_id,
                added_by=added_by,
                published_at=read.published,
                canonical=canonical_url(fetched.url),
            )

    async def _read(
        self,
        data: bytes,
        name: str,
        title: str | None,
        content_type: str | None = None,
        url: str | None = None,
    ) -> ReadDocument:
        """A stranger's bytes read into a document, in a limited parser process."""
        from retrieval.ingest_jobs import decode_read, read_document  # lazy: see TYPE_CHECKING

        value = await self.ingest.run(
            read_document, data, name, content_type, url, title, name=name
        )
        return decode_read(value)

    async def _refuse_known_url(self, url: str, guild_id: int | None) -> None:
        canonical = canonical_url(url)
        existing = await self.store.find_by_canonical_url(canonical, guild_id)
        if existing is None and guild_id is None:
            existing = await self.store.find_by_canonical_url_anywhere(canonical)
        if existing is not None:
            raise DuplicateSource(
                f"this page is already source [{existing.doc_id}] {existing.title!r} "
                f"({existing.source}){_scope_note(existing, guild_id)}"
            )

    async def refresh(
        self,
        doc_id: int | None,
        caller: Caller,
        *,
        deadline: float | None = None,
        on_queued: OnQueued | None = None,
        wait_limit: float | None = None,
    ) -> list[RefreshResult]:
        """Fetch or read sources again; replace passages and summary where the content changed.

        `doc_id` None refreshes every source this caller may change (in a server's scope: that
        server's own; the operator in the global scope: all but the bundled ones). Only the
        operator's refresh reads files on this machine again, and only those the operator added
        from a path (`Source.on_this_machine`). Pasted text and uploads have nothing to refetch
        and are reported as skipped. No source is started after `deadline` (the event
        loop's clock): those are reported as skipped, so a Discord reply is never later than
        its interaction token allows.
        """
        guild_id = caller.guild_id
        if doc_id is not None:
            source = await self.store.get_source(doc_id)
            if source is None or not _may_refresh(caller, source):
                raise NotFound(f"no source with id {doc_id} that you can refresh")
            targets = [source]
        elif guild_id is not None:
            targets = [s for s in await self.store.list_sources(guild_id) if s.guild_id == guild_id]
        elif caller.operator:
            targets = [s for s in await self.store.all_sources() if not s.bundled]
        else:
            raise Forbidden("only the operator, from the command line, refreshes every source")
        reread = caller.operator
        loop = asyncio.get_running_loop()
        results: list[RefreshResult] = []
        async with self.ingest.turn(guild_id, on_queued, wait_limit=wait_limit):
            for source in targets:
                if deadline is not None and loop.time() >= deadline:
                    results.append(
                        RefreshResult(source, "skipped", "not reached in time; refresh again")
                    )
                    continue
                results.append(await self._refresh_one(source, reread))
        return results

    async def _refresh_one(self, source: Source, reread_files: bool) -> RefreshResult:
        try:
            if source.bundled:
                return RefreshResult(source, "skipped", "bundled with citebot")
            if source.kind == "url":
                from retrieval.fetch import fetch

                fetched = await fetch(source.source, self.fetch_policy, resolver=self.resolver)
                read = await self._read(
                    fetched.data, fetched.url, source.title, fetched.content_type, fetched.url
                )
            elif (
                source.kind == "file"
                and reread_files
                and source.on_this_machine  # a path the operator gave, not an upload's name
                and (data := await asyncio.to_thread(_file_bytes_if_any, Path(source.source)))
            ):
                read = await self._read(data, Path(source.source).name, source.title)
            else:
                return RefreshResult(source, "skipped", "nothing to fetch again")
        except CitebotError as exc:
            return RefreshResult(source, "failed", str(exc))
        doc = read.doc
        async with self.store.transaction() as db:
            current = await self.store.content_hash_of(source.doc_id, db)
            if current is None:  # removed while it was being fetched
                return RefreshResult(source, "failed", "it was removed while being refreshed")
            if current == doc.content_hash:
                return RefreshResult(source, "unchanged", "")
            twin = await self.store.find_by_hash(doc.content_hash, source.guild_id, db)
            if twin is None and source.guild_id is None:
                twin = await self.store.find_by_hash_anywhere(doc.content_hash, db)
            if twin is not None and twin.doc_id != source.doc_id:
                return RefreshResult(
                    source, "failed", f"its new content is the same as source [{twin.doc_id}]"
                )
            await self.store.replace_content(
                db,
                source.doc_id,
                content_hash=doc.content_hash,
                summary=doc.summary,
                word_count=doc.word_count,
                passages=doc.passages,
                published_at=read.published,
            )
        return RefreshResult(source, "changed", f"{len(doc.passages)} passages")

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
        from retrieval.ingest_jobs import decode_document, prepare_text  # lazy: see TYPE_CHECKING

        check_length(name, text)  # before the text is copied to a parser process
        async with self.ingest.turn(guild_id, on_queued, wait_limit=wait_limit):
            doc = decode_document(await self.ingest.run(prepare_text, text, title, name, name=name))
            return await self._store_new(
                doc, source=source, kind=kind, guild_id=guild_id, added_by=added_by
            )

    async def _store_new(
        self, doc: PreparedDocument, *, guild_id: int | None, **columns: str | None
    ) -> AddResult:
        """Write a prepared document in one transaction, unless its content is already here.

        A source for every server (no guild) is also refused when some server already has the
        same content: that server would otherwise see it twice. `columns`: the document's
        other columns, as `_insert` takes them (source, kind, added_by, published_at,
        canonical).
        """
        async with self.store.transaction() as db:
            existing = await self.store.find_by_hash(doc.content_hash, guild_id, db)
            if existing is None and guild_id is None:
                existing = await self.store.find_by_hash_anywhere(doc.content_hash, db)
            if existing is not None:
                raise _duplicate(existing, guild_id)
            doc_id = await self._insert(db, doc, guild_id=guild_id, **columns)  # type: ignore[arg-type]
            added = await self.store.get_source(doc_id, db)
        assert added is not None
        return AddResult(added, len(doc.passages), doc.summary)

    async def _insert(
        self,
        db: aiosqlite.Connection,
        doc: PreparedDocument,
        *,
        source: str,
        kind: str,
        guild_id: int | None,
        added_by: str | None,
        published_at: str | None = None,
        canonical: str | None = None,
    ) -> int:
        return await self.store.insert_document(
            db,
            published_at=published_at,
            canonical_url=canonical,
            guild_id=guild_id,
            title=doc.title,
            source=source,
            kind=kind,
            content_hash=doc.content_hash,
            summary=doc.summary,
            word_count=doc.word_count,
            added_by=added_by,
            passages=doc.passages,
        )
