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
Questions are answered one at a time, in order. Stdout carries frames only: anything printed
goes to stderr.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pickle
import sqlite3
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from retrieval.answering import find
from retrieval.engine_processes import code_stamp
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


def frame(value: object) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


class _Reads:
    """`retrieval.answering.Reads` through this process's connection; the passages fetched
    without a layout are sent back for the bot to keep (it owns the writes)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.unlaid: list[tuple[object, ...]] = []

    def versions(self, guild_id: int | None) -> tuple[int, int, int]:
        return Store.versions_on(self.db, guild_id)

    def passages(self, ids: list[int], guild_id: int | None) -> Mapping[int, Mapping]:
        rows, self.unlaid = Store.passages_by_id_on(self.db, ids, guild_id)
        return rows


class Engine:
    """The saved index this process answers from, and its connection."""

    def __init__(self, database: str, folder: Path) -> None:
        self.db = read_connection(database)
        self.folder = folder
        self.index: Bm25Index | None = None
        self._looked: tuple[int, int, int] | None = None  # the manifest last opened

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
        saved_as, version, scope_versions, text, k, guild_id, offset, check = request
        index = self.index_for(saved_as, version)
        if index is None:
            return "unsaved", None
        # What the bot's copy holds of each scope (set by its live index, not saved): whether
        # it answers a server whose scopes did not change since is decided as the bot would.
        index.scope_versions = scope_versions
        reads = _Reads(self.db)
        found, behind = find(text, k, guild_id, offset, index, reads, check)
        if found is not None:  # the passages it judged stay here: the bot reads the verdict
            found = dataclasses.replace(found, verdict=dataclasses.replace(found.verdict, kept=[]))
        return "found", (found, behind, reads.unlaid)


def serve(engine: Engine, requests: BinaryIO, answers: BinaryIO) -> None:
    """Answer requests until the bot closes the pipe."""
    while (body := read_frame(requests)) is not None:
        flags = body[0]
        number = int.from_bytes(body[FLAGS_SIZE : FLAGS_SIZE + NUMBER_SIZE], "little")
        if flags & LOAD_COMPILED:
            use_compiled(LOAD_WAIT_S, build=False)
        try:
            status, payload = engine.answer(pickle.loads(body[FLAGS_SIZE + NUMBER_SIZE :]))
        except Exception as exc:  # the bot answers it in a thread, and reports what it finds
            log.error("answering in an engine process failed: %s", type(exc).__name__)
            status, payload = "failed", None
        write_frame(answers, frame((number, status, payload, searches_compiled())))


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
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):
        serve(engine, sys.stdin.buffer, answers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
