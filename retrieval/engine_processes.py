"""Engine processes: a bot's questions answered beside its event loop, not under its lock.

The bot starts a few `retrieval.engine_worker` processes (see there for why and for the
protocol) and sends them its questions, one server's at a time in turn, each to the process with
the fewest in hand. What they cannot answer (an index not yet saved, a process that died, hung
past ANSWER_DEADLINE_S or failed) comes back as None, and the caller answers in a thread as
before: the same answer either way. A process that ends is started again on a later question, no
sooner than RESTART_AFTER_S after its last start, and not after MAX_FAILED_STARTS ends in a row
without an answer (it cannot run here, or its code changed on disk: see `code_stamp`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
import os
import pickle
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.index import Bm25Index

log = logging.getLogger(__name__)

RESTART_AFTER_S = 10.0
MAX_FAILED_STARTS = 3
# A question a process has not answered by then: the process is taken for hung and killed (its
# questions go to threads). Generous: the costliest question takes well under a second.
ANSWER_DEADLINE_S = 30.0
STOP_WAIT_S = 5.0
# Never handed to an engine process: it reads the database and the index, nothing else.
_SECRETS = ("DISCORD_TOKEN",)
_FRAME_SIZE = 4  # a frame's length, big-endian, before its body (as `retrieval.parser_host`)
_NUMBER_SIZE = 8  # a request's number, after its flags and before its pickle
# A request's flags (see retrieval.engine_worker): none, or load the compiled search first.
_NO_FLAGS, _LOAD_COMPILED = b"\x00", b"\x01"
# Questions in a process's hands at once: those it answers and those waiting in its pipe, which
# it takes together when it is done (engine_worker.serve). Deeper, a busy process answers more
# at a time, with fewer wake-ups and its data still in the CPU's caches: at 50 users on two
# cores, 2 in hand answered 264-312 questions a second, 12 in hand 342-420 (bench/README.md,
# "Issue 10, eighth session"). A server flooding the bot makes another's question wait for
# what is in the processes' hands (at most DEPTH each) and one more of its own; a process that
# hangs holds DEPTH askers until ANSWER_DEADLINE_S (then they are answered in threads).
DEPTH = 12
# Seconds a start waits for `retrieval.precompile`: found in numba's cache, the search is ready
# within them and the processes load it as they start; compiled (the first time after an
# install) it is not, and they start on numpy and load it later, one at a time.
PRECOMPILE_WAIT_S = 5.0

Waiter = asyncio.Future[tuple[str, Any]]


def code_stamp() -> str:
    """A digest of the engine's source files as they are on disk (name, size, modification
    time): the bot computes it once at start, each engine process at its own. They differ when
    citebot was upgraded in place while the bot ran, and then the process refuses to serve (its
    answers would be unpickled into the bot's older classes)."""
    folder = Path(__file__).parent
    digest = hashlib.blake2b(digest_size=12)
    for path in sorted(folder.glob("*.py")):
        with contextlib.suppress(OSError):
            info = path.stat()
            digest.update(f"{path.name} {info.st_size} {info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@dataclass(eq=False)
class _Process:
    """One engine process, its pipes and the questions in its hands."""

    process: asyncio.subprocess.Process
    waiting: dict[int, Waiter] = field(default_factory=dict)
    reader: asyncio.Task[None] | None = None
    alive: bool = True
    answered: int = 0
    compiled: bool = False  # it said it searches with the compiled search
    told: bool = False  # it was told to load it (once: if that takes long, it goes on alone)
    loading: int | None = None  # the question it was told to load it with, until answered


class EngineProcesses:
    """`count` engine processes for the database at `database`, whose index is saved in
    `folder`."""

    def __init__(
        self, database: str | Path, folder: Path, count: int, *, compiled: bool = False
    ) -> None:
        self.database = str(database)
        self.folder = folder
        self.count = count
        # Use the compiled search: compiled (or found in numba's cache) by a process of its
        # own at the lowest priority (`retrieval.precompile`), then loaded by the engine
        # processes one at a time, each told so with its next question; numpy until then.
        self.compiled = compiled
        self._precompile: asyncio.subprocess.Process | None = None
        self._precompiled: asyncio.Task[bool] | None = None
        self.restart_after_s = RESTART_AFTER_S
        self.deadline_s = ANSWER_DEADLINE_S
        # Searches the processes answered (not those that found the index stale for the
        # server, nor those that went to threads).
        self.answered = 0
        self._stamp = code_stamp()
        self._slots: list[_Process | None] = [None] * count
        self._started: list[float] = [float("-inf")] * count
        self._failed = [0] * count  # ends in a row without an answer, per slot
        self._starting: dict[int, asyncio.Task[None]] = {}  # slot -> its start under way
        # Questions not yet sent, per server, and the servers with some, in turn.
        self._queues: dict[int | None, collections.deque[tuple[bytes, Waiter]]] = {}
        self._turns: collections.deque[int | None] = collections.deque()
        self._numbers = 0
        self._closed = False

    @property
    def pids(self) -> list[int]:
        """The live engine processes' ids."""
        return [e.process.pid for e in self._slots if e is not None and e.alive]

    @property
    def compiled_pids(self) -> list[int]:
        """The live engine processes that said they search with the compiled search."""
        return [e.process.pid for e in self._slots if e is not None and e.alive and e.compiled]

    async def start(self) -> None:
        if self.compiled:
            self._precompiled = asyncio.create_task(self._compile())
            await asyncio.wait((self._precompiled,), timeout=PRECOMPILE_WAIT_S)
        for slot in range(self.count):
            await self._start(slot)

    async def _compile(self) -> bool:
        """Run `retrieval.precompile`; whether the compiled search is in numba's cache now."""
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "retrieval.precompile",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                env=_environment(),
                start_new_session=True,
            )
        except OSError as exc:
            log.warning("could not compile the search (searching with numpy): %s", exc)
            return False
        self._precompile = process
        status = await process.wait()
        if status != 0:
            log.warning("compiling the search failed (exit status %s); numpy searches", status)
            return False
        log.info("the compiled search is ready; the engine processes load it one at a time")
        self._dispatch()
        return True

    async def compiled_ready(self) -> bool:
        """Wait for the compiled search to be compiled (or found in the cache); whether it
        was (never, unless these processes use it)."""
        return self._precompiled is not None and await self._precompiled

    def _ready_to_load(self) -> bool:
        """Whether the compiled search is in numba's cache (a failed compile: never)."""
        task = self._precompiled
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return False
        return task.result()

    async def _start(self, slot: int) -> None:
        self._started[slot] = time.monotonic()
        command = (sys.executable, "-m", "retrieval.engine_worker", self.database, str(self.folder))
        # A process started once the search is compiled loads it at its start.
        loads = self._ready_to_load()
        options = ("--stamp", self._stamp, *(("--compiled",) if loads else ()))
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                *options,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=_environment(),
                start_new_session=True,  # a terminal's Ctrl-C stops the bot, which stops it
            )
        except OSError as exc:
            self._failed[slot] += 1
            log.warning("could not start an engine process (answering in threads): %s", exc)
            return
        entry = _Process(process, compiled=loads)
        entry.reader = asyncio.create_task(self._read(entry, slot))
        self._slots[slot] = entry
        log.info("engine process %d started (pid %d)", slot, process.pid)

    async def _read(self, entry: _Process, slot: int) -> None:
        """Hand each answer to the question waiting for it and send the next; when the
        process ends (or says something unreadable: then it is stopped), every question in
        its hands gets "gone" (the caller answers it in a thread), and so does every queued
        one if no process is left."""
        out = entry.process.stdout
        assert out is not None
        try:
            while True:
                head = await out.readexactly(_FRAME_SIZE)
                body = await out.readexactly(int.from_bytes(head, "big"))
                number, status, payload, compiled = pickle.loads(body)
                waiter = entry.waiting.pop(number, None)
                entry.answered += 1
                entry.compiled |= compiled
                if entry.loading == number:
                    entry.loading = None
                if waiter is not None and not waiter.done():
                    waiter.set_result((status, payload))
                self._dispatch()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not isinstance(exc, asyncio.IncompleteReadError | ConnectionError):
                log.warning("an engine process sent what cannot be read (%s)", type(exc).__name__)
        finally:
            entry.alive = False
            if entry.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    entry.process.kill()
            _give_up(entry.waiting.values())
            entry.waiting.clear()
            if not self.pids:
                for queue in self._queues.values():
                    _give_up(waiter for _, waiter in queue)
                self._queues.clear()
                self._turns.clear()
            self._failed[slot] = 0 if entry.answered else self._failed[slot] + 1
            if not self._closed:
                await entry.process.wait()
                log.warning("an engine process ended (exit status %s)", entry.process.returncode)

    def _restart_dead(self) -> None:
        """Start again (for later questions) each ended process whose last start is long
        enough ago and that has no start under way, unless it keeps failing to start."""
        for slot, entry in enumerate(self._slots):
            if (
                (entry is None or not entry.alive)
                and slot not in self._starting
                and not self._closed
                and self._failed[slot] < MAX_FAILED_STARTS
                and time.monotonic() - self._started[slot] > self.restart_after_s
            ):
                self._started[slot] = time.monotonic()
                task = asyncio.get_running_loop().create_task(self._start(slot))
                self._starting[slot] = task
                task.add_done_callback(lambda _, slot=slot: self._starting.pop(slot, None))

    def _dispatch(self) -> None:
        """Send queued questions to processes with room (fewer than DEPTH in hand), one
        server's at a time in turn: a server that floods the bot with questions, or asks
        costly ones, makes another server's question wait for what the processes already
        hold and at most one more of its own. What goes to one process goes in one write."""
        sending: dict[_Process, list[bytes]] = {}
        while self._turns and not self._closed:
            free = [
                e
                for e in self._slots
                if e is not None and e.alive and e.process.stdin and len(e.waiting) < _room(e)
            ]
            if not free:
                break
            entry = min(free, key=lambda e: len(e.waiting))
            server = self._turns.popleft()
            queue = self._queues[server]
            body, waiter = queue.popleft()
            if queue:
                self._turns.append(server)
            else:
                del self._queues[server]
            if waiter.done():  # its asker went away
                continue
            number = int.from_bytes(body[:_NUMBER_SIZE], "little")
            entry.waiting[number] = waiter
            flags = _NO_FLAGS
            if self._load_now(entry):
                flags, entry.loading, entry.told = _LOAD_COMPILED, number, True
            size = len(flags) + len(body)
            sending.setdefault(entry, []).extend((size.to_bytes(_FRAME_SIZE, "big"), flags, body))
        for entry, parts in sending.items():
            assert entry.process.stdin is not None
            entry.process.stdin.write(b"".join(parts))

    def _load_now(self, entry: _Process) -> bool:
        """Whether this process is to load the compiled search with the question sent now:
        once it is compiled, one process at a time (loading stalls a process for about a
        second, and the others answer meanwhile)."""
        if entry.compiled or entry.told or not self._ready_to_load():
            return False
        return not any(e is not None and e.alive and e.loading is not None for e in self._slots)

    async def find(
        self,
        index: Bm25Index,
        text: str,
        k: int,
        guild_id: int | None,
        offset: int,
        check: bool,
        context: str = "",
    ) -> tuple[Any, bool, list[tuple[object, ...]]] | None:
        """`retrieval.answering.find`'s (found, behind) and the layouts to keep, from an
        engine process; None when none could answer (then the caller does it itself)."""
        self._restart_dead()
        if self._closed or index.saved_as is None or not self.pids:
            return None
        self._numbers += 1
        number = self._numbers
        request = (
            index.saved_as,
            index.version,
            index.scope_versions,
            text,
            k,
            guild_id,
            offset,
            check,
            context,
        )
        body = number.to_bytes(_NUMBER_SIZE, "little") + pickle.dumps(
            request, protocol=pickle.HIGHEST_PROTOCOL
        )
        waiter: Waiter = asyncio.get_running_loop().create_future()
        queue = self._queues.get(guild_id)
        if queue is None:
            queue = self._queues[guild_id] = collections.deque()
            self._turns.append(guild_id)
        queue.append((body, waiter))
        self._dispatch()
        try:
            status, payload = await asyncio.wait_for(asyncio.shield(waiter), self.deadline_s)
        except TimeoutError:
            self._stop_hung(number)
            return None
        if status != "found":
            return None
        found, behind, unlaid = payload
        self.answered += found is not None
        return found, behind, unlaid

    def _stop_hung(self, number: int) -> None:
        """Kill the process that holds question `number` past the deadline (its reader then
        hands its other questions to threads); a question still queued just leaves."""
        for entry in self._slots:
            if entry is not None and number in entry.waiting:
                log.warning(
                    "an engine process answered nothing for %.0f s; stopping it", self.deadline_s
                )
                with contextlib.suppress(ProcessLookupError):
                    entry.process.kill()
                return
        for queue in self._queues.values():
            for body, waiter in queue:
                if int.from_bytes(body[:_NUMBER_SIZE], "little") == number:
                    waiter.cancel()  # `_dispatch` skips it

    async def close(self) -> None:
        """Close each process's pipe (it exits when its questions are answered) and wait."""
        self._closed = True
        if self._precompiled is not None and not self._precompiled.done():
            if self._precompile is not None and self._precompile.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self._precompile.kill()
            self._precompiled.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._precompiled
        for task in list(self._starting.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for entry in self._slots:
            if entry is None:
                continue
            if entry.process.stdin is not None:
                entry.process.stdin.close()
            try:
                await asyncio.wait_for(entry.process.wait(), STOP_WAIT_S)
            except TimeoutError:
                entry.process.kill()
                await entry.process.wait()
            if entry.reader is not None:
                entry.reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await entry.reader


def _room(entry: _Process) -> int:
    """Questions a process may hold: DEPTH, or only the one it loads the compiled search
    with while it does (a second or so; the others answer meanwhile, rather than DEPTH
    questions waiting behind the load)."""
    return 1 if entry.loading is not None else DEPTH


def _environment() -> dict[str, str]:
    """This process's environment for a child, without the secrets it never needs."""
    return {k: v for k, v in os.environ.items() if k not in _SECRETS}


def _give_up(waiters: Iterable[Waiter]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(("gone", None))
