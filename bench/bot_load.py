"""The bot under load, end to end: the real Citebot against the Discord-protocol emulator.

    python bench/bot_load.py [--quick] [--json PATH] [--phases ask,rebuild,attack]
                             [--ingest-cpu-seconds N] [--layouts-on-first-show]
                             [--levels 50x20,10x8] [--profile-bot PATH]

1. `/ask` response times with 1, 10 and 50 concurrent users (each a distinct member, each asking
   one question after another) on a 10k-passage corpus: from the emulator dispatching
   INTERACTION_CREATE to the bot's first callback (the answer itself when it is ready within
   bot.replies.QUICK_ANSWER, else the deferral, "citebot is thinking...") and to the answer
   being visible; and the bot process's CPU time per ask.
2. The event loop's worst lag while a moderator runs `/source add text:` on a 100k-passage
   corpus and the next `/ask` rebuilds the index: a probe task in the bot's loop sleeps 5 ms
   again and again and records how late it wakes up.
3. `/ask` in one server while another server's moderator uploads hostile PDFs
   (bench.hostile_load): the answer time's p95 under attack over the idle p95, 3 runs.

`--quick`: 2k passages and 1/10 users, 10k passages for the rebuild, one attack run; about a
minute (the attack waits for the first hostile upload to use its 20 s budget).
`--levels USERSxASKS,...`: the ask phase's levels instead of the plan's (e.g. `50x20`: 1,000
asks at 50 users, a window long enough for a steady CPU figure and a profile).
`--profile-bot PATH`: record the bot process with py-spy (if installed) while the ask phase's
levels run, into PATH (py-spy's "raw" collapsed stacks; `--profile-format` for another),
sampling 100 times a second without stopping the bot (`--nonblocking`), only the thread
that holds the GIL (`--gil`: a thread waiting for it is not working).

The corpus is generated (deterministic seed): English-like text whose vocabulary is the bundled
articles' words ranked by frequency, extended with made-up words to 30,000 types, drawn with a
Zipf-Mandelbrot distribution; passage lengths are log-normal, 40-150 words, 20 passages a
document. Rows go straight into the SQLite file (schema created by KnowledgeBase.open), terms
analysed with the product's analyzer. Questions are 2-4 of the rarer words of a random passage.

Part 1 runs the bot in its own process through the real entry point (`citebot run`, started
by discord_emulator.launch.launched with CITEBOT_ASK_COOLDOWN=1000/1, so the per-user
cooldown never interferes), while the emulator and the timing hooks run here: as in production,
where Discord's servers are elsewhere, the emulator's own work (HTTP, websocket, JSON) no longer
competes with the bot for its event loop (it still shares the machine's CPUs). Loop lag in part 1
is therefore the bench process's (the emulator's), not the bot's. Discord's network latency is
not modelled.

Part 2 keeps the bot in this process and event loop (as in the tests), because the lag probe
must run in the bot's loop; there the emulator's work is inside the measured times.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import hashlib
import io
import json
import logging
import math
import os
import platform
import re
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the repository importable
    sys.path.insert(0, str(ROOT))

from bot.client import Citebot  # noqa: E402
from bot.settings import Settings  # noqa: E402
from discord_emulator import (  # noqa: E402
    DiscordEmulator,
    Interaction,
    Message,
    User,
    point_discord_at,
)
from discord_emulator.launch import REPO_ROOT, LaunchedProcess, launched  # noqa: E402
from retrieval.analyzer import analyze  # noqa: E402
from retrieval.knowledge import KnowledgeBase  # noqa: E402
from retrieval.seeds import seed_files  # noqa: E402
from retrieval.term_offsets import stored_form  # noqa: E402

SEED = 20250105
VOCABULARY = 30_000
PASSAGES_PER_DOCUMENT = 20
ZIPF_S, ZIPF_Q = 1.07, 2.7  # p(rank) ~ 1 / (rank + q)^s
PROBE_INTERVAL = 0.005
WAIT_TIMEOUT = 600.0  # the emulator's bound on every wait; generous for 100k-passage rebuilds
ASK_TARGET_MS = 250.0  # issue 10: answer-visible p95 at 50 users
LAG_TARGET_MS = 100.0
TARGET_USERS = 50
CHECKED_PASSAGES = 200
# discord.py dispatches on_ready once no more guilds arrive, about 2 s after IDENTIFY; a bot in
# another process gives no signal for it, so people start asking this long after IDENTIFY.
READY_GRACE_S = 3.0
log = logging.getLogger(__name__)
OWN_PROCESS = "bot in its own process"
SAME_PROCESS = "same process"


@dataclass(frozen=True)
class Plan:
    ask_passages: int
    levels: tuple[tuple[int, int], ...]  # (concurrent users, asks per user)
    rebuild_passages: int


FULL = Plan(10_000, ((1, 40), (10, 8), (50, 4)), 100_000)
QUICK = Plan(2_000, ((1, 15), (10, 4)), 10_000)


# ----------------------------------------------------------------------- corpus


def _seed_words() -> list[str]:
    """The bundled articles' words, most frequent first: the head of the vocabulary."""
    counts: Counter[str] = Counter()
    for _, path in seed_files():
        text = path.read_text(encoding="utf-8", errors="replace").lower()
        counts.update(re.findall(r"[a-z]+(?:'[a-z]+)?", text))
    return [word for word, _ in counts.most_common()]


def _made_up_words(rng: np.random.Generator, count: int, taken: set[str]) -> list[str]:
    onsets = "b c d f g h j k l m n p r s t v w z br ch cl dr fl gr pl pr sh st th tr".split()
    vowels = "a e i o u ai ea ou io".split()
    endings = ["", "", "", "s", "ed", "ing", "er", "ion", "al", "y", "ment"]
    syllables = [o + v for o in onsets for v in vowels]
    words: list[str] = []
    while len(words) < count:
        n = int(rng.integers(2, 5))
        parts = rng.choice(len(syllables), size=n)
        word = "".join(syllables[i] for i in parts) + endings[int(rng.integers(len(endings)))]
        if word not in taken:
            taken.add(word)
            words.append(word)
    return words


class CorpusGenerator:
    """English-like passages with a Zipfian vocabulary; deterministic for a seed."""

    def __init__(self, seed: int = SEED, vocabulary: int = VOCABULARY) -> None:
        self.rng = np.random.default_rng(seed)
        head = _seed_words()
        words = head + _made_up_words(self.rng, vocabulary - len(head), set(head))
        self.words = np.array(words, dtype=object)
        # Analysing word by word gives the same terms as analysing the text (checked on a
        # sample in `passages`), and is ~20x faster than analysing 100k passages.
        self.terms = np.array([" ".join(analyze(w)) for w in words], dtype=object)
        self.content = np.array([bool(t) for t in self.terms])
        ranks = np.arange(1, len(words) + 1, dtype=np.float64)
        weights = 1.0 / (ranks + ZIPF_Q) ** ZIPF_S
        self.probs = weights / weights.sum()
        self.exact_terms: bool | None = None  # None: not checked yet
        self._checked = 0

    def passage_ids(self, count: int) -> list[np.ndarray]:
        lengths = np.clip(self.rng.lognormal(math.log(85), 0.35, count).astype(int), 40, 150)
        ids = self.rng.choice(len(self.words), size=int(lengths.sum()), p=self.probs)
        bounds = np.cumsum(lengths)[:-1]
        return np.split(ids, bounds)

    def text(self, ids: np.ndarray) -> str:
        words = self.words[ids].tolist()
        sentences = []
        i = 0
        while i < len(words):
            n = int(self.rng.integers(8, 23))
            sentence = words[i : i + n]
            i += n
            sentence[0] = sentence[0].capitalize()
            sentences.append(" ".join(sentence) + ".")
        return " ".join(sentences)

    def passages(self, count: int) -> Iterator[tuple[np.ndarray, str, str]]:
        """(word ids, text, terms) for `count` new passages."""
        for ids in self.passage_ids(count):
            text = self.text(ids)
            terms = " ".join(self.terms[ids[self.content[ids]]])
            if self._checked < CHECKED_PASSAGES or not self.exact_terms:
                # The first passages are analysed whole too; on any difference, all are.
                expected = " ".join(analyze(text))
                self._checked += 1
                self.exact_terms = bool(self.exact_terms is not False and terms == expected)
                terms = expected
            yield ids, text, terms

    def question(self, ids: np.ndarray) -> str | None:
        """A short question from 2-4 of a passage's rarer words, as a person might ask it."""
        content = [int(i) for i in dict.fromkeys(ids.tolist()) if self.content[i] and i >= 30]
        if len(content) < 2:
            return None
        content.sort(reverse=True)  # rarer words first
        pool = content[: max(4, len(content) // 3)]
        n = min(len(pool), int(self.rng.integers(2, 5)))
        picked = self.rng.choice(len(pool), size=n, replace=False)
        words = " ".join(self.words[pool[int(i)]] for i in picked)
        forms = ("What about {}?", "What is said about {}?", "Why {}?", "How does {} work?")
        return forms[int(self.rng.integers(len(forms)))].format(words)

    def pasted_source(self, words: int = 380) -> str:
        """A moderator's pasted article: a title line and a few paragraphs."""
        paragraphs = [self.text(ids) for ids in self.passage_ids(max(1, words // 90))]
        return "Bench pasted report\n\n" + "\n\n".join(paragraphs)


def _fill(
    db: Path, gen: CorpusGenerator, total: int, keep: int = 3000, *, layouts: bool = True
) -> dict[str, Any]:
    """Insert generated documents until the corpus holds `total` passages; sample some passages
    (their word ids) for questions. Runs after KnowledgeBase.open created the schema. With
    `layouts`, each passage gets its layout (`retrieval.term_offsets`) as if ingest stored it;
    without, the bot works each out the first time the passage is shown, and keeps it."""
    started = time.perf_counter()
    samples: list[np.ndarray] = []
    with contextlib.closing(sqlite3.connect(db)) as con:
        existing = con.execute("SELECT count(*) FROM passages").fetchone()[0]
        wanted = max(0, total - existing)
        stride = max(1, wanted // keep)
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
        documents = 0
        made = 0
        con.execute("BEGIN")
        while made < wanted:
            batch = min(wanted - made, PASSAGES_PER_DOCUMENT * 100)
            passages = list(gen.passages(batch))
            for start in range(0, len(passages), PASSAGES_PER_DOCUMENT):
                doc = passages[start : start + PASSAGES_PER_DOCUMENT]
                title_ids = sorted({int(i) for i in doc[0][0] if gen.content[i]}, reverse=True)
                title = " ".join(gen.words[i].capitalize() for i in title_ids[:4])
                cur = con.execute(
                    "INSERT INTO documents (guild_id, title, source, kind, content_hash, summary, "
                    "word_count, added_by, added_at) VALUES (NULL, ?, ?, 'text', ?, ?, ?, ?, ?)",
                    (
                        f"Report {documents + 1}: {title}",
                        "pasted text",
                        hashlib.sha256(f"citebot-bench:{SEED}:{documents}".encode()).hexdigest(),
                        doc[0][1].split(". ")[0][:300] + ".",
                        sum(len(ids) for ids, _, _ in doc),
                        "bench",
                        stamp,
                    ),
                )
                con.executemany(
                    "INSERT INTO passages (document_id, ordinal, paragraph, heading, text, terms, "
                    "layout) VALUES (?, ?, ?, NULL, ?, ?, ?)",
                    [
                        (
                            cur.lastrowid,
                            n,
                            n + 1,
                            text,
                            terms,
                            stored_form(text, terms) if layouts else None,
                        )
                        for n, (_, text, terms) in enumerate(doc)
                    ],
                )
                for n, (ids, _, _) in enumerate(doc):
                    if (made + start + n) % stride == 0:
                        samples.append(ids)
                documents += 1
            made += len(passages)
        con.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'corpus_version'"
        )
        con.execute("COMMIT")
        passages_now = con.execute("SELECT count(*) FROM passages").fetchone()[0]
        documents_now = con.execute("SELECT count(*) FROM documents").fetchone()[0]
    return {
        "passages": passages_now,
        "documents": documents_now,
        "generated_passages": made,
        "fill_s": round(time.perf_counter() - started, 2),
        "terms_by_word_cache": bool(gen.exact_terms),
        "samples": samples,
    }


async def build_database(
    db: Path, gen: CorpusGenerator, total: int, *, layouts: bool = True
) -> dict[str, Any]:
    """The bundled corpus and schema through KnowledgeBase.open, then generated rows."""
    started = time.perf_counter()
    kb = await KnowledgeBase.open(db, seed=True)
    await kb.close()
    info = await asyncio.to_thread(lambda: _fill(db, gen, total, layouts=layouts))
    info["layouts"] = "stored" if layouts else "on first show"
    info["setup_s"] = round(time.perf_counter() - started, 2)
    return info


# ----------------------------------------------------------------------- the emulator side


class TimedEmulator(DiscordEmulator):
    """The emulator, noting when each interaction was first acknowledged and when its original
    response became visible (loop time, comparable with `Interaction.dispatched_at`)."""

    def __init__(self, **kwargs: Any) -> None:
        self.acked_at: dict[int, float] = {}
        self.shown_at: dict[int, float] = {}
        self._watching: dict[int, Interaction] = {}
        self._known = 0
        super().__init__(**kwargs)

    def _notify(self) -> None:
        # Called right after every state change (callback, follow-up, edit), in the handler.
        with contextlib.suppress(RuntimeError):  # no running loop: nothing to time
            now = asyncio.get_running_loop().time()
            if len(self.interactions) > self._known:
                for interaction_id in list(self.interactions)[self._known :]:
                    self._watching[interaction_id] = self.interactions[interaction_id]
                self._known = len(self.interactions)
            for interaction_id, interaction in list(self._watching.items()):
                if interaction.acknowledged and interaction_id not in self.acked_at:
                    self.acked_at[interaction_id] = now
                original = interaction.original
                if (
                    original is not None
                    and original.visible
                    and interaction_id not in self.shown_at
                ):
                    self.shown_at[interaction_id] = now
                if interaction_id in self.shown_at:
                    del self._watching[interaction_id]
        super()._notify()

    def timing(self, interaction: Interaction) -> tuple[float | None, float | None]:
        """(ms to the first callback, ms to the visible response) after dispatch."""
        acked = self.acked_at.get(interaction.id)
        shown = self.shown_at.get(interaction.id)
        start = interaction.dispatched_at
        return (
            None if acked is None else (acked - start) * 1000,
            None if shown is None else (shown - start) * 1000,
        )


@contextlib.contextmanager
def discord_pointed_at(base_url: str) -> Iterator[None]:
    """point_discord_at, undone on exit (so a caller's process is left as it was)."""
    saved: list[tuple[Any, str, Any]] = []

    def set_attribute(target: Any, name: str, value: Any) -> None:
        saved.append((target, name, getattr(target, name)))
        setattr(target, name, value)

    point_discord_at(base_url, set_attribute)
    try:
        yield
    finally:
        for target, name, value in reversed(saved):
            setattr(target, name, value)


@dataclass
class Session:
    emu: TimedEmulator
    bot: Citebot | None  # None: the bot runs in its own process
    kb: KnowledgeBase | None
    db: Path
    users: list[User]
    start_s: float
    process: LaunchedProcess | None = None
    exit_code: int | None = None  # the bot process's, once terminated


@contextlib.asynccontextmanager
async def bot_session(db: Path, members: int) -> AsyncIterator[Session]:
    """The emulator with `members` extra people, and the real bot logged in and synced."""
    async with TimedEmulator(wait_timeout=WAIT_TIMEOUT) as emu:
        users = [emu.add_member(f"user{i}") for i in range(members)]
        with discord_pointed_at(emu.base_url):
            started = time.perf_counter()
            async with await KnowledgeBase.open(db) as kb:
                settings = Settings(token=emu.token, db_path=str(db), ask_rate=1000, ask_per=30.0)
                bot = Citebot(kb, settings)
                runner = asyncio.create_task(bot.start(emu.token))
                synced = asyncio.create_task(
                    emu.wait_until(lambda: bot.synced is not None, what="command sync")
                )
                done, _ = await asyncio.wait({runner, synced}, return_when=asyncio.FIRST_COMPLETED)
                if runner in done:
                    synced.cancel()
                    runner.result()
                    raise RuntimeError("the bot stopped before syncing its commands")
                await synced
                # discord.py dispatches on_ready once no more guilds arrive (about 2 s); a bot
                # closed before that leaves a task failing behind, and people ask after it.
                await asyncio.wait_for(bot.wait_until_ready(), WAIT_TIMEOUT)
                try:
                    yield Session(emu, bot, kb, db, users, time.perf_counter() - started)
                finally:
                    await bot.close()
                    with contextlib.suppress(Exception):
                        await runner


@contextlib.asynccontextmanager
async def bot_process_session(db: Path, members: int, cwd: Path) -> AsyncIterator[Session]:
    """The emulator here with `members` extra people, and the real bot in its own process
    (`citebot run`, the product's entry point) logged in and synced. On leaving, the bot is
    stopped with SIGTERM as a service manager would (its exit status lands in `exit_code`); the
    launcher kills and reaps it if anything went wrong first."""
    # A fresh folder with no .env: only the variables below (and this environment) count.
    await asyncio.to_thread(cwd.mkdir, parents=True, exist_ok=True)
    async with TimedEmulator(wait_timeout=WAIT_TIMEOUT) as emu:
        users = [emu.add_member(f"user{i}") for i in range(members)]
        env: dict[str, str | None] = {
            "DISCORD_TOKEN": emu.token,
            "DISCORD_GUILD_ID": str(emu.guild.id),  # sync to the emulator's guild at once
            "CITEBOT_DB": str(db),
            "CITEBOT_ASK_COOLDOWN": "1000/1",  # the per-user cooldown never interferes
            "CITEBOT_LOG_LEVEL": "WARNING",
            "MOD_ROLE_IDS": None,
            "PYTHONPATH": str(REPO_ROOT),
        }
        started = time.perf_counter()
        async with launched(emu, "run", env=env, cwd=cwd) as process:
            await process.until(emu.wait_for_sync(emu.guild))
            start_s = time.perf_counter() - started
            await process.until(emu.wait_for_identify())
            await process.until(asyncio.sleep(READY_GRACE_S))
            session = Session(emu, None, None, db, users, start_s, process)
            try:
                yield session
            finally:
                if process.returncode is None:
                    session.exit_code = await process.terminate()
                else:  # it stopped by itself: a failure, reported with its output
                    session.exit_code = await process.wait()


# ----------------------------------------------------------------------- measuring


class LagProbe:
    """Sleeps PROBE_INTERVAL again and again in the event loop; how late it wakes is the lag
    every other task in the loop (discord.py's heartbeat, other people's commands) suffers."""

    def __init__(self, interval: float = PROBE_INTERVAL) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []  # (loop time woken, lag in s)
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            woke = loop.time()
            self.samples.append((woke, woke - expected))

    def __enter__(self) -> LagProbe:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()

    def worst(self, start: float | None = None, end: float | None = None) -> dict[str, Any]:
        """Lag stats for wake-ups in [start, end + lag]: a stall that began inside the window
        is reported even when the probe woke after it."""
        lags = [
            lag
            for woke, lag in self.samples
            if (start is None or woke >= start) and (end is None or woke - lag <= end)
        ]
        if not lags:
            return {"max_ms": None, "p99_ms": None, "samples": 0, "over_50ms": 0}
        ms = np.array(lags) * 1000
        return {
            "max_ms": round(float(ms.max()), 1),
            "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "samples": len(lags),
            "over_50ms": int((ms > 50).sum()),
        }


def _process_cpu_s(pid: int | None) -> float | None:
    """CPU seconds (user + system) process `pid` used so far; None if unknown (not Linux)."""
    times = _process_times(pid)
    return None if times is None else sum(times)


def _process_times(pid: int | None) -> tuple[float, float] | None:
    """(user, system) CPU seconds process `pid` and its children (the bot's engine processes,
    `retrieval.engine_processes`: live ones and ended ones) used so far; None if unknown (not
    Linux)."""
    if pid is None:
        return None
    try:
        fields = _stat_fields(pid)
        tick = os.sysconf("SC_CLK_TCK")
        user, system = int(fields[11]) + int(fields[13]), int(fields[12]) + int(fields[14])
        for child in _children(pid):
            with contextlib.suppress(OSError, ValueError, IndexError):
                more = _stat_fields(child)
                user, system = user + int(more[11]), system + int(more[12])
        return user / tick, system / tick
    except (OSError, ValueError, IndexError):
        return None


def _children_cpu_s(pid: int | None) -> float | None:
    """CPU seconds the children of process `pid` (its engine processes) used so far."""
    if pid is None:
        return None
    try:
        fields = _stat_fields(pid)
        tick = os.sysconf("SC_CLK_TCK")
        total = int(fields[13]) + int(fields[14])
        for child in _children(pid):
            with contextlib.suppress(OSError, ValueError, IndexError):
                more = _stat_fields(child)
                total += int(more[11]) + int(more[12])
        return total / tick
    except (OSError, ValueError, IndexError):
        return None


def _stat_fields(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _children(pid: int) -> list[int]:
    """The live children of process `pid` (from /proc: each process's parent id)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int(_stat_fields(int(entry.name))[1]) == pid:
                    out.append(int(entry.name))
    return out


class CpuMeter:
    """CPU used by the bot process and by this (the bench's) process over a stretch, each as a
    share of one core; the bot's is None when it runs in this process."""

    def __init__(self, bot_pid: int | None) -> None:
        self.pid = bot_pid
        self.bot = _process_cpu_s(bot_pid)
        self.bot_times = _process_times(bot_pid)
        self.children = _children_cpu_s(bot_pid)
        self.own = time.process_time()
        self.wall = time.perf_counter()

    def bot_seconds(self) -> float | None:
        """CPU seconds the bot process used since the meter started."""
        bot = _process_cpu_s(self.pid)
        return None if bot is None or self.bot is None else bot - self.bot

    def children_seconds(self) -> float | None:
        """CPU seconds the bot's engine processes used since the meter started."""
        now = _children_cpu_s(self.pid)
        return None if now is None or self.children is None else now - self.children

    def bot_system_share(self) -> float | None:
        """The kernel's part of the CPU the bot process used since the meter started (system
        calls: sockets, thread wake-ups, SQLite's file locks)."""
        now = _process_times(self.pid)
        if now is None or self.bot_times is None:
            return None
        user, system = (a - b for a, b in zip(now, self.bot_times, strict=True))
        return round(system / max(1e-9, user + system), 3)

    def shares(self) -> dict[str, float | None]:
        wall = max(1e-9, time.perf_counter() - self.wall)
        bot = _process_cpu_s(self.pid)
        return {
            "bot": None if bot is None or self.bot is None else round((bot - self.bot) / wall, 2),
            "bench": round((time.process_time() - self.own) / wall, 2),
        }


def _stats(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None}
    p50, p95 = np.percentile(np.array(values), [50, 95])
    return {"p50": round(float(p50), 1), "p95": round(float(p95), 1), "max": round(max(values), 1)}


async def _ask(session: Session, user: User, question: str) -> tuple[Interaction, Message]:
    interaction = await session.emu.run_command(user, "ask", {"question": question})
    return interaction, await interaction.wait_message()


def _answered(message: Message) -> bool:
    return bool(message.embeds and message.embeds[0].get("fields"))


def _engine_latencies(db: Path, after_id: int) -> tuple[list[float], int]:
    """The engine's own latency (KnowledgeBase.ask: search + fetch, before logging), from the
    query log rows written after `after_id`; and the last row id."""
    with contextlib.closing(sqlite3.connect(db)) as con:
        rows = con.execute(
            "SELECT id, latency_ms FROM queries WHERE id > ? ORDER BY id", (after_id,)
        ).fetchall()
    return [r[1] for r in rows], (rows[-1][0] if rows else after_id)


def _take_violations(emu: DiscordEmulator) -> dict[str, int]:
    return dict(Counter(v.rule for v in emu.take_violations()))


async def _measure_level(
    session: Session, users: int, per_user: int, questions: list[str], last_query: int
) -> tuple[dict[str, Any], int]:
    loop = asyncio.get_running_loop()

    async def person(user: User, asks: list[str]) -> list[tuple[Interaction, Message]]:
        return [await _ask(session, user, q) for q in asks]

    pid = None if session.process is None else session.process.pid
    with LagProbe() as probe:
        cpu = CpuMeter(pid)
        started = loop.time()
        per_person = await asyncio.gather(
            *(
                person(session.users[u], questions[u * per_user : (u + 1) * per_user])
                for u in range(users)
            )
        )
        wall = loop.time() - started
        cpu_share = cpu.shares()
        bot_cpu_s = cpu.bot_seconds()
        engine_cpu_s = cpu.children_seconds()
        bot_system = cpu.bot_system_share()
    done = [pair for results in per_person for pair in results]
    acked: list[float] = []
    shown: list[float] = []
    for interaction, _ in done:
        first, final = session.emu.timing(interaction)
        if first is not None:
            acked.append(first)
        if final is not None:
            shown.append(final)
    engine, last_query = await asyncio.to_thread(_engine_latencies, session.db, last_query)
    late = sum(1 for interaction, _ in done if interaction.late_callback)
    return {
        "users": users,
        "asks": len(done),
        "first_response_ms": _stats(acked),
        "answer_ms": _stats(shown),
        "engine_ms": _stats(engine),
        "answered_share": round(sum(_answered(m) for _, m in done) / max(1, len(done)), 3),
        "asks_per_s": round(len(done) / wall, 1),
        "wall_s": round(wall, 2),
        "loop_lag": probe.worst(),
        "cpu_share": cpu_share,  # of one core: the bot process's and the bench's
        "bot_cpu_ms_per_ask": (
            None if bot_cpu_s is None else round(bot_cpu_s * 1000 / max(1, len(done)), 2)
        ),
        # Of bot_cpu_ms_per_ask: the engine processes' part (`retrieval.engine_processes`).
        "engine_processes_cpu_ms_per_ask": (
            None if engine_cpu_s is None else round(engine_cpu_s * 1000 / max(1, len(done)), 2)
        ),
        "bot_cpu_system_share": bot_system,  # of the bot's CPU time, in the kernel
        "late_callbacks": late,
        "violations": _take_violations(session.emu),
    }, last_query


def _questions(gen: CorpusGenerator, samples: list[np.ndarray], count: int) -> list[str]:
    out: list[str] = []
    order = gen.rng.permutation(len(samples))
    i = 0
    while len(out) < count:
        question = gen.question(samples[int(order[i % len(order)])])
        i += 1
        if question is not None:
            out.append(question)
    return out


@contextlib.asynccontextmanager
async def _profiled(pid: int | None, out: Path | None, fmt: str) -> AsyncIterator[None]:
    """py-spy recording process `pid` for the body's length (nothing if `out` is None)."""
    if out is None or pid is None:
        yield
        return
    spy = await asyncio.create_subprocess_exec(
        *("py-spy", "record", "--pid", str(pid), "--rate", "100", "--nonblocking", "--gil"),
        *("--format", fmt, "--output", str(out)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    await asyncio.sleep(1.0)  # py-spy attaches
    try:
        yield
    finally:
        spy.send_signal(2)  # SIGINT: py-spy writes its output and exits
        _, err = await spy.communicate()
        if spy.returncode:
            log.warning("py-spy exited with %s: %s", spy.returncode, err.decode()[-500:])


async def ask_phase(
    plan: Plan,
    gen: CorpusGenerator,
    folder: Path,
    *,
    layouts: bool = True,
    profile: Path | None = None,
    profile_format: str = "raw",
) -> dict[str, Any]:
    db = folder / "ask.db"
    # Before the bot opens it.
    corpus = await build_database(db, gen, plan.ask_passages, layouts=layouts)
    samples = corpus.pop("samples")
    most = max(users for users, _ in plan.levels)
    async with bot_process_session(db, most, folder / "bot-cwd") as session:
        warm = _questions(gen, samples, 4)
        with LagProbe() as probe:
            first, _ = await _ask(session, session.users[0], warm[0])
        cold_ms = session.emu.timing(first)[1]
        for question in warm[1:]:
            await _ask(session, session.users[0], question)
        _, last_query = await asyncio.to_thread(_engine_latencies, db, 0)
        warmup_violations = _take_violations(session.emu)
        levels = []
        pid = None if session.process is None else session.process.pid
        async with _profiled(pid, profile, profile_format):
            for users, per_user in plan.levels:
                questions = _questions(gen, samples, users * per_user)
                level, last_query = await _measure_level(
                    session, users, per_user, questions, last_query
                )
                levels.append(level)
    process = session.process
    assert process is not None
    return {
        "mode": OWN_PROCESS,
        "loop_lag_of": "the bench process (emulator and timing hooks), not the bot",
        "bot_exit_code": session.exit_code,
        "bot_stderr_tail": process.stderr[-2000:],
        "corpus": corpus,
        "bot_start_s": round(session.start_s, 2),
        "first_ask_ms": _rounded(cold_ms),
        "first_ask_loop_lag": probe.worst(),
        "warmup_violations": warmup_violations,
        "levels": levels,
    }


class _IndexBuilt(logging.Handler):
    """Loop times of the facade's "index built" log lines (emitted on the loop thread)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.times: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("index built"):
            with contextlib.suppress(RuntimeError):
                self.times.append(asyncio.get_running_loop().time())


@contextlib.contextmanager
def _watch_index_builds() -> Iterator[_IndexBuilt]:
    logger = logging.getLogger("retrieval.knowledge")
    handler = _IndexBuilt()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def _breakdown(kb: KnowledgeBase) -> dict[str, Any]:
    """The two parts of a rebuild measured on their own, each with the loop lag it causes:
    reading every passage from SQLite (rows become objects on the loop) and building the index
    (in a worker thread, but competing for the GIL)."""
    loop = asyncio.get_running_loop()
    out: dict[str, Any] = {}
    with LagProbe() as probe:
        started = loop.time()
        rows = await kb.store.load_passages()
        out["load_passages_ms"] = round((loop.time() - started) * 1000, 1)
        out["load_passages_loop_lag_ms"] = probe.worst(started)["max_ms"]
    try:
        from retrieval.index import Bm25Index

        version = (await kb.store.version_map()).number
        with LagProbe() as probe:
            started = loop.time()
            await asyncio.to_thread(Bm25Index, rows, version)
            out["index_build_ms"] = round((loop.time() - started) * 1000, 1)
            out["index_build_loop_lag_ms"] = probe.worst(started)["max_ms"]
    except Exception as exc:  # the index is being reworked; report rather than fail
        out["index_build_error"] = repr(exc)
    return out


async def rebuild_phase(plan: Plan, gen: CorpusGenerator, folder: Path) -> dict[str, Any]:
    db = folder / "rebuild.db"
    # No layouts: this phase times a rebuild, and its few asks work them out as they go.
    corpus = await build_database(db, gen, plan.rebuild_passages, layouts=False)
    samples = corpus.pop("samples")
    questions = _questions(gen, samples, 4)
    pasted = gen.pasted_source()
    with _watch_index_builds() as builds:
        async with bot_session(db, 1) as session:
            loop = asyncio.get_running_loop()
            user, emu = session.users[0], session.emu
            with LagProbe() as probe:
                cold, _ = await _ask(session, user, questions[0])  # the first after start-up
            cold_ms = emu.timing(cold)[1]
            cold_lag = probe.worst()
            steady, _ = await _ask(session, user, questions[1])
            with LagProbe() as probe:
                add = await emu.run_command(
                    emu.moderator, "source add", {"text": pasted, "title": "Bench pasted report"}
                )
                reply = await add.wait_message()
                rebuild, _ = await _ask(session, user, questions[2])  # rebuilds the index
                after, _ = await _ask(session, user, questions[3])
            added = bool(reply.embeds) and reply.embeds[0].get("title", "").startswith("Added")
            add_times = emu.timing(add)
            rebuild_times = emu.timing(rebuild)
            window_start = add.dispatched_at
            window_end = emu.shown_at.get(rebuild.id, loop.time())
            built_after = [
                round((t - rebuild.dispatched_at) * 1000, 1)
                for t in builds.times
                if t >= rebuild.dispatched_at
            ]
            result = {
                "mode": SAME_PROCESS,
                "corpus": corpus,
                "bot_start_s": round(session.start_s, 2),
                "pasted_chars": len(pasted),
                "source_added": added,
                "cold_ask_ms": None if cold_ms is None else round(cold_ms, 1),
                "cold_ask_loop_lag": cold_lag,
                "steady_ask_ms": _rounded(emu.timing(steady)[1]),
                "add_first_response_ms": _rounded(add_times[0]),
                "add_ms": _rounded(add_times[1]),
                "add_loop_lag": probe.worst(add.dispatched_at, emu.shown_at.get(add.id)),
                "rebuild_ask_first_response_ms": _rounded(rebuild_times[0]),
                "rebuild_ask_ms": _rounded(rebuild_times[1]),
                "index_built_after_ms": built_after[0] if built_after else None,
                "rebuild_loop_lag": probe.worst(rebuild.dispatched_at, window_end),
                "next_ask_ms": _rounded(emu.timing(after)[1]),
                "window_loop_lag": probe.worst(window_start, window_end),
                "late_callbacks": sum(
                    1 for i in (cold, steady, add, rebuild, after) if i.late_callback
                ),
                "violations": _take_violations(emu),
            }
            assert session.kb is not None
            result["breakdown"] = await _breakdown(session.kb)
    return result


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _attacks(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [results[key] for key in ("attack", ATTACK_ENV_BUDGET) if key in results]


def _targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    checks: list[tuple[str, float | None, float, str]] = []
    ask, rebuild = results.get("ask"), results.get("rebuild")
    if ask is not None:
        top = max(ask["levels"], key=lambda level: level["users"])
        note = "" if top["users"] >= TARGET_USERS else f" (quick: {top['users']} users, not 50)"
        checks += [
            (
                f"/ask p95, answer visible, {top['users']} users{note}",
                top["answer_ms"]["p95"],
                ASK_TARGET_MS,
                "ms",
            ),
            (
                f"/ask p95, first response (defer), {top['users']} users{note}",
                top["first_response_ms"]["p95"],
                ASK_TARGET_MS,
                "ms",
            ),
        ]
    if rebuild is not None:
        checks.append(
            (
                f"worst loop lag, /source add + rebuild, "
                f"{rebuild['corpus']['passages']:,} passages",
                rebuild["window_loop_lag"]["max_ms"],
                LAG_TARGET_MS,
                "ms",
            )
        )
    for attack in _attacks(results):
        plan = attack["plan"]
        checks.append(
            (
                f"/ask p95 in server B under attack / idle p95, {plan['uploads']} hostile PDFs "
                f"in server A, budget {plan['budget_cpu_s']} s (median of {plan['runs']} runs)",
                attack["median"]["p95_ratio"],
                attack["target_ratio"],
                "x",
            )
        )
    return [
        {
            "name": name,
            "value": value,
            "target": target,
            "unit": unit,
            "pass": value is not None and value <= target,
        }
        for name, value, target, unit in checks
    ]


def _cpu_seconds() -> tuple[float, float] | None:
    """(all CPU time, busy CPU time) of the whole machine so far, in seconds (Linux)."""
    try:
        first = Path("/proc/stat").read_text().split("\n")[0].split()
        fields = [int(x) for x in first[1:9]]  # user nice system idle iowait irq softirq steal
        tick = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
    total = sum(fields)
    return total / tick, (total - fields[3] - fields[4]) / tick


class OtherWork:
    """How much of the machine other processes used while we ran: its busy CPU time minus
    ours. The bot, the emulator and the index builds share two cores, so this skews every
    figure; print_table warns when it is high."""

    def __init__(self) -> None:
        self.start = _cpu_seconds()
        self.own = self._ours()

    @staticmethod
    def _ours() -> float:
        """CPU time of this process and of its children that have been waited for (the bot
        process is reaped before `share` is called at the end of the run)."""
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def share(self) -> float | None:
        end = _cpu_seconds()
        if self.start is None or end is None or end[0] <= self.start[0]:
            return None
        busy = end[1] - self.start[1] - (self._ours() - self.own)
        return round(max(0.0, busy) / (end[0] - self.start[0]), 2)


def _cpu_busy(seconds: float = 0.5) -> float | None:
    """Share of the machine busy with other work just before the run."""
    other = OtherWork()
    time.sleep(seconds)
    return other.share()


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        # Other work on the machine skews every figure here (the bot, the emulator and the
        # index build compete for the same CPUs, in one process or two).
        "cpu_busy_before": _cpu_busy(),
    }


PHASES = ("ask", "rebuild", "attack")
ATTACK_ENV_BUDGET = "attack_with_env_budget"  # the attack again, CITEBOT_INGEST_CPU_SECONDS set


async def run(
    quick: bool = False,
    *,
    phases: Sequence[str] = PHASES,
    ingest_cpu_seconds: int | None = None,
    layouts: bool = True,
    levels: tuple[tuple[int, int], ...] | None = None,
    profile: Path | None = None,
    profile_format: str = "raw",
) -> dict[str, Any]:
    """Run the measurements; JSON-serialisable results (see print_table).

    `ingest_cpu_seconds`: also measure the attack with CITEBOT_INGEST_CPU_SECONDS set to this
    for the bot (the default budget is always measured). `layouts`: the ask phase's passages
    have their layouts stored (else they are worked out when first shown). `levels`: the ask
    phase's (users, asks per user) instead of the plan's. `profile`: py-spy's recording of the
    bot process during the ask phase's levels goes there.
    """
    # Imported here: bench.hostile_load builds on this module's emulator and corpus.
    from bench import hostile_load

    plan = QUICK if quick else FULL
    if levels:
        plan = dataclasses.replace(plan, levels=levels)
    attack_plan = hostile_load.QUICK_ATTACK if quick else hostile_load.FULL_ATTACK
    machine = await asyncio.to_thread(_machine)
    other = OtherWork()
    started = time.perf_counter()
    gen = CorpusGenerator()
    results: dict[str, Any] = {
        "benchmark": "bot_load",
        "quick": quick,
        "machine": machine,
        "seed": SEED,
    }
    with tempfile.TemporaryDirectory(prefix="citebot-bench-") as tmp:
        folder = Path(tmp)
        if "ask" in phases:
            results["ask"] = await ask_phase(
                plan, gen, folder, layouts=layouts, profile=profile, profile_format=profile_format
            )
        if "rebuild" in phases:
            results["rebuild"] = await rebuild_phase(plan, gen, folder)
        if "attack" in phases:
            results["attack"] = await hostile_load.attack_phase(
                attack_plan, gen, folder, plan.ask_passages
            )
            if ingest_cpu_seconds is not None:
                smaller = dataclasses.replace(attack_plan, cpu_seconds=ingest_cpu_seconds)
                results[ATTACK_ENV_BUDGET] = await hostile_load.attack_phase(
                    smaller, gen, folder, plan.ask_passages
                )
    results["targets"] = _targets(results)
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    results["other_work_share"] = other.share()  # of all CPUs, during the run
    return results


# ----------------------------------------------------------------------- output


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _pair(stats: dict[str, float | None]) -> str:
    return f"{_ms(stats['p50'])} / {_ms(stats['p95'])}"


def _noteworthy(stderr: str) -> list[str]:
    """The bot's stderr lines worth showing: without colour codes and discord.py's notices
    that voice is not supported (PyNaCl, davey), which every start prints."""
    lines = (re.sub(r"\x1b\[[0-9;]*m", "", line).rstrip() for line in stderr.splitlines())
    return [line for line in lines if line and "voice will NOT be supported" not in line]


def _cpu(shares: dict[str, float | None]) -> str:
    def one(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    return f"{one(shares.get('bot'))} / {one(shares.get('bench'))}"


def _violations(found: dict[str, int]) -> str:
    return ", ".join(f"{rule} x{n}" for rule, n in sorted(found.items())) or "none"


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = str(cells[0]).ljust(widths[0])
        rest = [str(c).rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest])

    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def print_table(results: dict[str, Any]) -> None:
    from bench.hostile_load import print_attack  # see run()

    mode = "quick" if results["quick"] else "full"
    machine = results["machine"]
    print(
        f"\nThe bot under load ({mode}; {machine['cpus']} CPUs, Python {machine['python']}, "
        f"{machine['date']}; {results['elapsed_s']} s)"
    )
    before, during = machine.get("cpu_busy_before"), results.get("other_work_share")
    if max(before or 0, during or 0) > 0.1:
        print(
            f"WARNING: other processes used {before or 0:.0%} of the CPUs just before the run "
            f"and {during or 0:.0%} during it; that inflates these figures"
        )
    if "ask" in results:
        _print_ask(results["ask"])
    if "rebuild" in results:
        _print_rebuild(results["rebuild"])
    for attack in _attacks(results):
        print_attack(attack)

    print("\nTargets")
    for target in results["targets"]:
        verdict = "PASS" if target["pass"] else "FAIL"
        if target.get("unit", "ms") == "ms":
            value = f"{_ms(target.get('value', target.get('value_ms')))} ms"
            limit = f"{target.get('target', target.get('target_ms')):.0f} ms"
        else:
            value = "-" if target["value"] is None else f"{target['value']:.2f}x"
            limit = f"{target['target']:.1f}x"
        print(f"  {verdict}  {target['name']}: {value} (target <= {limit})")


def _print_ask(ask: dict[str, Any]) -> None:
    corpus = ask["corpus"]
    own = ask.get("mode") == OWN_PROCESS
    lag_of = "emulator loop lag" if own else "loop lag"
    print(
        f"\n/ask through the Discord emulator ({ask.get('mode', SAME_PROCESS)}"
        f"{': citebot run' if own else ''}): {corpus['passages']:,} passages in "
        f"{corpus['documents']:,} documents (layouts {corpus.get('layouts', 'stored')}); "
        "bot start "
        f"({'process start, ' if own else ''}login, index, sync) "
        f"{ask['bot_start_s']:.1f} s; first /ask {_ms(ask['first_ask_ms'])} ms, worst "
        f"{lag_of} then {_ms(ask['first_ask_loop_lag']['max_ms'])} ms"
    )
    rows = [
        [
            str(level["users"]),
            str(level["asks"]),
            _pair(level["first_response_ms"]),
            _pair(level["answer_ms"]),
            _ms(level["answer_ms"]["max"]),
            _pair(level["engine_ms"]),
            f"{level['asks_per_s']:.1f}",
            f"{level['answered_share']:.0%}",
            _cpu(level.get("cpu_share", {})),
            _ms(level.get("bot_cpu_ms_per_ask"))
            + (
                f" ({_ms(level['engine_processes_cpu_ms_per_ask'])} engine)"
                if level.get("engine_processes_cpu_ms_per_ask")
                else ""
            ),
            _ms(level["loop_lag"]["max_ms"]),
            _violations(level["violations"]),
        ]
        for level in ask["levels"]
    ]
    _table(
        rows,
        [
            "users",
            "asks",
            "defer p50/p95 ms",
            "answer p50/p95 ms",
            "answer max",
            "engine p50/p95 ms",
            "asks/s",
            "answered",
            "CPU bot/bench",
            "bot CPU ms/ask",
            f"{lag_of} max",
            "violations",
        ],
    )
    print(
        "defer: INTERACTION_CREATE sent -> first callback (a deferral, or the answer itself when "
        "it is quick); answer: -> answer visible; "
        "engine: KnowledgeBase.ask's own latency_ms (query log); CPU: share of one core (the "
        "bot's with its engine processes); bot CPU ms/ask: the CPU time per ask of the bot "
        "process and its engine processes (what other work on the machine changes least)"
    )
    if own:
        code = ask.get("bot_exit_code")
        print(
            f"the bot ran as `citebot run` in its own process; stopped with SIGTERM, exit "
            f"status {code}{'' if code == 0 else ' (WARNING: expected 0)'}; {lag_of} is the "
            "bench process's (emulator and timing hooks), not the bot's"
        )
        noteworthy = _noteworthy(ask.get("bot_stderr_tail", ""))
        if noteworthy:
            print("the bot's stderr (last lines, voice-support notices left out):")
            for err_line in noteworthy[-10:]:
                print(f"  {err_line}")
    if ask["warmup_violations"]:
        print(f"violations while warming up: {_violations(ask['warmup_violations'])}")


def _print_rebuild(rebuild: dict[str, Any]) -> None:

    print(
        f"\nA moderator adds a source ({rebuild['pasted_chars']:,} characters, /source add text:) "
        f"to {rebuild['corpus']['passages']:,} passages; the next /ask rebuilds the index "
        f"({rebuild.get('mode', SAME_PROCESS)}: bot, emulator and lag probe share one loop)"
    )
    rows = [
        ["bot start (login, load/build index, sync)", _ms(rebuild["bot_start_s"] * 1000), ""],
        [
            "first /ask after start",
            _ms(rebuild["cold_ask_ms"]),
            _ms(rebuild["cold_ask_loop_lag"]["max_ms"]),
        ],
        ["/ask, index warm", _ms(rebuild["steady_ask_ms"]), ""],
        [
            "/source add text: (defer / added)",
            f"{_ms(rebuild['add_first_response_ms'])} / {_ms(rebuild['add_ms'])}",
            _ms(rebuild["add_loop_lag"]["max_ms"]),
        ],
        [
            "next /ask: rebuild (defer / answer)",
            f"{_ms(rebuild['rebuild_ask_first_response_ms'])} / {_ms(rebuild['rebuild_ask_ms'])}",
            _ms(rebuild["rebuild_loop_lag"]["max_ms"]),
        ],
        ["/ask after that", _ms(rebuild["next_ask_ms"]), ""],
        [
            "whole window: add + rebuild",
            "",
            _ms(rebuild["window_loop_lag"]["max_ms"]),
        ],
    ]
    breakdown = rebuild.get("breakdown", {})
    if "load_passages_ms" in breakdown:
        rows.append(
            [
                "  part: store.load_passages()",
                _ms(breakdown["load_passages_ms"]),
                _ms(breakdown["load_passages_loop_lag_ms"]),
            ]
        )
    if "index_build_ms" in breakdown:
        rows.append(
            [
                "  part: Bm25Index(...) in a thread",
                _ms(breakdown["index_build_ms"]),
                _ms(breakdown["index_build_loop_lag_ms"]),
            ]
        )
    elif "index_build_error" in breakdown:
        rows.append(["  part: Bm25Index(...)", breakdown["index_build_error"][:60], ""])
    _table(rows, ["step", "time ms", "worst loop lag ms"])
    built = rebuild.get("index_built_after_ms")
    if built is not None:
        print(f"index rebuilt {_ms(built)} ms after the /ask was dispatched")
    lag = rebuild["window_loop_lag"]
    print(
        f"loop lag samples in the window: {lag['samples']}, p99 {_ms(lag['p99_ms'])} ms, "
        f"{lag['over_50ms']} over 50 ms; violations: {_violations(rebuild['violations'])}"
    )
    if not rebuild["source_added"]:
        print("WARNING: /source add did not report the source as added")


def render(results: dict[str, Any]) -> str:
    """print_table's text, for a caller that prints it itself (bench/run.py's renderers)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        print_table(results)
    return buffer.getvalue().strip("\n")


def run_sync(quick: bool = False, ingest_cpu_seconds: int | None = None) -> dict[str, Any]:
    """`run` from synchronous code (no event loop running)."""
    return asyncio.run(run(quick, ingest_cpu_seconds=ingest_cpu_seconds))


def _phases(text: str) -> tuple[str, ...]:
    phases = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = set(phases) - set(PHASES)
    if unknown or not phases:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(PHASES)}")
    return phases


def _levels(text: str) -> tuple[tuple[int, int], ...]:
    try:
        pairs = [part.strip().lower().split("x") for part in text.split(",") if part.strip()]
        levels = tuple((int(users), int(asks)) for users, asks in pairs)
    except ValueError:
        levels = ()
    if not levels or any(users < 1 or asks < 1 for users, asks in levels):
        raise argparse.ArgumentTypeError("write levels as USERSxASKS,... e.g. 50x20,10x8")
    return levels


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small corpora, 1 and 10 users")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--phases", type=_phases, default=PHASES, help="some of ask,rebuild,attack (default all)"
    )
    parser.add_argument(
        "--layouts-on-first-show",
        action="store_true",
        help="store no passage layouts with the ask phase's corpus: the bot works each out "
        "when it first shows the passage (a database from before layouts were stored)",
    )
    parser.add_argument(
        "--ingest-cpu-seconds",
        type=int,
        default=None,
        help="also measure the attack with CITEBOT_INGEST_CPU_SECONDS set to this for the bot",
    )
    parser.add_argument(
        "--levels", type=_levels, default=None, help="the ask phase's levels, e.g. 50x20,10x8"
    )
    parser.add_argument(
        "--profile-bot", type=Path, default=None, help="py-spy recording of the bot to this file"
    )
    parser.add_argument(
        "--profile-format", default="raw", help="py-spy's --format (raw, speedscope, flamegraph)"
    )
    args = parser.parse_args(argv)
    results = asyncio.run(
        run(
            quick=args.quick,
            phases=args.phases,
            ingest_cpu_seconds=args.ingest_cpu_seconds,
            layouts=not args.layouts_on_first_show,
            levels=args.levels,
            profile=args.profile_bot,
            profile_format=args.profile_format,
        )
    )
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
