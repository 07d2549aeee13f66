"""Who may ingest when: one ingest at a time per server, a few at a time overall.

Adding a source is the one thing a server can make expensive (a hostile PDF, a slow site), so
ingestion has its own small pool, apart from the threads that answer questions, and its own
queue per server: a server's second upload waits for its first (and is told so), and a server
cannot queue more than `MAX_WAITING` behind it. Every document is read by a limited child
process (retrieval.sandbox), so even the running ones cannot take more than their budget.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from typing import TypeVar

from retrieval.errors import Busy
from retrieval.sandbox import Budget, run_limited, shared_pool

T = TypeVar("T")

MAX_WAITING = 5  # per server, behind the one running
OnQueued = Callable[[int], Awaitable[None]]


def _consume(future: asyncio.Future[object]) -> None:
    """Retrieve an abandoned job's outcome, so asyncio does not report it as never seen."""
    if not future.cancelled():
        future.exception()


def _default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class IngestQueue:
    """Per-scope serial, globally bounded execution of ingest jobs."""

    def __init__(
        self, budget: Budget | None = None, workers: int | None = None, *, limited: bool = True
    ) -> None:
        """`limited=False` reads documents in-process (trusted input only: tests of parsing
        itself, benchmarks of ingest speed)."""
        self.budget = budget or Budget()
        self.workers = workers or _default_workers()
        self._hosts = shared_pool() if limited else None
        self._slots = asyncio.Semaphore(self.workers)
        self._scopes: dict[int | None, asyncio.Lock] = {}
        self._waiting: dict[int | None, int] = {}
        self._pool: ThreadPoolExecutor | None = None

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="citebot-ingest")
        return self._pool

    @asynccontextmanager
    async def turn(
        self,
        scope: int | None,
        on_queued: OnQueued | None = None,
        *,
        wait_limit: float | None = None,
    ) -> AsyncIterator[None]:
        """Hold this scope's ingest turn (and a global slot) for one add or refresh.

        `on_queued(n)` is told when the caller must wait: n others ahead in this server, or 0
        when every slot is busy with other servers. Waiting longer than `wait_limit` seconds
        is a Busy refusal (a Discord reply must come within its 15-minute token).
        """
        lock = self._scopes.setdefault(scope, asyncio.Lock())
        waiting = self._waiting.get(scope, 0)
        if lock.locked() and waiting >= MAX_WAITING:
            raise Busy(
                f"{waiting + 1} sources are already being added here; wait for them to "
                "finish, then try again"
            )
        self._waiting[scope] = waiting + 1
        acquired = slot = False
        try:
            async with asyncio.timeout(wait_limit):
                if lock.locked() and on_queued is not None:
                    await on_queued(waiting + 1)
                await lock.acquire()
                acquired = True
                self._leave_queue(scope)
                if self._slots.locked() and on_queued is not None:
                    await on_queued(0)
                await self._slots.acquire()
                slot = True
        except TimeoutError:
            raise Busy(
                "the sources added before this one are taking a long time; "
                "try again in a few minutes"
            ) from None
        finally:
            if not acquired:
                self._leave_queue(scope)
            if acquired and not slot:
                self._release(scope, lock)
        try:
            yield
        finally:
            self._slots.release()
            self._release(scope, lock)

    def _leave_queue(self, scope: int | None) -> None:
        left = self._waiting.get(scope, 0) - 1
        if left > 0:
            self._waiting[scope] = left
        else:
            self._waiting.pop(scope, None)

    def _release(self, scope: int | None, lock: asyncio.Lock) -> None:
        lock.release()
        if not lock.locked() and scope not in self._waiting:
            self._scopes.pop(scope, None)

    async def run(self, func: Callable[..., T], *args: object, name: str) -> T:
        """`func(*args)` in a limited parser process, waited for on the ingest pool."""
        loop = asyncio.get_running_loop()
        token = object()
        job = partial(
            run_limited, func, args, name=name, budget=self.budget, pool=self._hosts, token=token
        )
        future = loop.run_in_executor(self._executor(), job)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # Nobody waits for the result any more (the bot is stopping, the command was
            # abandoned): stop the parsing too, rather than let it use its whole budget.
            future.add_done_callback(_consume)
            if self._hosts is not None:
                self._hosts.abort(token)
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
