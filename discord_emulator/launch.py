"""Run the real product entry point as its own process, talking to a running emulator.

    DISCORD_EMULATOR_URL=http://127.0.0.1:PORT \\
        python -m discord_emulator.launch [--entry module:function] ARGS...

Points discord.py at the emulator exactly as the in-process `patch_discord` does (the same
`point_discord_at`), keeps proxies out of the way of 127.0.0.1, then calls the entry point
(default `bot.cli:main`) with ARGS and exits with its status. Everything else is the product's
own: argument parsing, `.env`, logging, signal handling, exit codes.

Tests start it with `launched(emu, ARGS...)`, which also kills it if the test ends early.
Run it with the repository root as the working directory (`launched` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .server import point_discord_at

if TYPE_CHECKING:
    from .server import DiscordEmulator

ENV_VAR = "DISCORD_EMULATOR_URL"
DEFAULT_ENTRY = "bot.cli:main"
REPO_ROOT = Path(__file__).resolve().parents[1]
USAGE = f"usage: {ENV_VAR}=http://127.0.0.1:PORT python -m discord_emulator.launch " + (
    "[--entry module:function] ARGS..."
)
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "WS_PROXY", "WSS_PROXY")

T = TypeVar("T")


def _split_entry(argv: Sequence[str]) -> tuple[str, list[str]]:
    """A leading `--entry module:function` (or `--entry=...`), then the entry point's ARGS."""
    args = list(argv)
    entry = DEFAULT_ENTRY
    if args and args[0] == "--entry":
        if len(args) < 2:
            raise ValueError("--entry needs module:function")
        entry, args = args[1], args[2:]
    elif args and args[0].startswith("--entry="):
        entry, args = args[0].removeprefix("--entry="), args[1:]
    module_name, sep, attribute = entry.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"--entry must be module:function, got {entry!r}")
    return entry, args


def _resolve(entry: str) -> Callable[[list[str]], Any]:
    module_name, _, attribute = entry.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def _clear_proxies() -> None:
    for name in _PROXY_VARS:
        os.environ.pop(name, None)
        os.environ.pop(name.lower(), None)
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


def main(argv: Sequence[str] | None = None) -> Any:
    """Patch discord.py for the emulator at $DISCORD_EMULATOR_URL and call the entry point.

    Returns the entry point's return value (its exit status), or 2 on a usage error.
    """
    try:
        entry, args = _split_entry(sys.argv[1:] if argv is None else argv)
        base_url = os.environ.get(ENV_VAR, "")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"{ENV_VAR} must be the emulator's http://127.0.0.1:PORT")
    except ValueError as exc:
        sys.stderr.write(f"{exc}\n{USAGE}\n")
        return 2
    _clear_proxies()
    point_discord_at(base_url)
    return _resolve(entry)(args)


# ----------------------------------------------------------------- the test side


class LaunchedProcess:
    """A launched product process; its output is collected as it runs (the pipes never fill).

    Every wait is bounded by the emulator's `wait_timeout`, so a hung process fails the test.
    """

    def __init__(self, process: asyncio.subprocess.Process, timeout: float) -> None:
        self.process = process
        self.timeout = timeout
        self._out = bytearray()
        self._err = bytearray()
        self._readers = [
            asyncio.create_task(self._drain(process.stdout, self._out)),
            asyncio.create_task(self._drain(process.stderr, self._err)),
        ]

    @staticmethod
    async def _drain(stream: asyncio.StreamReader | None, into: bytearray) -> None:
        if stream is None:
            return
        while chunk := await stream.read(65536):
            into += chunk

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    @property
    def stdout(self) -> str:
        """What it printed so far (all of it once it has exited and been waited for)."""
        return self._out.decode(errors="replace")

    @property
    def stderr(self) -> str:
        return self._err.decode(errors="replace")

    def _describe(self) -> str:
        tail = self.stderr[-4000:] or "(nothing)"
        return f"process {self.pid} exited with {self.returncode}; stderr:\n{tail}"

    async def until(self, awaitable: Awaitable[T]) -> T:
        """Await `awaitable` (e.g. `emu.wait_for_identify()`), failing at once if the process
        exits first, with its exit status and stderr in the message."""
        waiting = asyncio.ensure_future(awaitable)
        exited = asyncio.ensure_future(self.process.wait())
        try:
            async with asyncio.timeout(self.timeout):
                await asyncio.wait({waiting, exited}, return_when=asyncio.FIRST_COMPLETED)
        except TimeoutError:
            raise AssertionError(
                f"timed out after {self.timeout}s waiting on process {self.pid}:\n{self.stderr}"
            ) from None
        finally:
            exited.cancel()
            if not waiting.done():
                waiting.cancel()
        if not waiting.done():
            await self._collect()
            raise AssertionError(self._describe())
        return waiting.result()

    async def _collect(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.timeout):
                await asyncio.gather(*self._readers)

    async def wait(self) -> int:
        """Its exit status once it exits by itself; its output is then complete."""
        try:
            async with asyncio.timeout(self.timeout):
                code = await self.process.wait()
        except TimeoutError:
            raise AssertionError(
                f"process {self.pid} still running after {self.timeout}s:\n{self.stderr}"
            ) from None
        await self._collect()
        return code

    async def terminate(self, sig: int = signal.SIGTERM) -> int:
        """Stop it as a service manager would (SIGTERM; SIGINT is Ctrl+C); its exit status.

        Fails (after killing it) if it does not exit within the timeout."""
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)
        return await self.wait()

    async def kill(self) -> None:
        """SIGKILL if still running, and reap it: no orphan outlives the test."""
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.timeout):
                await self.process.wait()
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)


@contextlib.asynccontextmanager
async def launched(
    emulator: DiscordEmulator,
    *args: str,
    entry: str = DEFAULT_ENTRY,
    env: Mapping[str, str | None] | None = None,
    cwd: str | os.PathLike[str] = REPO_ROOT,
) -> AsyncIterator[LaunchedProcess]:
    """Start `python -m discord_emulator.launch --entry ENTRY ARGS...` against `emulator`.

    `env` adds to this process's environment (a None value removes the variable); the
    emulator's URL is set for it. On leaving the block the process is killed if still running.
    """
    environment = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    environment[ENV_VAR] = emulator.base_url
    environment.setdefault("PYTHONUNBUFFERED", "1")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        __name__,
        "--entry",
        entry,
        *args,
        cwd=cwd,
        env=environment,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    launched_process = LaunchedProcess(process, emulator.wait_timeout)
    try:
        yield launched_process
    finally:
        await launched_process.kill()


if __name__ == "__main__":
    sys.exit(main())
