"""SQLite storage: documents, passages, summaries and the query log.

One aiosqlite connection per process (it owns one worker thread), WAL so that the bot and a CLI
can use the same file at once, and every write inside one explicit transaction so a failed ingest
leaves nothing behind. The schema is versioned with `PRAGMA user_version`; `MIGRATIONS` only ever
grows, and each step runs in its own transaction.

`meta.corpus_version` is bumped in the same transaction as any change to documents, which is how
another process (a bot that is running) learns that its in-memory index is stale. A counter
alone does not identify what was indexed (a database restored from a backup reaches the same
count with other documents), so each change also moves `meta.corpus_state` along a hash chain of
the changes themselves (which document, its content hash, added or removed): a saved index
records the state it was built from and is used only by a database in exactly that state.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import random
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import aiosqlite

from retrieval.log_writer import BatchWriter, Trickle
from retrieval.models import FeedbackRow, QueryRecord, Source, discord_message_url

log = logging.getLogger(__name__)

T = TypeVar("T")

# How long one statement waits inside SQLite for another process's write lock, and how long in
# all a write keeps trying (with backoff) before it gives up. A bot on a busy machine shares the
# file with a command line adding a folder: a write that has to wait, waits its turn.
BUSY_TIMEOUT_MS = 5000
# Passages of one fetch (`Store.passages_by_id`) whose missing layouts are worked out and kept.
LAYOUTS_PER_FETCH = 3
WRITE_PATIENCE_S = 120.0

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema.
    """
    CREATE TABLE documents (
        id            INTEGER PRIMARY KEY,
        guild_id      INTEGER,              -- NULL: visible in every server
        title         TEXT NOT NULL,
        source        TEXT NOT NULL,        -- seeds/..., a file name, a URL, or "pasted text"
        kind          TEXT NOT NULL CHECK (kind IN ('seed', 'file', 'text', 'url')),
        content_hash  TEXT NOT NULL,
        summary       TEXT NOT NULL,
        word_count    INTEGER NOT NULL,
        added_by      TEXT,
        added_at      TEXT NOT NULL,
        published_at  TEXT
    );
    CREATE UNIQUE INDEX documents_scope_hash ON documents (ifnull(guild_id, 0), content_hash);
    CREATE INDEX documents_guild ON documents (guild_id);
    CREATE TABLE passages (
        id           INTEGER PRIMARY KEY,
        document_id  INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
        ordinal      INTEGER NOT NULL,
        paragraph    INTEGER NOT NULL,
        heading      TEXT,
        text         TEXT NOT NULL,
        terms        TEXT NOT NULL,         -- analyzed terms, space-separated
        UNIQUE (document_id, ordinal)
    );
    CREATE TABLE queries (
        id          INTEGER PRIMARY KEY,
        asked_at    TEXT NOT NULL,
        surface     TEXT NOT NULL,
        guild_id    INTEGER,
        channel_id  INTEGER,
        user_id     INTEGER,
        command     TEXT,
        query       TEXT NOT NULL,
        hits        TEXT NOT NULL,          -- JSON [[passage_id, score], ...]
        answered    INTEGER NOT NULL,
        confidence  REAL NOT NULL,
        latency_ms  REAL NOT NULL
    );
    CREATE INDEX queries_guild_time ON queries (guild_id, asked_at);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('corpus_version', '0');
    """,
    # 2: feedback on answers, one vote per user per answer.
    """
    CREATE TABLE feedback (
        query_id  INTEGER NOT NULL REFERENCES queries (id) ON DELETE CASCADE,
        user_id   INTEGER NOT NULL,
        helpful   INTEGER NOT NULL CHECK (helpful IN (0, 1)),
        voted_at  TEXT NOT NULL,
        PRIMARY KEY (query_id, user_id)
    );
    """,
    # 3: web sources: the canonical URL recognises the same page added twice.
    """
    ALTER TABLE documents ADD COLUMN canonical_url TEXT;
    CREATE INDEX documents_canonical_url ON documents (canonical_url);
    """,
    # 4: an identity for this database, so a saved index is never used with another one.
    """
    INSERT INTO meta (key, value) VALUES ('database_id', lower(hex(randomblob(16))));
    """,
    # 5: the state of the corpus, moved by every change (see the module's docstring); a
    # database from before it starts from a state of its own.
    """
    INSERT INTO meta (key, value) VALUES ('corpus_state', lower(hex(randomblob(16))));
    """,
    # 6: where each passage's terms and sentences sit (`retrieval.term_offsets`), so answering
    # a question needs no re-analysis of its hits. Passages stored before it have none: each is
    # analysed when first shown and its layout stored then (`Store.passages_by_id`).
    """
    ALTER TABLE passages ADD COLUMN layout BLOB;
    """,
    # 7: each server's own settings (`retrieval.server_settings`), as one JSON object a server:
    # a setting added later needs no migration, and a server that set nothing has no row.
    """
    CREATE TABLE server_settings (
        guild_id    INTEGER PRIMARY KEY,
        settings    TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    """,
    # 8: why an answer was not helpful, in the voter's words (optional, with the vote).
    """
    ALTER TABLE feedback ADD COLUMN reason TEXT;
    """,
    # 9: the message a question's answer was posted as (or, nothing posted, the member's own
    # message it answered): a moderator follows the link from the log, and a gap closed later
    # is announced under it. NULL: answered privately, or before this column.
    """
    ALTER TABLE queries ADD COLUMN message_channel_id INTEGER;
    ALTER TABLE queries ADD COLUMN message_id INTEGER;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class PassageRow(NamedTuple):
    """A passage as the index loads it (a tuple, so plain database rows serve as well)."""

    id: int
    document_id: int
    guild_id: int | None
    terms: str
    title: str = ""  # its article's title, which the index scores as a field of its own


@dataclass(frozen=True, slots=True)
class CorpusVersion:
    """Where the corpus is: its change counter, each scope's counter (0: the global corpus),
    and its state (a digest of the changes that led here)."""

    number: int
    scopes: dict[int, int]
    state: str


@dataclass(frozen=True, slots=True)
class CorpusDelta:
    """What an index lacks of the corpus (see `Store.corpus_delta`)."""

    version: CorpusVersion
    hashes: dict[int, str]  # every document now: id -> content hash
    gone: list[int]  # documents removed or changed since
    rows: Sequence[PassageRow]  # passages of the documents new or changed since


@dataclass(frozen=True, slots=True)
class NewPassage:
    ordinal: int
    paragraph: int
    heading: str | None
    text: str
    terms: str
    # `retrieval.term_offsets.encode(text, terms)`, made where the terms are made (None: none
    # yet; the passage is analysed when first shown and its layout stored then).
    layout: bytes | None = None


def _passage_row(doc_id: int, p: NewPassage) -> tuple[object, ...]:
    """A passage's values for _INSERT_PASSAGE."""
    return (doc_id, p.ordinal, p.paragraph, p.heading, p.text, p.terms, p.layout)


_INSERT_PASSAGE = (
    "INSERT INTO passages (document_id, ordinal, paragraph, heading, text, terms, layout) "
    "VALUES (?,?,?,?,?,?,?)"
)


@dataclass(frozen=True, slots=True)
class NewDocument:
    """A document to insert with `insert_documents` (the fields of `insert_document`)."""

    guild_id: int | None
    title: str
    source: str
    kind: str
    content_hash: str
    summary: str
    word_count: int
    added_by: str | None
    passages: Sequence[NewPassage]
    published_at: str | None = None
    canonical_url: str | None = None


# SQLite gives a new row the largest rowid plus one, up to this one.
_MAX_ROWID = 2**63 - 1


def _visible(guild_id: int | None, column: str = "d.guild_id") -> tuple[str, tuple[int, ...]]:
    """SQL condition for what a server sees: the global corpus, plus its own sources."""
    if guild_id is None:
        return f"{column} IS NULL", ()
    return f"({column} IS NULL OR {column} = ?)", (guild_id,)


def shard_condition(shards: tuple[int, tuple[int, ...]] | None, column: str = "d.guild_id") -> str:
    """SQL condition for the documents a process with `shards` (count, its ids) indexes: the
    global corpus and the servers on its shards (Discord's rule: (id >> 22) % count). Numbers
    only (checked ints), so written into the statement; the same text in SQLite and PostgreSQL."""
    if shards is None:
        return "1 = 1"
    count, ids = shards
    listed = ",".join(str(int(i)) for i in ids)
    return f"({column} IS NULL OR (({column} >> 22) % {int(count)}) IN ({listed}))"


def read_connection(path: str | Path) -> sqlite3.Connection:
    """A read-only connection to the database file at `path`, usable from any one thread at
    a time (an engine thread's, or an engine process's: `retrieval.engine_worker`)."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA query_only = ON")
        # Pages read through a mapping, not a read() each: the passages of an ask cost about
        # 20% less to fetch (SQLite only reads through it; the database is never truncated).
        db.execute("PRAGMA mmap_size = 268435456")
    except BaseException:
        db.close()
        raise
    return db


def _passages_query(ids: Sequence[int], guild_id: int | None) -> tuple[str, tuple[object, ...]]:
    """The read of passages by id with what showing them needs, only those `guild_id` sees."""
    marks = ",".join("?" * len(ids))
    cond, args = _visible(guild_id)
    sql = (
        "SELECT p.id, p.document_id, p.paragraph, p.heading, p.text, p.terms, p.layout, "
        "d.title, d.source, d.kind, d.added_by, d.added_at "
        "FROM passages p JOIN documents d ON d.id = p.document_id "
        f"WHERE p.id IN ({marks}) AND {cond}"
    )
    return sql, (*ids, *args)


def _without_layout(
    ids: Sequence[int], found: Mapping[int, sqlite3.Row]
) -> list[tuple[object, ...]]:
    """(id, text, terms) of the first LAYOUTS_PER_FETCH passages of `ids` stored without a
    layout (before there were layouts, or added without one): the best few of a fetch, which
    answering has just analysed (so the work is mostly cached), a bounded amount per ask."""
    missing = (r for i in ids if (r := found.get(i)) is not None and r["layout"] is None)
    return [(r["id"], r["text"], r["terms"]) for r in itertools.islice(missing, LAYOUTS_PER_FETCH)]


_VERSIONS_SQL = "SELECT key, value FROM meta WHERE key IN (?, ?, ?)"


def _version_keys(guild_id: int | None) -> tuple[str, str, str]:
    return ("corpus_version", "scope_version:0", f"scope_version:{guild_id or 0}")


def _versions_of(keys: tuple[str, str, str], rows: Iterable[Any]) -> tuple[int, int, int]:
    found = {k: int(v) for k, v in rows}
    return found.get(keys[0], 0), found.get(keys[1], 0), found.get(keys[2], 0)


def _busy(exc: BaseException) -> bool:
    """SQLite's "another connection holds the lock" errors, which are worth retrying."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    text = str(exc).lower()
    return "locked" in text or "busy" in text


async def _patiently(what: str, attempt: Callable[[], Awaitable[T]]) -> T:
    """`attempt()` again with jittered backoff while the database is busy, up to
    WRITE_PATIENCE_S in all; other errors go straight through."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + WRITE_PATIENCE_S
    delay = 0.05
    tries = 0
    while True:
        try:
            return await attempt()
        except sqlite3.OperationalError as exc:
            if not _busy(exc) or loop.time() >= give_up:
                raise
            tries += 1
            log.warning("the database is busy (%s); %s waits its turn (try %d)", exc, what, tries)
        await asyncio.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 2.0)


async def _connect(path: Path | str, *, read_only: bool) -> aiosqlite.Connection:
    db = await aiosqlite.connect(path, isolation_level=None)
    try:
        db.row_factory = aiosqlite.Row
        await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await db.execute("PRAGMA foreign_keys = ON")
        if read_only:
            await db.execute("PRAGMA query_only = ON")
    except BaseException:
        await db.close()
        raise
    return db


class Store:
    """The database. Create with `await Store.open(path)`; close with `await store.close()`.

    Two connections: one writes (transactions take turns on it), one reads. Reads never go
    through the writer, so a coroutine listing sources or answering a question never sees
    another coroutine's uncommitted rows, and never waits behind a long write.
    """

    def __init__(
        self, db: aiosqlite.Connection, path: Path, reader: aiosqlite.Connection | None = None
    ) -> None:
        self._db = db
        self._reader = reader or db
        self.path = path
        # One connection serves every writing coroutine: transactions must take turns on it.
        self._transaction_lock = asyncio.Lock()
        # The shards this process answers for (`keep_shards`): its index holds their servers'
        # sources and the global corpus only.
        self.shards: tuple[int, tuple[int, ...]] | None = None
        self._writer: BatchWriter[tuple[object, ...], tuple[object, ...]] = BatchWriter(
            self._write_log_rows, self._store_layouts
        )
        self._links: Trickle[tuple[object, ...]] = Trickle(self._link_messages)

    @property
    def log_writes(self) -> int:
        """Batches of query-log rows written so far (`retrieval.log_writer`)."""
        return self._writer.batches

    @property
    def in_memory(self) -> bool:
        return str(self.path) in (":memory:", "")

    @property
    def local_reads(self) -> bool:
        """Whether an engine thread reads through a connection of its own (`sync_reader`):
        a file, yes; an in-memory database exists only on the store's connection."""
        return not self.in_memory

    def on_corpus_change(self, listener: Callable[[], None]) -> None:
        """Nothing to register: a SQLite file has no notifications; each question reads the
        corpus version through its thread's connection (cheap: a read of a local file)."""

    def keep_shards(self, shards: tuple[int, tuple[int, ...]] | None) -> None:
        """Index only the global corpus and the servers on these shards (count, ids): a shard
        process needs no other server's sources in memory. Before the index is first built."""
        self.shards = shards

    @property
    def segment_folder(self) -> Path | None:
        """Where the index's segments are saved, next to the file (none in memory); a shard
        process's own, as its index holds its shards' servers only."""
        if self.in_memory:
            return None
        if self.shards is None:
            return Path(f"{self.path}.segments")
        count, ids = self.shards
        return Path(f"{self.path}.segments-shards-{count}-{'-'.join(map(str, ids))}")

    @classmethod
    async def open(cls, path: str | Path) -> Store:
        memory = str(path) in (":memory:", "")
        path = Path(path)
        if not memory and path.parent and not path.parent.exists():
            raise FileNotFoundError(f"the database folder {path.parent} does not exist")
        db = await _connect(path, read_only=False)
        reader: aiosqlite.Connection | None = None
        try:
            await _enable_wal(db)
            await db.execute("PRAGMA synchronous = NORMAL")
            store = cls(db, path)
            await store._migrate()
            if not memory:  # an in-memory database exists only on its own connection
                reader = await _connect(path, read_only=True)
                store._reader = reader
        except BaseException:
            if reader is not None:
                await reader.close()
            await db.close()
            raise
        return store

    async def close(self) -> None:
        try:
            await self._writer.close()  # the log rows and layouts still waiting
            await self._links.close()  # then the links to their answers' messages
        finally:
            if self._reader is not self._db:
                await self._reader.close()
            await self._db.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception (cancellation included).

        Concurrent callers in this process queue on a lock; another process's write lock is
        waited for (SQLite's busy timeout, then retries with backoff), never turned into an
        error while there is patience left.
        """
        async with self._transaction_lock:
            try:
                await _patiently("a write", lambda: self._db.execute("BEGIN IMMEDIATE"))
                yield self._db
                await _patiently("a commit", lambda: self._db.execute("COMMIT"))
            except BaseException:
                # Also when cancelled while BEGIN was queued, or when COMMIT failed: requests
                # run in order on aiosqlite's thread, so this ROLLBACK follows them.
                await asyncio.shield(self._rollback())
                raise

    async def _rollback(self) -> None:
        try:
            await self._db.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            if "no transaction is active" not in str(exc):
                raise

    async def snapshot_passages(self) -> tuple[CorpusVersion, Sequence[PassageRow]]:
        """The corpus version (with its scopes' and its state) and the passages, read in one read
        transaction on a connection of its own, so the index is built from exactly one
        committed version and no other read ever shares that old view."""
        return await self._read_snapshot(self._snapshot)

    async def _read_snapshot(self, read: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """`read` in one read transaction on a connection of its own, so it sees exactly one
        committed version and no other read ever shares that old view."""
        if self._reader is self._db:  # in memory: one connection, so take the writers' turn
            async with self._transaction_lock:
                return await read(self._db)
        db = await _connect(self.path, read_only=True)
        try:
            await db.execute("BEGIN")
            try:
                return await read(db)
            finally:
                await db.execute("COMMIT")
        finally:
            await db.close()

    async def _snapshot(
        self, db: aiosqlite.Connection
    ) -> tuple[CorpusVersion, Sequence[PassageRow]]:
        version = await self.version_map(db)
        return version, await self.load_passages(db)

    async def corpus_delta(self, known: Mapping[int, str] | None) -> CorpusDelta:
        """What an index holding `known` documents (id -> content hash; None: nothing) lacks,
        read in one read transaction: the corpus version, every document's hash now, the
        documents gone or changed since, and the passages of those new or changed."""
        return await self._read_snapshot(lambda db: self._delta(db, known))

    async def _delta(
        self, db: aiosqlite.Connection, known: Mapping[int, str] | None
    ) -> CorpusDelta:
        version = await self.version_map(db)
        mine = shard_condition(self.shards, "guild_id")
        sql = f"SELECT id, content_hash FROM documents WHERE {mine}"
        async with db.execute(sql) as cur:
            cur.row_factory = None
            hashes = {int(i): str(h) for i, h in await cur.fetchall()}
        if known is None:
            return CorpusDelta(version, hashes, [], await self.load_passages(db))
        gone = [d for d, h in known.items() if hashes.get(d) != h]
        new = [d for d, h in hashes.items() if known.get(d) != h]
        rows = await self._passages_of(db, new)
        return CorpusDelta(version, hashes, gone, rows)

    async def documents_passages(
        self, documents: Sequence[int]
    ) -> tuple[CorpusVersion, Sequence[PassageRow]]:
        """The corpus version and these documents' passages (those still stored), in one read
        transaction: what a merge of some segments rebuilds them from."""

        async def read(db: aiosqlite.Connection) -> tuple[CorpusVersion, Sequence[PassageRow]]:
            return await self.version_map(db), await self._passages_of(db, documents)

        return await self._read_snapshot(read)

    async def _passages_of(
        self, db: aiosqlite.Connection, documents: Sequence[int]
    ) -> list[PassageRow]:
        """These documents' passages as the index reads them, in passage id order (what a
        sync adds and a merge rebuilds from)."""
        rows: list[PassageRow] = []
        for start in range(0, len(documents), 500):  # under SQLite's limit on bound parameters
            part = list(documents[start : start + 500])
            sql = (
                "SELECT p.id, p.document_id, d.guild_id, p.terms, d.title FROM passages p "
                "JOIN documents d ON d.id = p.document_id WHERE p.document_id IN "
                f"({','.join('?' * len(part))}) AND {shard_condition(self.shards)}"
            )
            async with db.execute(sql, part) as cur:
                cur.row_factory = None
                rows += await cur.fetchall()  # type: ignore[arg-type]
        rows.sort(key=lambda r: r[0])
        return rows

    async def version_map(self, db: aiosqlite.Connection | None = None) -> CorpusVersion:
        """The corpus version, every scope's version (0: the global corpus) and the corpus
        state, in one read."""
        async with (db or self._reader).execute(
            "SELECT key, value FROM meta WHERE key IN ('corpus_version', 'corpus_state') "
            "OR key LIKE 'scope_version:%'"
        ) as cur:
            meta = dict(await cur.fetchall())
        scopes = {
            int(k.partition(":")[2]): int(v)
            for k, v in meta.items()
            if k.startswith("scope_version:")
        }
        return CorpusVersion(
            int(meta.get("corpus_version", 0)), scopes, meta.get("corpus_state", "")
        )

    async def _user_version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        version = await self._user_version()
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} has schema version {version}, newer than this citebot "
                f"({SCHEMA_VERSION}); upgrade citebot"
            )
        while version < SCHEMA_VERSION:
            async with self.transaction() as db:
                # Another process may have migrated while we waited for the write lock.
                version = await self._user_version()
                if version >= SCHEMA_VERSION:
                    break
                for statement in _statements(MIGRATIONS[version]):
                    await db.execute(statement)
                version += 1
                await db.execute(f"PRAGMA user_version = {version}")
            log.info("database migrated to schema version %d", version)

    # -- corpus ------------------------------------------------------------------------------

    async def meta(self, key: str, db: aiosqlite.Connection | None = None) -> str | None:
        """A value of the meta table; through `db` inside a transaction that decides by it."""
        async with (db or self._reader).execute(
            "SELECT value FROM meta WHERE key = ?", (key,)
        ) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def set_meta(self, db: aiosqlite.Connection, key: str, value: str) -> None:
        await db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def server_settings(self, guild_id: int) -> str | None:
        """A server's settings as stored (JSON), or None when it has set nothing."""
        async with self._reader.execute(
            "SELECT settings FROM server_settings WHERE guild_id = ?", (guild_id,)
        ) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def set_server_settings(self, db: aiosqlite.Connection, guild_id: int, text: str) -> None:
        await db.execute(
            "INSERT INTO server_settings (guild_id, settings, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (guild_id) DO UPDATE SET settings = excluded.settings, "
            "updated_at = excluded.updated_at",
            (guild_id, text, now()),
        )

    async def load_passages(self, db: aiosqlite.Connection | None = None) -> Sequence[PassageRow]:
        """Every passage with its scope, for the index. One read, so it sees one version.

        The rows are tuples in PassageRow's field order, made in aiosqlite's thread: turning
        100k of them into objects here would stall the event loop.
        """
        sql = (
            "SELECT p.id, p.document_id, d.guild_id, p.terms, d.title FROM passages p "
            f"JOIN documents d ON d.id = p.document_id WHERE {shard_condition(self.shards)} "
            "ORDER BY p.id"
        )
        async with (db or self._reader).execute(sql) as cur:
            cur.row_factory = None  # plain tuples, for this cursor only
            return await cur.fetchall()  # type: ignore[return-value]

    async def passages_by_id(
        self, ids: Sequence[int], guild_id: int | None
    ) -> dict[int, sqlite3.Row]:
        """Passages by id, only those this server may see (isolation does not rest on the
        index alone)."""
        if not ids:
            return {}
        # One trip to the reader's thread (execute and fetch together), not three.
        rows = await self._reader.execute_fetchall(*_passages_query(ids, guild_id))
        found = {r["id"]: r for r in rows}
        self.keep_layouts(_without_layout(ids, found))
        return found

    async def passage_context(
        self, passage_id: int, guild_id: int | None, around: int
    ) -> list[sqlite3.Row]:
        """The passage `passage_id` and up to `around` passages before and after it in its
        document (by ordinal), with the document's title, source, kind, who added it and when;
        empty when there is no such passage or `guild_id` may not see it."""
        cond, args = _visible(guild_id)
        sql = (
            "SELECT p.id, p.ordinal, p.paragraph, p.heading, p.text, d.title, d.source, "
            "d.kind, d.added_by, d.added_at FROM passages p "
            "JOIN passages c ON c.id = ? AND p.document_id = c.document_id "
            "AND p.ordinal BETWEEN c.ordinal - ? AND c.ordinal + ? "
            f"JOIN documents d ON d.id = p.document_id WHERE {cond} ORDER BY p.ordinal"
        )
        return list(await self._reader.execute_fetchall(sql, (passage_id, around, around, *args)))

    @staticmethod
    def passages_by_id_on(
        db: sqlite3.Connection, ids: Sequence[int], guild_id: int | None
    ) -> tuple[dict[int, sqlite3.Row], list[tuple[object, ...]]]:
        """`passages_by_id` through `db`, a connection of the calling worker thread (see
        `sync_reader`): no trip through the loop. Also the passages whose layouts are to be
        kept, for the loop's `keep_layouts`."""
        if not ids:
            return {}, []
        rows = db.execute(*_passages_query(ids, guild_id)).fetchall()
        found = {r["id"]: r for r in rows}
        return found, _without_layout(ids, found)

    def keep_layouts(self, passages: Sequence[tuple[object, ...]]) -> None:
        """Passages (id, text, terms) fetched without a layout get theirs worked out and kept
        with the next log write (on the loop)."""
        for passage in passages:
            self._writer.defer(passage)

    def sync_reader(self) -> sqlite3.Connection | None:
        """A new read-only connection to the database for one worker thread, or None for an
        in-memory database (it exists only on its own connection). The caller closes it."""
        if self.in_memory:
            return None
        return read_connection(self.path)

    # Reads that decide a write (is it a duplicate? is the document still there?) take the
    # transaction's connection `db`, so they see exactly what the write will change.

    async def find_by_hash(
        self, content_hash: str, guild_id: int | None, db: aiosqlite.Connection | None = None
    ) -> Source | None:
        """A visible document with this content, if any (a duplicate)."""
        cond, args = _visible(guild_id)
        rows = await self._sources(f"d.content_hash = ? AND {cond}", (content_hash, *args), db)
        return rows[0] if rows else None

    async def find_by_hash_anywhere(
        self, content_hash: str, db: aiosqlite.Connection | None = None
    ) -> Source | None:
        """A document with this content in any scope (any server's, or global)."""
        rows = await self._sources("d.content_hash = ?", (content_hash,), db)
        return rows[0] if rows else None

    async def seed_hashes(
        self, db: aiosqlite.Connection | None = None
    ) -> dict[str, tuple[int, str]]:
        """Bundled articles already ingested: source path -> (id, content hash)."""
        sql = "SELECT id, source, content_hash FROM documents WHERE kind = 'seed'"
        async with (db or self._reader).execute(sql) as cur:
            return {r["source"]: (r["id"], r["content_hash"]) for r in await cur.fetchall()}

    async def insert_document(
        self,
        db: aiosqlite.Connection,
        *,
        guild_id: int | None,
        title: str,
        source: str,
        kind: str,
        content_hash: str,
        summary: str,
        word_count: int,
        added_by: str | None,
        passages: Iterable[NewPassage],
        published_at: str | None = None,
        canonical_url: str | None = None,
    ) -> int:
        """Insert a document and its passages; call inside `transaction()`."""
        cur = await db.execute(
            "INSERT INTO documents (guild_id, title, source, kind, content_hash, summary, "
            "word_count, added_by, added_at, published_at, canonical_url) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                guild_id,
                title,
                source,
                kind,
                content_hash,
                summary,
                word_count,
                added_by,
                now(),
                published_at,
                canonical_url,
            ),
        )
        doc_id = cur.lastrowid
        assert doc_id is not None
        await db.executemany(
            _INSERT_PASSAGE,
            [_passage_row(doc_id, p) for p in passages],
        )
        await self._bump(db, guild_id, f"add {doc_id} {guild_id or 0} {content_hash}")
        return doc_id

    async def content_owners(
        self, db: aiosqlite.Connection, hashes: Iterable[str]
    ) -> dict[str, list[tuple[int, int | None]]]:
        """(id, server) of every document, in any scope, whose content is one of these, in id
        order: all that decides whether a document being added is a duplicate (what
        `find_by_hash` and `find_by_hash_anywhere` answer one document at a time)."""
        wanted = list(dict.fromkeys(hashes))
        owners: dict[str, list[tuple[int, int | None]]] = {h: [] for h in wanted}
        if not wanted:
            return owners
        # By scope, through the (scope, content hash) index: the scopes are found one after the
        # other as the next larger one there (a search each), not by reading every document.
        marks = ",".join("?" * len(wanted))
        sql = (
            "WITH RECURSIVE scopes(scope) AS ("
            " SELECT min(ifnull(guild_id, 0)) FROM documents"
            " UNION ALL SELECT (SELECT min(ifnull(guild_id, 0)) FROM documents"
            "  WHERE ifnull(guild_id, 0) > scope) FROM scopes WHERE scope IS NOT NULL) "
            "SELECT d.id, d.guild_id, d.content_hash FROM scopes JOIN documents d "
            f"ON ifnull(d.guild_id, 0) = scopes.scope AND d.content_hash IN ({marks}) "
            "ORDER BY d.id"
        )
        async with db.execute(sql, wanted) as cur:
            for doc_id, guild_id, content_hash in await cur.fetchall():
                owners[content_hash].append((doc_id, guild_id))
        return owners

    async def insert_documents(
        self, db: aiosqlite.Connection, documents: Sequence[NewDocument]
    ) -> list[tuple[int, str]]:
        """Insert documents of one scope and their passages, leaving exactly the rows, ids and
        corpus state that `insert_document` leaves called for each in turn, in a handful of
        statements instead of seven per document; (id, added_at) of each. Call inside
        `transaction()`: a failure leaves none of them."""
        if not documents:
            return []
        scopes = {d.guild_id for d in documents}
        if len(scopes) != 1:
            raise ValueError("insert_documents takes documents of one scope")
        async with db.execute("SELECT max(id) FROM documents") as cur:
            row = await cur.fetchone()
        first = (row[0] if row and row[0] is not None else 0) + 1
        if first + len(documents) - 1 > _MAX_ROWID:  # SQLite would pick ids of its own
            return [await self._insert_one(db, d) for d in documents]
        stamped = [(first + i, now(), d) for i, d in enumerate(documents)]
        await db.executemany(
            "INSERT INTO documents (id, guild_id, title, source, kind, content_hash, summary, "
            "word_count, added_by, added_at, published_at, canonical_url) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    doc_id,
                    d.guild_id,
                    d.title,
                    d.source,
                    d.kind,
                    d.content_hash,
                    d.summary,
                    d.word_count,
                    d.added_by,
                    added_at,
                    d.published_at,
                    d.canonical_url,
                )
                for doc_id, added_at, d in stamped
            ],
        )
        await db.executemany(
            _INSERT_PASSAGE,
            [_passage_row(doc_id, p) for doc_id, _, d in stamped for p in d.passages],
        )
        (scope,) = scopes
        await self._bump_many(
            db,
            scope,
            [f"add {doc_id} {scope or 0} {d.content_hash}" for doc_id, _, d in stamped],
        )
        return [(doc_id, added_at) for doc_id, added_at, _ in stamped]

    async def _insert_one(self, db: aiosqlite.Connection, d: NewDocument) -> tuple[int, str]:
        doc_id = await self.insert_document(
            db,
            guild_id=d.guild_id,
            title=d.title,
            source=d.source,
            kind=d.kind,
            content_hash=d.content_hash,
            summary=d.summary,
            word_count=d.word_count,
            added_by=d.added_by,
            passages=d.passages,
            published_at=d.published_at,
            canonical_url=d.canonical_url,
        )
        async with db.execute("SELECT added_at FROM documents WHERE id = ?", (doc_id,)) as cur:
            row = await cur.fetchone()
        return doc_id, row[0]

    async def replace_content(
        self,
        db: aiosqlite.Connection,
        doc_id: int,
        *,
        content_hash: str,
        summary: str,
        word_count: int,
        passages: Iterable[NewPassage],
        published_at: str | None,
    ) -> None:
        """New passages and summary for a refreshed source; the id (and citations) stay."""
        await db.execute("DELETE FROM passages WHERE document_id = ?", (doc_id,))
        await db.execute(
            "UPDATE documents SET content_hash = ?, summary = ?, word_count = ?, "
            "published_at = coalesce(?, published_at) WHERE id = ?",
            (content_hash, summary, word_count, published_at, doc_id),
        )
        await db.executemany(
            _INSERT_PASSAGE,
            [_passage_row(doc_id, p) for p in passages],
        )
        async with db.execute("SELECT guild_id FROM documents WHERE id = ?", (doc_id,)) as cur:
            row = await cur.fetchone()
        await self._bump(db, row[0] if row else None, f"replace {doc_id} {content_hash}")

    async def find_by_canonical_url(self, url: str, guild_id: int | None) -> Source | None:
        cond, args = _visible(guild_id)
        rows = await self._sources(f"d.canonical_url = ? AND {cond}", (url, *args))
        return rows[0] if rows else None

    async def find_by_canonical_url_anywhere(self, url: str) -> Source | None:
        rows = await self._sources("d.canonical_url = ?", (url,))
        return rows[0] if rows else None

    async def content_hash_of(
        self, doc_id: int, db: aiosqlite.Connection | None = None
    ) -> str | None:
        sql = "SELECT content_hash FROM documents WHERE id = ?"
        async with (db or self._reader).execute(sql, (doc_id,)) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def delete_document(self, db: aiosqlite.Connection, doc_id: int) -> None:
        async with db.execute("SELECT guild_id FROM documents WHERE id = ?", (doc_id,)) as cur:
            row = await cur.fetchone()
        if row is None:
            return
        await db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        await self._bump(db, row[0], f"remove {doc_id}")

    async def _bump(self, db: aiosqlite.Connection, guild_id: int | None, change: str) -> None:
        """A new corpus version, and a new version of the scope that changed (a server's, or
        0 for the global corpus): a server whose scopes did not change may keep searching
        the index it has while another server's change is indexed. The corpus state moves to
        a digest of the state before and this change."""
        await self._bump_many(db, guild_id, [change])

    async def _bump_many(
        self, db: aiosqlite.Connection, guild_id: int | None, changes: Sequence[str]
    ) -> None:
        """`_bump` for each change in turn (one scope), in four statements."""
        async with db.execute("SELECT value FROM meta WHERE key = 'corpus_state'") as cur:
            row = await cur.fetchone()
        state = row[0] if row else ""
        for change in changes:
            state = hashlib.sha256(f"{state}\n{change}".encode()).hexdigest()[:32]
        await self.set_meta(db, "corpus_state", state)
        await db.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'corpus_version'",
            (len(changes),),
        )
        await db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
            "DO UPDATE SET value = CAST(value AS INTEGER) + CAST(excluded.value AS INTEGER)",
            (f"scope_version:{guild_id or 0}", str(len(changes))),
        )

    async def passages_to_reanalyse(self) -> list[tuple[int, str | None, str]]:
        """(id, heading, text) of every passage, for re-analysis after an analyzer change."""
        async with self._reader.execute("SELECT id, heading, text FROM passages") as cur:
            cur.row_factory = None
            return await cur.fetchall()  # type: ignore[return-value]

    async def store_reanalysed(
        self,
        db: aiosqlite.Connection,
        rows: Iterable[tuple[str, str, int, str]],
        analyzer_version: int,
    ) -> None:
        """New (text, terms) for passages whose text is still the old one, the analyzer
        version that made them, and a new version of every scope (the index is stale)."""
        # The layouts were made from the old text and terms: analysed again when next shown.
        await db.executemany(
            "UPDATE passages SET text = ?, terms = ?, layout = NULL WHERE id = ? AND text = ?",
            rows,
        )
        await self.set_meta(db, "analyzer_version", str(analyzer_version))
        async with db.execute("SELECT DISTINCT ifnull(guild_id, 0) FROM documents") as cur:
            scopes = {row[0] for row in await cur.fetchall()} | {0}
        for scope in scopes:
            await self._bump(db, scope or None, f"analyzer {analyzer_version}")

    async def versions(self, guild_id: int | None) -> tuple[int, int, int]:
        """(corpus version, global scope version, this server's scope version), in one read."""
        keys = _version_keys(guild_id)
        return _versions_of(keys, await self._reader.execute_fetchall(_VERSIONS_SQL, keys))

    @staticmethod
    def versions_on(db: sqlite3.Connection, guild_id: int | None) -> tuple[int, int, int]:
        """`versions` through `db`, a connection of the calling worker thread."""
        keys = _version_keys(guild_id)
        return _versions_of(keys, db.execute(_VERSIONS_SQL, keys).fetchall())

    async def _sources(
        self, where: str, args: tuple[object, ...], db: aiosqlite.Connection | None = None
    ) -> list[Source]:
        sql = (
            "SELECT d.id, d.title, d.source, d.kind, d.guild_id, d.added_at, d.added_by, "
            "d.summary, (SELECT count(*) FROM passages p WHERE p.document_id = d.id) AS n "
            f"FROM documents d WHERE {where} ORDER BY d.id"
        )
        async with (db or self._reader).execute(sql, args) as cur:
            rows = await cur.fetchall()
        return [source_of(r) for r in rows]

    async def list_sources(self, guild_id: int | None) -> list[Source]:
        cond, args = _visible(guild_id)
        return await self._sources(cond, args)

    async def all_sources(self) -> list[Source]:
        """Every document of every server (the command line's view for maintenance)."""
        return await self._sources("1", ())

    async def get_source(
        self, doc_id: int, db: aiosqlite.Connection | None = None
    ) -> Source | None:
        rows = await self._sources("d.id = ?", (doc_id,), db)
        return rows[0] if rows else None

    async def count_documents(self, guild_id: int | None) -> int:
        cond, args = _visible(guild_id)
        sql = f"SELECT count(*) FROM documents d WHERE {cond}"
        async with self._reader.execute(sql, args) as c:
            row = await c.fetchone()
        return int(row[0]) if row else 0

    # -- query log ---------------------------------------------------------------------------

    async def log_query(self, **fields: Any) -> int:
        """Log one question (`log_row`'s fields); its row id."""
        # Written with the other asks of the moment (`retrieval.log_writer`); returns once the
        # row is committed, so /logs right after the ask shows it.
        return await self._writer.add(log_row(**fields))

    async def _write_log_rows(self, rows: Sequence[tuple[object, ...]]) -> list[int]:
        """Log rows in one statement (its own transaction in autocommit mode, so one trip and
        one commit); their ids, in order."""
        ids: list[int] = []
        if rows:
            marks = ",".join(["(?,?,?,?,?,?,?,?,?,?,?)"] * len(rows))
            sql = (
                "INSERT INTO queries (asked_at, surface, guild_id, channel_id, user_id, "
                f"command, query, hits, answered, confidence, latency_ms) VALUES {marks}"
            )
            values = [value for row in rows for value in row]

            async def insert() -> int:
                # The lock keeps it out of another coroutine's open transaction on this
                # connection; it is released between tries, so this process's other writes
                # are not held up while another process keeps the file locked.
                async with self._transaction_lock:
                    found = await self._db.execute_insert(sql, values)
                assert found is not None
                return int(found[0])

            last = await _patiently("logging questions", insert)
            # One statement holds the write lock from its first row to its last: the rows
            # take the ids after the largest, one after the other (SQLite picks ids at random
            # only once the largest possible id is taken).
            ids = list(range(last - len(rows) + 1, last + 1))
        return ids

    def note_message(
        self, query_id: int, guild_id: int | None, channel_id: int, message_id: int
    ) -> None:
        """Where the answer to logged question `query_id` (of `guild_id`'s server) was posted;
        written within `LINK_INTERVAL_S` with the others of the moment, or before a read that
        shows it (`recent_queries`, `reply_targets`)."""
        self._links.add((channel_id, message_id, query_id, guild_id))

    async def _link_messages(self, messages: Sequence[tuple[object, ...]]) -> None:
        """(channel, message, query id, guild) links, each statement its own transaction in
        autocommit mode (one trip and one commit, as the log rows')."""
        for start in range(0, len(messages), 1000):  # 4 variables a link: well within limits
            chunk = messages[start : start + 1000]
            marks = ",".join(["(?,?,?,?)"] * len(chunk))
            sql = (
                "UPDATE queries SET message_channel_id = v.column1, message_id = v.column2 "
                f"FROM (VALUES {marks}) AS v "
                "WHERE queries.id = v.column3 AND queries.guild_id IS v.column4"
            )
            values = [value for link in chunk for value in link]

            async def update(sql: str = sql, values: list[object] = values) -> None:
                async with self._transaction_lock:
                    await self._db.execute(sql, values)

            await _patiently("linking answers to their messages", update)

    async def reply_targets(
        self, guild_id: int | None, query_ids: Sequence[int]
    ) -> list[tuple[int, str, int | None, int, int]]:
        """(id, question, asker, channel, message) of those of `query_ids` in scope whose
        answer (or question) is a message the bot can reply under, newest first."""
        if not query_ids:
            return []
        await self._links.flush()
        cond, args = self._log_scope(guild_id)
        sql = (
            "SELECT id, query, user_id, message_channel_id, message_id FROM queries "
            "WHERE id IN (SELECT value FROM json_each(?)) "  # any number of ids: one parameter
            f"AND {cond} AND message_id IS NOT NULL ORDER BY id DESC"
        )
        async with self._reader.execute(sql, (json.dumps(list(query_ids)), *args)) as cur:
            cur.row_factory = None
            return [(int(i), str(q), u, int(c), int(m)) for i, q, u, c, m in await cur.fetchall()]

    async def _store_layouts(self, passages: Sequence[tuple[object, ...]]) -> None:
        """Store the layouts of passages (id, text, terms) that had none, worked out off the
        loop; only where the passage still has that text and those terms."""
        from retrieval.term_offsets import stored_form

        unique = {p[0]: p for p in passages}
        values = await asyncio.to_thread(
            lambda: [
                (stored_form(str(text), str(terms)), pid, text, terms)
                for pid, text, terms in unique.values()
            ]
        )
        async with self.transaction() as db:
            await db.executemany(
                "UPDATE passages SET layout = ? WHERE id = ? AND layout IS NULL "
                "AND text = ? AND terms = ?",
                values,
            )

    def _log_scope(
        self, guild_id: int | None, column: str = "guild_id"
    ) -> tuple[str, tuple[int, ...]]:
        # The CLI (no guild) reviews the whole log; a server reviews only its own rows.
        return ("1", ()) if guild_id is None else (f"{column} = ?", (guild_id,))

    async def recent_queries(
        self, guild_id: int | None, limit: int, *, unanswered: bool = False
    ) -> list[QueryRecord]:
        await self._links.flush()  # the links to answers' messages noted so far
        cond, args = self._log_scope(guild_id, "q.guild_id")
        if unanswered:
            cond += " AND q.answered = 0"
        # With what a moderator reviews it by: the votes on it, their reasons, and the title
        # of the top passage shown.
        sql = (
            "SELECT q.*, "
            "(SELECT count(*) FROM feedback f WHERE f.query_id = q.id AND f.helpful = 1) "
            "AS helpful, "
            "(SELECT count(*) FROM feedback f WHERE f.query_id = q.id AND f.helpful = 0) "
            "AS not_helpful, "
            "(SELECT json_group_array(f.reason) FROM feedback f WHERE f.query_id = q.id "
            "AND f.reason IS NOT NULL) AS reasons, "
            "(SELECT d.title FROM passages p JOIN documents d ON d.id = p.document_id "
            "WHERE p.id = json_extract(q.hits, '$[0][0]') "
            # an id reused by another server's source after this one's was removed: not shown
            "AND (d.guild_id IS NULL OR d.guild_id IS q.guild_id)) AS top_title "
            f"FROM queries q WHERE {cond} ORDER BY q.id DESC LIMIT ?"
        )
        async with self._reader.execute(sql, (*args, limit)) as cur:
            rows = await cur.fetchall()
        if len(rows) > 1000:  # an export: build the records off the event loop
            return await asyncio.to_thread(lambda: [_record(r) for r in rows])
        return [_record(r) for r in rows]

    async def get_query(self, query_id: int) -> QueryRecord | None:
        async with self._reader.execute("SELECT * FROM queries WHERE id = ?", (query_id,)) as cur:
            row = await cur.fetchone()
        return _record(row) if row else None

    async def forget_user(self, user_id: int, guild_id: int | None) -> tuple[int, int]:
        """Delete a member's questions (the votes on them go too: ON DELETE CASCADE) and their
        votes on other people's answers, in one server or (None) in every one, in one
        transaction; (questions, votes) deleted."""
        where, args = ("", ()) if guild_id is None else (" AND guild_id = ?", (guild_id,))
        async with self.transaction() as db:
            cur = await db.execute(
                "DELETE FROM feedback WHERE user_id = ? AND query_id IN "
                f"(SELECT id FROM queries WHERE 1{where})",
                (user_id, *args),
            )
            votes = cur.rowcount
            cur = await db.execute(
                f"DELETE FROM queries WHERE user_id = ?{where}", (user_id, *args)
            )
            return cur.rowcount, votes

    async def purge_queries(self, before: str, guild_id: int | None) -> int:
        """Delete the questions asked before `before` (ISO 8601, UTC, as `now()` writes), with
        their votes, in one server or (None) in every one; how many."""
        where, args = ("", ()) if guild_id is None else (" AND guild_id = ?", (guild_id,))
        async with self.transaction() as db:
            cur = await db.execute(
                f"DELETE FROM queries WHERE asked_at < ?{where}", (before, *args)
            )
            return cur.rowcount

    async def asks_since(
        self, guild_id: int | None, since: str
    ) -> tuple[list[tuple[int, str, int | None, int, float]], list[tuple[int, int]]]:
        """The questions asked since `since` (ISO 8601, UTC) in scope, as (id, asked_at,
        user_id, answered, latency_ms), and the votes on them as (query_id, helpful): one
        read, so the two agree."""
        cond, args = self._log_scope(guild_id)
        async with self._reader.execute(
            "SELECT id, asked_at, user_id, answered, latency_ms FROM queries "
            f"WHERE asked_at >= ? AND {cond}",
            (since, *args),
        ) as cur:
            cur.row_factory = None
            asks = [tuple(r) for r in await cur.fetchall()]
        async with self._reader.execute(
            "SELECT f.query_id, f.helpful FROM feedback f JOIN queries q ON q.id = f.query_id "
            f"WHERE q.asked_at >= ? AND {cond.replace('guild_id', 'q.guild_id')}",
            (since, *args),
        ) as cur:
            cur.row_factory = None
            votes = [(int(q), int(h)) for q, h in await cur.fetchall()]
        return asks, votes  # type: ignore[return-value]

    async def gap_rows(self, guild_id: int | None, limit: int) -> list[tuple[int, str, bool, int]]:
        """(id, question, answered, not-helpful votes) of the latest `limit` questions in scope
        that were unanswered or voted not helpful (`retrieval.gaps`)."""
        cond, args = self._log_scope(guild_id, "q.guild_id")
        sql = (
            "SELECT q.id, q.query, q.answered, "
            "(SELECT count(*) FROM feedback f WHERE f.query_id = q.id AND f.helpful = 0) AS down "
            f"FROM queries q WHERE {cond} AND (q.answered = 0 OR EXISTS (SELECT 1 FROM feedback f "
            "WHERE f.query_id = q.id AND f.helpful = 0)) ORDER BY q.id DESC LIMIT ?"
        )
        async with self._reader.execute(sql, (*args, limit)) as cur:
            cur.row_factory = None
            return [(int(i), str(q), bool(a), int(d)) for i, q, a, d in await cur.fetchall()]

    async def all_server_settings(self) -> list[tuple[int, str]]:
        """(guild id, settings JSON) of every server that set something."""
        async with self._reader.execute("SELECT guild_id, settings FROM server_settings") as cur:
            return [(int(g), str(t)) for g, t in await cur.fetchall()]

    async def set_feedback_reason(self, query_id: int, user_id: int, reason: str | None) -> bool:
        """Why this voter found this answer not helpful (None: no reason); False when they
        have no not-helpful vote on it (a vote changed to helpful keeps no reason)."""
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE feedback SET reason = ? WHERE query_id = ? AND user_id = ? AND helpful = 0",
                (reason, query_id, user_id),
            )
            return cur.rowcount == 1

    async def upsert_feedback(self, query_id: int, user_id: int, helpful: bool) -> bool:
        async with self.transaction() as db:
            async with db.execute(
                "SELECT 1 FROM feedback WHERE query_id = ? AND user_id = ?", (query_id, user_id)
            ) as cur:
                existed = await cur.fetchone() is not None
            await db.execute(
                "INSERT INTO feedback (query_id, user_id, helpful, voted_at) VALUES (?,?,?,?) "
                "ON CONFLICT (query_id, user_id) DO UPDATE SET helpful = excluded.helpful, "
                "voted_at = excluded.voted_at, "
                "reason = CASE WHEN excluded.helpful = 1 THEN NULL ELSE reason END",
                (query_id, user_id, int(helpful), now()),
            )
        return existed

    async def feedback_rows(self, guild_id: int | None, limit: int) -> list[FeedbackRow]:
        cond, args = self._log_scope(guild_id, "q.guild_id")
        sql = (
            "SELECT q.id, q.query, q.asked_at, q.answered, sum(f.helpful) AS up, "
            "sum(1 - f.helpful) AS down, max(f.voted_at) AS last, "
            "json_group_array(f.reason) FILTER (WHERE f.reason IS NOT NULL) AS reasons "
            "FROM feedback f "
            f"JOIN queries q ON q.id = f.query_id WHERE {cond} "
            "GROUP BY q.id ORDER BY last DESC LIMIT ?"
        )
        async with self._reader.execute(sql, (*args, limit)) as cur:
            rows = await cur.fetchall()
        return [feedback_of(r) for r in rows]

    async def query_texts(
        self, guild_id: int | None, limit: int, *, unanswered: bool = False
    ) -> list[tuple[str, bool, str]]:
        """(question, answered, asked_at) of the latest `limit` logged questions in scope, for
        grouping (`retrieval.question_groups`)."""
        cond, args = self._log_scope(guild_id)
        if unanswered:
            cond += " AND answered = 0"
        sql = f"SELECT query, answered, asked_at FROM queries WHERE {cond} ORDER BY id DESC LIMIT ?"
        async with self._reader.execute(sql, (*args, limit)) as cur:
            cur.row_factory = None
            return [(str(q), bool(a), str(t)) for q, a, t in await cur.fetchall()]


def log_row(
    *,
    surface: str,
    guild_id: int | None,
    channel_id: int | None,
    user_id: int | None,
    command: str | None,
    query: str,
    hits: list[tuple[int, float]],
    answered: bool,
    confidence: float,
    latency_ms: float,
) -> tuple[object, ...]:
    """A question's query-log row, in the order of both stores' INSERT columns."""
    return (
        now(),
        surface,
        guild_id,
        channel_id,
        user_id,
        command,
        query,
        json.dumps([[pid, round(score, 4)] for pid, score in hits]),
        int(answered),
        round(confidence, 4),
        round(latency_ms, 2),
    )


def source_of(r: Any) -> Source:
    """A source as listed, from a row of either store's `_sources` read."""
    return Source(
        doc_id=r["id"],
        title=r["title"],
        source=r["source"],
        kind=r["kind"],
        guild_id=r["guild_id"],
        passages=r["n"],
        added_at=r["added_at"],
        added_by=r["added_by"],
        summary=r["summary"],
    )


def feedback_of(r: Any) -> FeedbackRow:
    """An answer's votes, from a row of either store's `feedback_rows` read."""
    return FeedbackRow(
        r["id"],
        r["query"],
        r["asked_at"],
        bool(r["answered"]),
        int(r["up"]),
        int(r["down"]),
        r["last"],
        tuple(json.loads(r["reasons"] or "[]")),
    )


def _record(r: sqlite3.Row) -> QueryRecord:
    return QueryRecord(
        id=r["id"],
        asked_at=r["asked_at"],
        surface=r["surface"],
        guild_id=r["guild_id"],
        channel_id=r["channel_id"],
        user_id=r["user_id"],
        command=r["command"],
        query=r["query"],
        answered=bool(r["answered"]),
        confidence=r["confidence"],
        latency_ms=r["latency_ms"],
        hits=json.loads(r["hits"]),
        message_url=discord_message_url(r["guild_id"], r["message_channel_id"], r["message_id"]),
        **_review(r),
    )


def _review(r: sqlite3.Row) -> dict[str, Any]:
    """The votes, reasons and top title of a row read with them (`recent_queries`)."""
    keys = r.keys()
    if "helpful" not in keys:
        return {}
    return {
        "helpful": int(r["helpful"]),
        "not_helpful": int(r["not_helpful"]),
        "reasons": tuple(json.loads(r["reasons"] or "[]")),
        "top_title": r["top_title"],
    }


async def _enable_wal(db: aiosqlite.Connection, attempts: int = 50) -> None:
    """Switch to WAL. SQLite answers "database is locked" at once, without waiting on the busy
    timeout, when two processes create the same new database together; so retry briefly."""
    for attempt in range(attempts):
        try:
            async with db.execute("PRAGMA journal_mode = WAL") as cur:
                await cur.fetchone()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            await asyncio.sleep(0.02 * (attempt + 1))


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (sqlite3.complete_statement knows quoting)."""
    out: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                out.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        out.append(buffer.strip())
    return out
