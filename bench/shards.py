"""Past one process (issue 13, point 5): the bot on PostgreSQL as one `citebot run` process and as
two shard processes (shards 0 and 1 of 2), under the same load; and the time from a source added
by another process (the command line's) to its answer in a shard process.

    python bench/shards.py [--passages 10000] [--users 50] [--asks 20] [--runs 3] [--json FILE]

A throwaway PostgreSQL cluster is started (`tests.postgres`, Debian's server), filled with the
generated corpus of `bench/bot_load.py` (global sources, added as a folder through the command
line's path), and the emulator serves two servers, one on each shard, with the members split
between them. Each run starts the bot process(es) fresh, waits until both servers are answered,
then every member asks their questions one after another, all members at once. Reported: the
answer time (interaction sent -> answer visible) p50/p95, asks a second, and the CPU the bot
process(es) used per ask; medians over the runs. The sync figure: a bench-side knowledge base (a
process of its own in every way but the interpreter) adds a new global article; the time from
its commit to the answer shown in the server on shard 1, asked at once. Medians of `--sync-runs`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bot_load import (
    WAIT_TIMEOUT,
    CorpusGenerator,
    TimedEmulator,
    _answered,
    _process_cpu_s,
    _questions,
    _stats,
)
from discord_emulator.launch import REPO_ROOT, launched
from retrieval.knowledge import KnowledgeBase
from retrieval.models import Caller
from tests.postgres import fresh_database, running_cluster

RESULTS = Path(__file__).resolve().parent / "results"
PASSAGES_PER_ARTICLE = 20


async def fill(address: str, gen: CorpusGenerator, passages: int, folder: Path) -> list[Any]:
    """Write generated articles as files and add them as global sources; sampled passages'
    word ids, for questions."""
    samples = []
    paths = []
    batch: list[str] = []
    for n, (ids, text, _terms) in enumerate(gen.passages(passages)):
        batch.append(text)
        if n % 7 == 0:
            samples.append(ids)
        if len(batch) == PASSAGES_PER_ARTICLE:
            path = folder / f"article-{len(paths):05d}.md"
            path.write_text(f"# Generated article {len(paths)}\n\n" + "\n\n".join(batch) + "\n")
            paths.append(path)
            batch = []
    async with await KnowledgeBase.open(address) as kb:
        async for _ in kb.add_files(paths, caller=Caller.terminal()):
            pass
    return samples


async def one_run(
    address: str, shards: int, users: int, asks: int, questions: list[str], cwd: Path
) -> dict[str, Any]:
    async with TimedEmulator(wait_timeout=WAIT_TIMEOUT) as emu:
        guilds = [emu.add_guild(f"Shard {i}", shard=(i, 2)) for i in range(2)]
        people = [emu.add_member(f"user{u}", guild=guilds[u % 2]) for u in range(users)]
        env = {
            "DISCORD_TOKEN": emu.token,
            "CITEBOT_DB": address,
            "CITEBOT_ASK_COOLDOWN": "1000/1",
            "CITEBOT_LOG_LEVEL": "WARNING",
            "CITEBOT_MESSAGE_CONTENT": "0",
            "PYTHONPATH": str(REPO_ROOT),
        }
        args = (
            [["run"]]
            if shards == 1
            else [["run", "--shard-count", "2", "--shard-ids", str(i)] for i in range(2)]
        )
        async with contextlib_stack() as stack:
            processes = []
            for n, argv in enumerate(args):
                folder = cwd / f"p{n}"
                folder.mkdir(parents=True, exist_ok=True)
                processes.append(
                    await stack.enter_async_context(launched(emu, *argv, env=env, cwd=folder))
                )
            await processes[0].until(emu.wait_for_sync())
            for g in range(len(guilds)):  # both servers answered: every process ready
                owner = processes[g % len(processes)]
                asked = await emu.run_command(
                    people[g], "ask", {"question": questions[0]}, guild=guilds[g]
                )
                await owner.until(asked.wait_message())
            cpu_before = sum(_process_cpu_s(p.pid) or 0.0 for p in processes)
            loop = asyncio.get_running_loop()

            async def person(u: int) -> list[Any]:
                out = []
                for q in questions[u * asks : (u + 1) * asks]:
                    interaction = await emu.run_command(
                        people[u], "ask", {"question": q}, guild=guilds[u % 2]
                    )
                    out.append((interaction, await interaction.wait_message()))
                return out

            started = loop.time()
            done = [
                pair for r in await asyncio.gather(*(person(u) for u in range(users))) for pair in r
            ]
            wall = loop.time() - started
            cpu = sum(_process_cpu_s(p.pid) or 0.0 for p in processes) - cpu_before
            shown = [t for i, _ in done if (t := emu.timing(i)[1]) is not None]
            sync_ms = await sync_times(address, emu, people[1], guilds[1], processes[-1])
            for process in processes:
                await process.terminate()
    return {
        "processes": len(args),
        "asks": len(done),
        "answer_ms": _stats(shown),
        "asks_per_s": round(len(done) / wall, 1),
        "bot_cpu_ms_per_ask": round(cpu * 1000 / max(1, len(done)), 2),
        "answered_share": round(sum(_answered(m) for _, m in done) / max(1, len(done)), 3),
        "sync_ms": sync_ms,
    }


SYNC_RUNS = 3


async def sync_times(address: str, emu: Any, asker: Any, guild: Any, process: Any) -> list[float]:
    """Add a new global article from this process; ms from its commit to its answer shown in
    the server of `asker` (on the last process's shard), asked at once."""
    out = []
    async with await KnowledgeBase.open(address, seed=False) as writer:
        for n in range(SYNC_RUNS):
            word = f"zephyrine{n}{int(time.time() * 1000) % 100000}"
            text = f"The {word} lighthouse keeps its lamp lit through the winter storms."
            await writer.add_text(text, title=f"Lighthouse {word}")
            committed = time.perf_counter()
            question = {"question": f"What keeps the {word} lit?"}
            asked = await emu.run_command(asker, "ask", question, guild=guild)
            message = await process.until(asked.wait_message())
            out.append(round((time.perf_counter() - committed) * 1000, 1))
            if word not in json.dumps(message.embeds):
                out[-1] = float("nan")  # not found: reported as such
    return out


def contextlib_stack() -> Any:
    import contextlib

    return contextlib.AsyncExitStack()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--asks", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    gen = CorpusGenerator()
    results: dict[str, Any] = {"args": vars(args) | {"json": str(args.json)}, "runs": []}
    with running_cluster() as cluster, tempfile.TemporaryDirectory() as tmp:
        address = await fresh_database(cluster)
        folder = Path(tmp) / "articles"
        folder.mkdir()
        started = time.perf_counter()
        samples = await fill(address, gen, args.passages, folder)
        results["fill_s"] = round(time.perf_counter() - started, 1)
        questions = _questions(gen, samples, args.users * args.asks)
        for run in range(args.runs):
            for shards in (1, 2):  # alternated, so the machine's drift touches both
                measured = await one_run(
                    address, shards, args.users, args.asks, questions, Path(tmp) / f"r{run}"
                )
                results["runs"].append(measured)
                print(json.dumps(measured), flush=True)
    table = []
    for processes in (1, 2):
        runs = [r for r in results["runs"] if r["processes"] == processes]
        table.append(
            {
                "processes": processes,
                "answer_p50_ms": statistics.median(r["answer_ms"]["p50"] for r in runs),
                "answer_p95_ms": statistics.median(r["answer_ms"]["p95"] for r in runs),
                "asks_per_s": statistics.median(r["asks_per_s"] for r in runs),
                "bot_cpu_ms_per_ask": statistics.median(r["bot_cpu_ms_per_ask"] for r in runs),
                "sync_ms_median": statistics.median(s for r in runs for s in r["sync_ms"]),
            }
        )
    results["table"] = table
    print(
        f"\nPostgreSQL, {args.passages:,} passages, {args.users} members x {args.asks} asks, "
        f"medians of {args.runs} runs"
    )
    print("processes  answer p50/p95 ms  asks/s  bot CPU ms/ask  add -> answer elsewhere ms")
    for row in table:
        print(
            f"{row['processes']:>9}  {row['answer_p50_ms']:>7.0f} / {row['answer_p95_ms']:<7.0f}"
            f"  {row['asks_per_s']:>6.1f}  {row['bot_cpu_ms_per_ask']:>14.2f}"
            f"  {row['sync_ms_median']:>10.0f}"
        )
    out = args.json or RESULTS / f"shards-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"saved {out}")


if __name__ == "__main__":
    asyncio.run(main())
