"""An engine process: answers a bot's questions from the saved index, off the bot's process.

Run as `python -m retrieval.engine_worker DATABASE SEGMENTS` by `retrieval.engine_processes`,
never by hand. In one process, the engine's Python (analysis, reranking, highlights, the direct
answer) and discord.py's share one interpreter lock: measured at 50 users, an ask cost the bot
6-7 ms of CPU in threads against 2.4-3 ms for the same work alone, and the bot could not use the
machine's second core. Here the work runs in a process of its own, on the index the bot saved
next to the database (memory-mapped: the same pages, not a copy) and through a read-only
connection of its own.

The protocol is private to the two processes (pipes, never a socket), in the parser processes'
frames (`retrieval.parser_host`: a 4-byte big-endian length, then the body). A request's body is
a byte of flags (LOAD_COMPILED: load the compiled search before answering, from numba's cache:
see `retrieval.precompile`), its 8-byte number and the pickle of (saved identity, version,
scope versions, question, k, server, offset, check); an answer's is the pickle of (number,
status, payload, whether this process searches with the compiled search):
- "found": (what `retrieval.answering.find` returns, the layouts to keep);
- "unsaved": this process has no copy of that index (not saved, or saved over since): the bot
  answers in a thread instead;
- "failed": the work raised; the bot answers in a thread, where the error is its own.
Questions waiting in the pipe at once are answered together (searched one after another, see
`Engine.answer_together`), each answer sent as soon as it is ready; the bot matches answers to
questions by number. Stdout carries frames only: anything printed
goes to stderr.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pickle
import select
import sqlite3
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from retrieval.answering import Found, find, found_each, lags
from retrieval.engine_processes import code_stamp
from retrieval.heap import settle_heap
from retrieval.index import MANIFEST, Bm25Index, searches_compiled, use_compiled
from retrieval.parser_host import read_frame, write_frame
from retrieval.store import Store, read_connection

log = logging.getLogger(__name__)

FLAGS_SIZE = 1  # a request's flags, first
LOAD_COMPILED = 1  # flag: load the compiled search first (it is in numba's cache by then)
NUMBER_SIZE = 8  # a request's number (little-endian), before the request's pickle
# Seconds a process waits for the compiled search to load from numba's cache (about a second;
# if it is not done by then, it finishes in the background while numpy answers): well within
# the bot's deadline for an answer (engine_processes.ANSWER_DEADLINE_S).
LOAD_WAIT_S = 10.0
# Bytes of passages' rows (text, terms, layout, title, source) an engine process keeps (see
# Engine.rows_for): about 15,000 passages of about a hundred words (2.1 KB each as kept).
KEPT_BYTES = 32 * 1024 * 1024
ENTRY_BYTES = 120  # a kept row's key tuple, its (row, size) pair and their dict slot
# Most requests waiting in the pipe answered together (see serve): a bound of its own, above
# what the bot sends a process at once (engine_processes.DEPTH).
TOGETHER = 16


def frame(value: object) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


class KeptRows:
    """Passages' rows by (server, passage), at most `budget` bytes of them (`_row_size`).
    Over the budget, the oldest go (in the order they were read) until half of it is free: a
    passage asked about again and again is read again at most once per half-turn of the
    cache, and no work is done per hit to keep an order (a hit is one dict lookup)."""

    def __init__(self, budget: int = KEPT_BYTES) -> None:
        self.budget = budget
        self.size = 0
        self._rows: dict[tuple[int | None, int], tuple[Mapping[str, Any], int]] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def rows(self) -> Iterator[Mapping[str, Any]]:
        """The rows kept, oldest first."""
        return (row for row, _ in self._rows.values())

    def get(self, key: tuple[int | None, int]) -> Mapping[str, Any] | None:
        kept = self._rows.get(key)
        return None if kept is None else kept[0]

    def put(self, key: tuple[int | None, int], row: Mapping[str, Any]) -> None:
        if key in self._rows:
            return
        size = _row_size(row)
        self._rows[key] = (row, size)
        self.size += size
        if self.size > self.budget:
            rows = self._rows
            for old in list(rows):  # the oldest first, until half the budget is free
                self.size -= rows.pop(old)[1]
                if self.size <= self.budget // 2:
                    break


def _row_size(row: Mapping[str, Any]) -> int:
    """A row's bytes as kept (its dict and values, as `sys.getsizeof` counts them: text
    outside ASCII takes 2 or 4 bytes a character), and the cache's own entry for it."""
    return ENTRY_BYTES + sys.getsizeof(row) + sum(map(sys.getsizeof, row.values()))


class _Reads:
    """`retrieval.answering.Reads` through this process's connection; the passages fetched
    without a layout are sent back for the bot to keep (it owns the writes). Rows come from
    `rows` (see `Engine.rows_for`) where they are there."""

    def __init__(self, db: sqlite3.Connection, rows: KeptRows) -> None:
        self.db = db
        self.rows = rows
        self.unlaid: list[tuple[object, ...]] = []

    def versions(self, guild_id: int | None) -> tuple[int, int, int]:
        return Store.versions_on(self.db, guild_id)

    def passages(self, ids: list[int], guild_id: int | None) -> Mapping[int, Mapping]:
        kept = self.rows
        found = {}
        missing = []
        for i in ids:
            row = kept.get((guild_id, i))
            if row is None:
                missing.append(i)
            else:
                found[i] = row
        self.unlaid = []
        if missing:
            rows, self.unlaid = Store.passages_by_id_on(self.db, missing, guild_id)
            keys: list[str] = []
            for i, row in rows.items():
                keys = keys or row.keys()
                # A dict of its values (text, numbers, bytes) is not tracked by the cyclic
                # garbage collector, which would otherwise walk every kept row (a
                # sqlite3.Row) in each full collection.
                found[i] = values = dict(zip(keys, row, strict=True))
                if values["layout"] is not None:  # one without is read again once it has one
                    kept.put((guild_id, i), values)
        return found


class Engine:
    """The saved index this process answers from, and its connection."""

    def __init__(self, database: str, folder: Path) -> None:
        self.db = read_connection(database)
        self.folder = folder
        self.index: Bm25Index | None = None
        self._looked: tuple[int, int, int] | None = None  # the manifest last opened
        self._rows = KeptRows()
        self._rows_of: tuple[str | None, int] | None = None  # the saved index they were read for

    def rows_for(self, index: Bm25Index) -> KeptRows:
        """The passages' rows read for questions on this version of the corpus, by (server,
        passage): a passage's row (text, terms, layout, title, source) changes only with a
        new version, so a popular passage is read once per version, not once per question
        (reading the rows was 15% of an engine process's work at 50 users). A server's row
        is kept apart from another's: what each sees is read as that server."""
        if self._rows_of != (index.saved_as, index.version):
            self._rows = KeptRows()  # a new one: a question on the old version may hold that
            self._rows_of = (index.saved_as, index.version)
        return self._rows

    def index_for(self, saved_as: str, version: int) -> Bm25Index | None:
        """The saved index of this identity and version, opened again when the bot has
        moved on to a newer copy; None when the folder holds another."""
        index = self.index
        if index is not None and index.saved_as == saved_as and index.version == version:
            return index
        try:
            stat = (self.folder / MANIFEST).stat()
        except OSError:
            return None
        looked = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if looked == self._looked:  # opened already: it is not that copy
            return None
        opened = Bm25Index.open_saved(self.folder)
        if opened is None:  # being replaced, say: tried again on the next question
            return None
        self._looked = looked
        self.index = opened[0]
        if self.index.saved_as == saved_as and self.index.version == version:
            return self.index
        return None

    def answer(self, request: tuple[Any, ...]) -> tuple[str, object]:
        saved_as, version, scope_versions, text, k, guild_id, offset, check, context = request
        index = self.index_for(saved_as, version)
        if index is None:
            return "unsaved", None
        # What the bot's copy holds of each scope (set by its live index, not saved): whether
        # it answers a server whose scopes did not change since is decided as the bot would.
        index.scope_versions = scope_versions
        reads = _Reads(self.db, self.rows_for(index))
        found, behind = find(text, k, guild_id, offset, index, reads, check, context)
        return "found", (_sent(found), behind, reads.unlaid)

    def answer_together(
        self, requests: list[tuple[int, tuple[Any, ...]]]
    ) -> Iterator[tuple[int, str, object]]:
        """(number, status, payload) for each of several requests waiting at once, the first
        pages asked of the same saved index searched one after another (see
        `retrieval.answering.found_each`); the others (a later page, another copy of the
        index) one by one, first. Measured with two processes and 50 askers at once (no
        Discord), alternating with answering one at a time: 5 of 6 runs answered more per
        second (756-1240 against 657-996), engine CPU median 2.0 against 2.1 ms a question."""
        together: list[tuple[int, tuple[str, int, int | None], bool]] = []
        lagging: dict[int | None, bool | None] = {}
        index: Bm25Index | None = None
        reads: _Reads | None = None
        for number, request in requests:
            saved_as, version, scope_versions, text, k, guild_id, offset, check, context = request
            # A later page, or a follow-up (its earlier question searched too), one by one.
            current = self.index_for(saved_as, version) if offset == 0 and not context else None
            if current is None or (index is not None and current is not index):
                yield number, *self.answer(request)
                continue
            if reads is None:
                reads = _Reads(self.db, self.rows_for(current))
            index = current
            index.scope_versions = scope_versions  # as in `answer`
            behind = False
            if check:  # read once per server of the group: they came in at once
                if guild_id not in lagging:
                    lagging[guild_id] = lags(index, reads, guild_id)
                behind = lagging[guild_id]
            if behind is None:
                yield number, "found", (None, False, [])
                continue
            together.append((number, (text, k, guild_id), behind))
        if index is None or reads is None or not together:
            return
        found_all = found_each([question for _, question, _ in together], index, reads)
        for (number, _, behind), (found, _) in zip(together, found_all, strict=True):
            yield number, "found", (_sent(found), behind, reads.unlaid)


def _sent(found: Found | None) -> Found | None:
    """The found as sent to the bot: the passages it judged stay here (the bot reads the
    verdict)."""
    if found is None:
        return None
    return dataclasses.replace(found, verdict=dataclasses.replace(found.verdict, kept=[]))


def serve(engine: Engine, requests: BinaryIO, answers: BinaryIO) -> None:
    """Answer requests until the bot closes the pipe: those waiting in it at once (at most
    TOGETHER) together, each answer sent as soon as it is ready. `requests` is unbuffered,
    so that what waits in the pipe is what the system says."""
    set_aside_compiled = searches_compiled()
    while (body := read_frame(requests)) is not None:
        bodies = [body]
        while len(bodies) < TOGETHER and _waiting(requests):
            more = read_frame(requests)
            if more is None:
                break
            bodies.append(more)
        numbered = []
        for body in bodies:
            if body[0] & LOAD_COMPILED:
                use_compiled(LOAD_WAIT_S, build=False)
            number = int.from_bytes(body[FLAGS_SIZE : FLAGS_SIZE + NUMBER_SIZE], "little")
            try:
                numbered.append((number, pickle.loads(body[FLAGS_SIZE + NUMBER_SIZE :])))
            except Exception as exc:  # that one goes to a thread; the others are answered
                log.error("an engine request could not be read: %s", type(exc).__name__)
                write_frame(answers, frame((number, "failed", None, searches_compiled())))
        left = {number for number, _ in numbered}
        try:
            for number, status, payload in engine.answer_together(numbered):
                write_frame(answers, frame((number, status, payload, searches_compiled())))
                left.discard(number)
        except Exception as exc:  # the bot answers these in threads, and reports what it finds
            log.error("answering in an engine process failed: %s", type(exc).__name__)
            for number in sorted(left):
                write_frame(answers, frame((number, "failed", None, searches_compiled())))
        if not set_aside_compiled and searches_compiled():  # numba's objects, loaded meanwhile
            settle_heap()  # between groups: nothing of a question is held
            set_aside_compiled = True


def _waiting(stream: BinaryIO) -> bool:
    """Whether a request is waiting in the pipe (without reading it)."""
    return bool(select.select([stream], [], [], 0)[0])


def main(argv: list[str] | None = None) -> int:
    database, folder, *options = argv or sys.argv[1:]
    if "--stamp" in options and options[options.index("--stamp") + 1] != code_stamp():
        sys.stderr.write(
            "citebot engine process: citebot's files changed since the bot started; "
            "restart the bot (it answers in threads meanwhile)\n"
        )
        return 3
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print never breaks a frame
    sys.stdout = sys.stderr
    level = logging.getLevelName((os.environ.get("CITEBOT_LOG_LEVEL") or "WARNING").upper())
    logging.basicConfig(
        level=level if isinstance(level, int) else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s (engine process): %(message)s",
    )
    engine = Engine(database, Path(folder))
    if "--compiled" in options:
        use_compiled(build=False)  # loads in the background; this process builds nothing
    opened = Bm25Index.open_saved(engine.folder)  # before the first question, not during it
    if opened is not None:
        engine.index = opened[0]
    requests = os.fdopen(os.dup(sys.stdin.fileno()), "rb", buffering=0)
    settle_heap()  # modules and the index (see retrieval.heap)
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):
        serve(engine, requests, answers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
