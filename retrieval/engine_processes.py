"""Engine processes: a bot's questions answered beside its event loop, not under its lock.

The bot starts a few `retrieval.engine_worker` processes (see there for why and for the
protocol) and sends each question to the one with the fewest waiting. What they cannot answer
(an index not yet saved, a process that died or failed) comes back as None, and the caller
answers in a thread as before: the same answer either way. A process that dies is started again
on a later question, no sooner than RESTART_AFTER_S after the last start.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
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
# A process that ends this many times in a row without answering is not started again (it
# cannot start here: the bot answers in threads).
MAX_FAILED_STARTS = 3
STOP_WAIT_S = 5.0
# Never handed to an engine process: it reads the database and the index, nothing else.
_SECRETS = ("DISCORD_TOKEN",)
_FRAME_SIZE = 4
_NUMBER_SIZE = 8  # a request's number, before its pickle
DEPTH = 2  # questions in a process's hands at once: one it answers, one ready in its pipe


@dataclass(eq=False)
class _Process:
    """One engine process, its pipes and the questions it has not answered yet."""

    process: asyncio.subprocess.Process
    waiting: dict[int, asyncio.Future[tuple[str, Any]]] = field(default_factory=dict)
    reader: asyncio.Task[None] | None = None
    alive: bool = True
    answered: int = 0


class EngineProcesses:
    """`count` engine processes for the database at `database`, whose index is saved in
    `folder`."""

    def __init__(
        self, database: str | Path, folder: Path, count: int, *, compiled: bool = False
    ) -> None:
        self.database = str(database)
        self.folder = folder
        self.count = count
        self.compiled = compiled  # load the compiled search in each process
        self.restart_after_s = RESTART_AFTER_S
        # Searches the processes answered (not those that found the index stale for the
        # server, nor those that went to threads).
        self.answered = 0
        self._slots: list[_Process | None] = [None] * count
        self._started: list[float] = [float("-inf")] * count
        self._failed = [0] * count  # ends in a row without an answer, per slot
        self._starting: set[asyncio.Task[None]] = set()
        # Questions not yet sent, per server, and the servers with some, in turn.
        self._queues: dict[int | None, collections.deque[tuple[bytes, asyncio.Future]]] = {}
        self._turns: collections.deque[int | None] = collections.deque()
        self._numbers = 0
        self._closed = False

    @property
    def pids(self) -> list[int]:
        """The live engine processes' ids."""
        return [e.process.pid for e in self._slots if e is not None and e.alive]

    async def start(self) -> None:
        for slot in range(self.count):
            await self._start(slot)

    async def _start(self, slot: int) -> None:
        self._started[slot] = time.monotonic()
        env = {k: v for k, v in os.environ.items() if k not in _SECRETS}
        try:
            process = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "retrieval.engine_worker", self.database, str(self.folder)),
                *(("--compiled",) if self.compiled else ()),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=env,
            )
        except OSError as exc:
            log.warning("could not start an engine process (answering in threads): %s", exc)
            return
        entry = _Process(process)
        entry.reader = asyncio.create_task(self._read(entry, slot))
        self._slots[slot] = entry
        log.info("engine process %d started (pid %d)", slot, process.pid)

    async def _read(self, entry: _Process, slot: int) -> None:
        """Hand each answer to the question waiting for it and send the next; when the
        process ends, every question it still had gets "gone" (the caller answers it in a
        thread), and so does every queued one if no process is left."""
        out = entry.process.stdout
        assert out is not None
        try:
            while True:
                head = await out.readexactly(_FRAME_SIZE)
                body = await out.readexactly(int.from_bytes(head, "little"))
                number, status, payload = pickle.loads(body)
                waiter = entry.waiting.pop(number, None)
                entry.answered += 1
                if waiter is not None and not waiter.done():
                    waiter.set_result((status, payload))
                self._dispatch()
        except (asyncio.IncompleteReadError, ConnectionError, pickle.UnpicklingError):
            pass
        finally:
            entry.alive = False
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
        """Start again (for later questions) each dead process whose last start is long
        enough ago, unless it keeps failing to start."""
        for slot, entry in enumerate(self._slots):
            if (
                (entry is None or not entry.alive)
                and not self._closed
                and self._failed[slot] < MAX_FAILED_STARTS
                and time.monotonic() - self._started[slot] > self.restart_after_s
            ):
                self._started[slot] = time.monotonic()
                task = asyncio.get_running_loop().create_task(self._start(slot))
                self._starting.add(task)
                task.add_done_callback(self._starting.discard)

    def _dispatch(self) -> None:
        """Send queued questions to processes with room (fewer than DEPTH in hand), one
        server's at a time in turn: a server that floods the bot with questions, or asks
        costly ones, makes another server's question wait for at most one of its own."""
        while self._turns:
            free = [
                e
                for e in self._slots
                if e is not None and e.alive and e.process.stdin and len(e.waiting) < DEPTH
            ]
            if not free:
                return
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
            assert entry.process.stdin is not None
            try:
                entry.process.stdin.write(len(body).to_bytes(_FRAME_SIZE, "little") + body)
            except (ConnectionError, RuntimeError):  # its pipe closed: it ended
                entry.waiting.pop(number, None)
                waiter.set_result(("gone", None))

    async def find(
        self, index: Bm25Index, text: str, k: int, guild_id: int | None, offset: int, check: bool
    ) -> tuple[Any, bool, list[tuple[object, ...]]] | None:
        """`retrieval.answering.find`'s (found, behind) and the layouts to keep, from an
        engine process; None when none could answer (then the caller does it itself)."""
        self._restart_dead()
        if self._closed or index.saved_as is None or not self.pids:
            return None
        self._numbers += 1
        number = self._numbers
        request = (index.saved_as, index.version, text, k, guild_id, offset, check)
        body = number.to_bytes(_NUMBER_SIZE, "little") + pickle.dumps(
            request, protocol=pickle.HIGHEST_PROTOCOL
        )
        waiter: asyncio.Future[tuple[str, Any]] = asyncio.get_running_loop().create_future()
        queue = self._queues.get(guild_id)
        if queue is None:
            queue = self._queues[guild_id] = collections.deque()
            self._turns.append(guild_id)
        queue.append((body, waiter))
        self._dispatch()
        status, payload = await waiter
        if status != "found":
            return None
        found, behind, unlaid = payload
        self.answered += found is not None
        return found, behind, unlaid

    async def close(self) -> None:
        """Close each process's pipe (it exits when its questions are answered) and wait."""
        self._closed = True
        for task in list(self._starting):
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


def _give_up(waiters: Iterable[asyncio.Future[tuple[str, Any]]]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(("gone", None))
