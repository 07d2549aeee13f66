"""Who may ingest when: one ingest at a time per server, a few at a time overall.

Adding a source is the one thing a server can make expensive (a hostile PDF, a slow site), so
ingestion has its own small pool, apart from the threads that answer questions, and its own
queue per server: a server's second upload waits for its first (and is told so), and a server
cannot queue more than `MAX_WAITING` behind it. Every document is read by a limited child
process (retrieval.sandbox), so even the running ones cannot take more than their budget.

A folder from the command line is read in batches (`read_files`): one limited process reads a
few hundred of its files, with one document's budget for all of them, and as many batches run at
once as the queue has workers. A batch that needs more than that budget is read again one file
at a time, each with a budget of its own, so every file ends exactly as it would alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from retrieval.errors import Busy, CitebotError
from retrieval.files import MAX_FILE_BYTES, read_file_bytes
from retrieval.sandbox import Budget, _refusal, run_limited, shared_pool

if TYPE_CHECKING:  # the ingest pipeline loads when sources are added, not on the ask path
    from retrieval.ingest_jobs import ReadDocument

T = TypeVar("T")

MAX_WAITING = 5  # per server, behind the one running
# A batch of files read by one limited process: at most this many files, and at most this many
# bytes per CPU second of one document's budget (1 MB with the default 20 s, a few seconds of
# reading). Hundreds of short articles share the process's start and its warm caches (stems,
# terms), while the batch stays a small part of the budget it has, and one that must be read
# again file by file is not a long one.
BATCH_FILES = 512
FIRST_BATCH_FILES = 16
BATCH_BYTES_PER_CPU_SECOND = 50 * 1024
# Batches under way beyond those the workers are reading (see `read_files`).
READ_AHEAD = 2
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
        self,
        budget: Budget | None = None,
        workers: int | None = None,
        *,
        limited: bool = True,
        batch_files: int = BATCH_FILES,
    ) -> None:
        """`limited=False` reads documents in-process (trusted input only: tests of parsing
        itself, benchmarks of ingest speed). `batch_files`: the most files of a folder one
        parser process reads (see `read_files`)."""
        self.budget = budget or Budget()
        self.workers = workers or _default_workers()
        self.batch_files = batch_files
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


@dataclass(frozen=True, slots=True)
class FileRead:
    """One file of a batch: where it is (`path` as given, `source` resolved) and what reading
    it gave: a document, or the refusal `add_file` would have raised."""

    path: Path
    source: str
    outcome: ReadDocument | CitebotError


ReadAlone = Callable[[bytes, str], Awaitable["ReadDocument"]]


def _load(path: Path, folders: dict[str, str]) -> tuple[str, bytes] | CitebotError:
    """The file's absolute path (as `Path.resolve` gives it) and bytes, or why it cannot be
    read (as add_file says it).

    A regular file within the size limit is read after one stat; anything else is left to
    `read_file_bytes`, which checks it step by step and says what is wrong."""
    try:
        info = os.stat(path)
        if stat.S_ISREG(info.st_mode) and info.st_size <= MAX_FILE_BYTES:
            with open(path, "rb") as file:
                return _resolved(path, folders), file.read()
    except OSError:
        pass
    try:
        data = read_file_bytes(path)
    except CitebotError as exc:
        return exc
    return _resolved(path, folders), data


def _resolved(path: Path, folders: dict[str, str]) -> str:
    """`str(path.resolve())`, each folder resolved once: a file that is no symbolic link is
    where its folder resolves to (resolving walks every part of the path, a system call
    each)."""
    text = os.fspath(path)
    if os.path.islink(text):
        return str(path.resolve())
    folder, name = os.path.split(text)
    real = folders.get(folder)
    if real is None:
        real = folders[folder] = str(Path(folder).resolve())
    return os.path.join(real, name)


def _batches(
    paths: Sequence[Path], most: int, most_bytes: int, workers: int
) -> Iterator[list[Path]]:
    """The files in order, cut into batches of at most `most` files and `most_bytes`. The
    first batches are small and double up to `most`, so every worker has work within a moment;
    the last ones shrink to an even share of what is left, so the workers finish together.
    A generator: each batch costs a stat per file, taken when it is cut, so the first batch
    is read while the rest of a large folder is not even looked at yet."""
    batch: list[Path] = []
    made = size = limit = 0
    for left, path in zip(range(len(paths), 0, -1), paths, strict=True):
        try:
            length = os.stat(path).st_size
        except OSError:
            length = 0  # reading it says why
        if not made or len(batch) >= limit or size + length > most_bytes:
            if batch:
                yield batch
            share = -(-left // (2 * workers))
            limit = min(most, FIRST_BATCH_FILES << made, max(share, FIRST_BATCH_FILES))
            made += 1
            batch, size = [], 0
        batch.append(path)
        size += length
    if batch:
        yield batch


async def _read_batch(
    queue: IngestQueue, paths: list[Path], alone: ReadAlone, folders: dict[str, str]
) -> list[FileRead]:
    loaded = await asyncio.to_thread(lambda: [_load(p, folders) for p in paths])
    readable = [(p, got) for p, got in zip(paths, loaded, strict=True) if isinstance(got, tuple)]
    answers: list[dict[str, Any]] = []
    if readable:
        items = [(data, os.path.basename(real), None, None, None) for _, (real, data) in readable]
        try:
            from retrieval.ingest_jobs import read_documents

            answers = await queue.run(read_documents, items, name=f"{len(items)} files")
        except CitebotError:  # over one document's budget, or the process failed: one by one
            answers = [{"again": True}] * len(items)
    replies = iter(answers)
    out: list[FileRead] = []
    for path, got in zip(paths, loaded, strict=True):
        if not isinstance(got, tuple):
            out.append(FileRead(path, str(path), got))
            continue
        real, data = got
        answer = next(replies)
        outcome: ReadDocument | CitebotError
        if "ok" in answer:
            from retrieval.ingest_jobs import decode_read

            outcome = decode_read(answer["ok"])
        elif "refused" in answer:
            outcome = _refusal(str(answer["refused"]), str(answer["message"]))
        else:
            try:
                outcome = await alone(data, os.path.basename(real))
            except CitebotError as exc:
                outcome = exc
        out.append(FileRead(path, real, outcome))
    return out


async def read_files(
    queue: IngestQueue, paths: Sequence[Path], alone: ReadAlone
) -> AsyncIterator[list[FileRead]]:
    """The files read in batches, each batch in its own limited process, as many at once as
    the queue has workers; batches come back in the files' order. `alone(data, name)` reads
    one document in a process of its own (for a batch that needed more than its budget).

    `READ_AHEAD` batches more than the workers are under way (cut, their files loaded, their
    jobs waiting for a worker), so a worker that finishes starts the next batch at once,
    whichever batch it was: waiting for the batches in order before starting another kept a
    worker idle whenever the later of two finished first (most of a second at a time)."""
    most_bytes = queue.budget.cpu_seconds * BATCH_BYTES_PER_CPU_SECOND
    cut = _batches(paths, queue.batch_files, most_bytes, queue.workers)
    folders: dict[str, str] = {}
    running: deque[asyncio.Task[list[FileRead]]] = deque()
    pending = True  # whether `cut` may have batches left

    async def refill() -> None:
        nonlocal pending
        while pending and len(running) < queue.workers + READ_AHEAD:
            batch = await asyncio.to_thread(next, cut, None)  # stats: off the event loop
            if batch is None:
                pending = False
                return
            running.append(asyncio.create_task(_read_batch(queue, batch, alone, folders)))

    try:
        await refill()
        while running:
            done = await running.popleft()
            await refill()  # before the caller writes this one
            yield done
    finally:
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
