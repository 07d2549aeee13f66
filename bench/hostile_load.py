"""`/ask` in one server while another server's moderator uploads hostile PDFs (issue 8).

Anyone who invites the bot is a moderator of their own server, so what one server's moderator
can upload must not slow down the questions of every other server. Each run:

1. A fresh copy of the corpus database; the emulator with two servers: B (the default guild,
   `members` people asking) and A (its moderator, the attacker). The real bot runs as its own
   process (`citebot run`, commands synced globally so both servers have them).
2. A's moderator adds a pasted source (`/source add text:`): A has rows of its own to protect.
3. Idle: B's members ask `/ask` at a fixed rate (open loop: one ask every 1/rate s, whatever
   the answers do) for `window_s` seconds.
4. Attack: A's moderator sends `uploads` hostile PDFs (tests.hostile.shared_stream_pdf: a few KB,
   minutes of pypdf's time without a budget) through `/source add file:`, back to back, without
   waiting for answers, as an attacker would: one is read, MAX_WAITING wait their turn (and are
   told so), the rest are refused at once. B's members ask at the same rate for `window_s`.
5. The bench waits until at least one upload was refused for its budget (all of them in a
   draining run), stops the bot with SIGTERM, waits for its parser processes to be gone, and
   compares server A's rows with those before the attack.

The row: p95 of the answer-visible time in B under attack over the idle p95 of the same run
(target <= 2.0), the median of the runs. CPU shares tell whether the parse competed with the
bot, and how much other processes on the machine used (they skew both windows).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import sqlite3
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bot_load import (
    READY_GRACE_S,
    WAIT_TIMEOUT,
    CorpusGenerator,
    TimedEmulator,
    _cpu_seconds,
    _ms,
    _noteworthy,
    _questions,
    _stats,
    _table,
    build_database,
)
from discord_emulator import Guild, Interaction, User
from discord_emulator.launch import REPO_ROOT, LaunchedProcess, launched
from retrieval.ingest import MAX_WAITING
from retrieval.sandbox import Budget
from tests.hostile import shared_stream_pdf

RATIO_TARGET = 2.0
HEARTBEAT_RACE = "Can't keep up, shard ID"
PARSER_HOST = "retrieval.parser_host"
# The sandbox's refusals past the CPU, wall-clock and memory limits (retrieval.sandbox).
OVER_BUDGET_MARKS = (
    "of processing to read",
    "took longer than",
    "of memory to read",
    "within the limits for one document",
)
BUDGET_RE = re.compile(r"needs more than (\d+) s of processing")


@dataclass(frozen=True)
class AttackPlan:
    runs: int
    members: int  # people asking in server B
    rate: float  # asks per second in B, idle and under attack
    window_s: float  # seconds of asking, idle and under attack
    uploads: int  # hostile PDFs A's moderator sends at once
    drain_last: bool  # the last run waits until every upload is answered
    cpu_seconds: int | None = None  # CITEBOT_INGEST_CPU_SECONDS for the bot; None: its default

    def budget(self) -> Budget:
        """The budget the bot would use with this plan's environment."""
        if self.cpu_seconds is None:
            return Budget()
        return Budget.from_env({"CITEBOT_INGEST_CPU_SECONDS": str(self.cpu_seconds)})


# One read, MAX_WAITING told to wait, one refused at once: the queue's every answer.
UPLOADS = MAX_WAITING + 2
FULL_ATTACK = AttackPlan(
    runs=3, members=10, rate=10.0, window_s=25.0, uploads=UPLOADS, drain_last=True
)
QUICK_ATTACK = AttackPlan(
    runs=1, members=10, rate=10.0, window_s=10.0, uploads=UPLOADS, drain_last=False
)


# ----------------------------------------------------------------------- processes and CPU


def _processes() -> dict[int, tuple[int, float, float]]:
    """pid -> (parent pid, own CPU s, CPU s of its reaped children), every process (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[int, float, float]] = {}
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
                own = (int(fields[11]) + int(fields[12])) / tick
                reaped = (int(fields[13]) + int(fields[14])) / tick
                found[int(entry.name)] = (int(fields[1]), own, reaped)
            except (OSError, ValueError, IndexError):
                continue
    return found


def _descendants(table: dict[int, tuple[int, float, float]], root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)
    out: list[int] = []
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds so far: the bot's own, its parser processes' (live and reaped), this bench
    process's, and the whole machine's (all, busy)."""

    wall: float
    bot: float
    parsers: float
    bench: float
    machine: tuple[float, float] | None

    @classmethod
    def take(cls, bot_pid: int) -> CpuSample:
        table = _processes()
        _, bot_own, bot_reaped = table.get(bot_pid, (0, 0.0, 0.0))
        parsers = bot_reaped + sum(
            table[pid][1] + table[pid][2] for pid in _descendants(table, bot_pid)
        )
        return cls(time.perf_counter(), bot_own, parsers, time.process_time(), _cpu_seconds())

    def shares(self, end: CpuSample) -> dict[str, float | None]:
        """Each as a share of one core over the stretch; `other` is the machine's busy time
        that was none of ours (other people's work)."""
        wall = max(1e-9, end.wall - self.wall)
        bot, parsers, bench = end.bot - self.bot, end.parsers - self.parsers, end.bench - self.bench
        other = None
        if self.machine is not None and end.machine is not None:
            busy = end.machine[1] - self.machine[1]
            other = round(max(0.0, busy - bot - parsers - bench) / wall, 2)
        return {
            "bot": round(bot / wall, 2),
            "parsers": round(parsers / wall, 2),
            "bench": round(bench / wall, 2),
            "other": other,
        }


def _parser_pids(bot_pid: int) -> list[int]:
    table = _processes()
    return [pid for pid in _descendants(table, bot_pid) if _is_parser(pid)]


def _is_parser(pid: int) -> bool:
    try:
        return PARSER_HOST in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def _scheduling(pid: int) -> dict[str, Any] | None:
    """A process's nice value and its scheduler autogroup (Linux): with autogroups on, nice
    only orders processes within one group, and a new session (setsid) is a new group."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        nice = int(fields[16])
    except (OSError, ValueError, IndexError):
        return None
    try:
        group = Path(f"/proc/{pid}/autogroup").read_text().split()[0]
    except (OSError, IndexError):
        group = None
    return {"nice": nice, "autogroup": group}


def _autogroups_enabled() -> bool | None:
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return None


async def _parsers_gone(pids: Sequence[int], bound: float) -> tuple[float, int]:
    """Seconds until none of `pids` is a parser process any more (bounded), and how many are
    still running at the bound. Polled: they are not our children, nothing signals their end."""
    started = time.perf_counter()
    left = [pid for pid in pids if _is_parser(pid)]
    while left and time.perf_counter() - started < bound:
        await asyncio.sleep(0.1)
        left = [pid for pid in left if _is_parser(pid)]
    return round(time.perf_counter() - started, 2), len(left)


# ----------------------------------------------------------------------- the database


def _copy_database(source: Path, target: Path) -> None:
    """A consistent copy (SQLite's backup API: the WAL, if any, is included)."""
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)


def _server_rows(db: Path, guild_id: int) -> dict[str, Any]:
    """Server A's documents and passages (counts and a digest of their content), and the
    corpus's totals and version: what an attack must leave as it was."""
    with contextlib.closing(sqlite3.connect(db)) as con:
        docs = con.execute(
            "SELECT id, title, source, content_hash, word_count FROM documents "
            "WHERE guild_id = ? ORDER BY id",
            (guild_id,),
        ).fetchall()
        passages = con.execute(
            "SELECT p.id, p.document_id, p.ordinal, p.text FROM passages p "
            "JOIN documents d ON d.id = p.document_id WHERE d.guild_id = ? ORDER BY p.id",
            (guild_id,),
        ).fetchall()
        total_docs = con.execute("SELECT count(*) FROM documents").fetchone()[0]
        total_passages = con.execute("SELECT count(*) FROM passages").fetchone()[0]
        version = con.execute("SELECT value FROM meta WHERE key = 'corpus_version'").fetchone()
    digest = hashlib.sha256(repr((docs, passages)).encode()).hexdigest()[:16]
    return {
        "documents": len(docs),
        "passages": len(passages),
        "digest": digest,
        "all_documents": total_docs,
        "all_passages": total_passages,
        "corpus_version": None if version is None else str(version[0]),
    }


# ----------------------------------------------------------------------- asking and uploading


async def _ask(emu: TimedEmulator, user: User, question: str) -> Interaction:
    interaction = await emu.run_command(user, "ask", {"question": question})
    await interaction.wait_message()
    return interaction


async def _asking_window(
    emu: TimedEmulator,
    members: Sequence[User],
    questions: Sequence[str],
    plan: AttackPlan,
    bot_pid: int,
) -> dict[str, Any]:
    """B's members ask on a fixed schedule (open loop) for plan.window_s seconds; the answer
    and deferral times of every ask, and the CPU shares over the window."""
    loop = asyncio.get_running_loop()
    count = max(1, round(plan.rate * plan.window_s))
    before = CpuSample.take(bot_pid)
    start = loop.time()
    tasks: list[asyncio.Task[Interaction]] = []
    for i in range(count):
        delay = start + i / plan.rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        user, question = members[i % len(members)], questions[i % len(questions)]
        tasks.append(asyncio.create_task(_ask(emu, user, question)))
    dispatched_s = loop.time() - start
    done = await asyncio.gather(*tasks)
    cpu = before.shares(CpuSample.take(bot_pid))
    shown: list[float] = []
    acked: list[float] = []
    answered = 0
    for interaction in done:
        first, final = emu.timing(interaction)
        if first is not None:
            acked.append(first)
        if final is not None:
            shown.append(final)
        original = interaction.original
        if original is not None and original.embeds and original.embeds[0].get("fields"):
            answered += 1
    return {
        "asks": len(done),
        "asks_per_s": round(len(done) / max(1e-9, dispatched_s), 2),
        "answer_ms": _stats(shown),
        "first_response_ms": _stats(acked),
        "answered_share": round(answered / len(done), 3),
        "late_callbacks": sum(1 for i in done if i.late_callback),
        "cpu_share": cpu,
    }


@dataclass
class Upload:
    name: str
    interaction: Interaction
    answered_at: float | None = None  # loop time of the final message (an embed)

    def outcome(self) -> dict[str, Any]:
        messages = self.interaction.messages
        waited = [m.content for m in messages if m.content.startswith("Waiting:")]
        final = next((m for m in messages if m.embeds), None)
        text = ""
        if final is None:
            kind = "pending"
        else:
            embed = final.embeds[0]
            text = str(embed.get("description") or embed.get("title") or "")
            if str(embed.get("title", "")).startswith("Added"):
                kind = "added"  # the defence failed
            elif "already being added" in text:
                kind = "busy"
            elif any(mark in text for mark in OVER_BUDGET_MARKS):
                kind = "over budget"
            else:
                kind = "refused (other)"
        after = None
        if self.answered_at is not None:
            after = round((self.answered_at - self.interaction.dispatched_at) * 1000)
        return {
            "name": self.name,
            "kind": kind,
            "told_to_wait": bool(waited),
            "wait_note": waited[0] if waited else None,
            "message": text or None,
            "answered_after_ms": after,
        }


def _hostile_pdfs(count: int) -> list[bytes]:
    """`count` hostile PDFs, each a little different (an attacker avoids duplicate checks)."""
    return [shared_stream_pdf(pages=60, operators=200_000 + i) for i in range(count)]


async def _attack(
    emu: TimedEmulator, attacker: User, server: Guild, pdfs: Sequence[bytes]
) -> list[Upload]:
    """A's moderator sends every PDF through /source add file:, back to back."""
    uploads = []
    for n, data in enumerate(pdfs, start=1):
        name = f"report{n}.pdf"
        attachment = emu.upload(name, data)
        interaction = await emu.run_command(
            attacker, "source add", {"file": attachment}, guild=server
        )
        uploads.append(Upload(name, interaction))
    return uploads


async def _watch(upload: Upload) -> None:
    """Note when the upload's final answer (an embed: added or refused) becomes visible."""
    await upload.interaction.wait_for(lambda i: any(m.embeds for m in i.messages))
    upload.answered_at = asyncio.get_running_loop().time()


# ----------------------------------------------------------------------- one run


def _bot_env(emu: TimedEmulator, db: Path, plan: AttackPlan) -> dict[str, str | None]:
    return {
        "DISCORD_TOKEN": emu.token,
        "DISCORD_GUILD_ID": None,  # global commands: both servers have them
        "CITEBOT_DB": str(db),
        "CITEBOT_ASK_COOLDOWN": "1000/1",  # the per-user cooldown never interferes
        "CITEBOT_LOG_LEVEL": "WARNING",
        "CITEBOT_INGEST_CPU_SECONDS": None if plan.cpu_seconds is None else str(plan.cpu_seconds),
        "MOD_ROLE_IDS": None,
        "PYTHONPATH": str(REPO_ROOT),
    }


async def _start(emu: TimedEmulator, process: LaunchedProcess) -> float:
    started = time.perf_counter()
    await process.until(emu.wait_for_sync())
    await process.until(emu.wait_for_identify())
    await process.until(asyncio.sleep(READY_GRACE_S))  # on_ready, once every guild arrived
    return time.perf_counter() - started


async def attack_run(
    plan: AttackPlan,
    base_db: Path,
    folder: Path,
    gen: CorpusGenerator,
    samples: list[Any],
    number: int,
    drain: bool,
) -> dict[str, Any]:
    """One run (see the module's docstring): a fresh bot on a fresh copy of `base_db`."""
    db = folder / f"attack-{number}.db"
    await asyncio.to_thread(_copy_database, base_db, db)
    cwd = folder / "attack-cwd"  # no .env: only the variables given count
    await asyncio.to_thread(cwd.mkdir, parents=True, exist_ok=True)
    budget = plan.budget()
    async with TimedEmulator(wait_timeout=WAIT_TIMEOUT) as emu:
        server_a = emu.add_guild("Server A")
        attacker = emu.add_member("mallory", roles=["Moderator"], guild=server_a)
        members = [emu.add_member(f"member{i}") for i in range(plan.members)]
        async with launched(emu, "run", env=_bot_env(emu, db, plan), cwd=cwd) as process:
            start_s = await _start(emu, process)
            seed = await emu.run_command(
                attacker,
                "source add",
                {"text": gen.pasted_source(), "title": "Server A notes"},
                guild=server_a,
            )
            seeded = await process.until(seed.wait_message())
            seeded_ok = bool(seeded.embeds) and str(seeded.embeds[0].get("title", "")).startswith(
                "Added"
            )
            for question in _questions(gen, samples, 3):  # the index rebuilt after A's add
                await process.until(_ask(emu, members[0], question))
            before = await asyncio.to_thread(_server_rows, db, server_a.id)
            count = max(1, round(plan.rate * plan.window_s))
            idle = await process.until(
                _asking_window(emu, members, _questions(gen, samples, count), plan, process.pid)
            )
            pdfs = await asyncio.to_thread(_hostile_pdfs, plan.uploads)
            attack_started = asyncio.get_running_loop().time()
            uploads = await _attack(emu, attacker, server_a, pdfs)
            watchers = [asyncio.create_task(_watch(u)) for u in uploads]
            attack = await process.until(
                _asking_window(emu, members, _questions(gen, samples, count), plan, process.pid)
            )
            # How the parse that ran during the window was scheduled against the bot.
            scheduling = {
                "autogroups_enabled": _autogroups_enabled(),
                "bot": _scheduling(process.pid),
                "parsers": [
                    _scheduling(pid) for pid in await asyncio.to_thread(_parser_pids, process.pid)
                ],
            }
            # Every upload's fate, or (not draining) at least one refusal for the budget.
            bound = min(
                budget.wall_seconds * (plan.uploads if drain else 1) + 30, WAIT_TIMEOUT - 30
            )

            def settled() -> bool:
                if drain:  # the messages, not answered_at: the watchers may not have run yet
                    return all(any(m.embeds for m in u.interaction.messages) for u in uploads)
                return any(u.outcome()["kind"] == "over budget" for u in uploads)

            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(bound):
                    await process.until(emu.wait_until(settled, what="the uploads' answers"))
            waited_s = asyncio.get_running_loop().time() - attack_started
            answered = [
                watcher
                for watcher, upload in zip(watchers, uploads, strict=True)
                if any(m.embeds for m in upload.interaction.messages)
            ]
            if answered:  # let their watchers note the time (they run on the same change)
                await asyncio.wait(answered, timeout=5)
            parsers = await asyncio.to_thread(_parser_pids, process.pid)
            stopping = time.perf_counter()
            exit_code = await process.terminate()
            stop_s = time.perf_counter() - stopping
            for watcher in watchers:
                watcher.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
        # The next run's idle window must not share the machine with this run's parse.
        parsers_gone_s, parsers_left = await _parsers_gone(parsers, budget.wall_seconds + 10)
        after = await asyncio.to_thread(_server_rows, db, server_a.id)
        violations = dict(Counter(v.rule for v in emu.take_violations()))
    outcomes = [u.outcome() for u in uploads]
    budgets = sorted(
        {int(m.group(1)) for o in outcomes if (m := BUDGET_RE.search(o["message"] or ""))}
    )
    idle_p95, attack_p95 = idle["answer_ms"]["p95"], attack["answer_ms"]["p95"]
    return {
        "run": number,
        "drained": drain,
        "bot_start_s": round(start_s, 2),
        "server_a_seeded": seeded_ok,
        "idle": idle,
        "attack": attack,
        "p95_ratio": None
        if not idle_p95 or attack_p95 is None
        else round(attack_p95 / idle_p95, 2),
        "p50_ratio": _ratio(attack["answer_ms"]["p50"], idle["answer_ms"]["p50"]),
        "uploads": outcomes,
        "kinds": dict(Counter(o["kind"] for o in outcomes)),
        "told_to_wait": sum(o["told_to_wait"] for o in outcomes),
        "budget_in_refusals_s": budgets,
        "waited_after_attack_s": round(waited_s, 1),
        "server_a_before": before,
        "server_a_after": after,
        "server_a_unchanged": before == after,
        "bot_stop_s": round(stop_s, 2),
        "bot_exit_code": exit_code,
        "parser_processes_at_stop": len(parsers),
        "scheduling": scheduling,
        "parsers_gone_after_stop_s": parsers_gone_s,
        "parsers_left": parsers_left,
        "bot_stderr_tail": process.stderr[-2000:],
        "violations": violations,
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else round(a / b, 2)


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 2) if present else None


async def attack_phase(
    plan: AttackPlan, gen: CorpusGenerator, folder: Path, passages: int
) -> dict[str, Any]:
    """`plan.runs` runs on copies of one corpus; their medians and the verdict."""
    base = folder / "attack-base.db"
    corpus = await build_database(base, gen, passages)
    samples = corpus.pop("samples")
    runs = []
    for number in range(1, plan.runs + 1):
        drain = plan.drain_last and number == plan.runs
        runs.append(await attack_run(plan, base, folder, gen, samples, number, drain))
    ratio = _median([r["p95_ratio"] for r in runs])
    budget = plan.budget()
    return {
        "corpus": corpus,
        "plan": {
            "runs": plan.runs,
            "members": plan.members,
            "rate_per_s": plan.rate,
            "window_s": plan.window_s,
            "uploads": plan.uploads,
            "max_waiting": MAX_WAITING,
            "drain_last": plan.drain_last,
            "cpu_seconds_env": plan.cpu_seconds,
            "budget_cpu_s": budget.cpu_seconds,
            "budget_wall_s": budget.wall_seconds,
            "pdf_bytes": len(shared_stream_pdf(pages=60, operators=200_000)),
            "pdf_pages": 60,
        },
        "runs": runs,
        "median": {
            "idle_p50_ms": _median([r["idle"]["answer_ms"]["p50"] for r in runs]),
            "idle_p95_ms": _median([r["idle"]["answer_ms"]["p95"] for r in runs]),
            "attack_p50_ms": _median([r["attack"]["answer_ms"]["p50"] for r in runs]),
            "attack_p95_ms": _median([r["attack"]["answer_ms"]["p95"] for r in runs]),
            "p95_ratio": ratio,
        },
        "target_ratio": RATIO_TARGET,
        "pass": ratio is not None and ratio <= RATIO_TARGET,
        "server_a_unchanged": all(r["server_a_unchanged"] for r in runs),
        "nothing_added": all(r["kinds"].get("added", 0) == 0 for r in runs),
    }


# ----------------------------------------------------------------------- output


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _kinds(kinds: dict[str, int]) -> str:
    order = ("over budget", "busy", "pending", "added", "refused (other)")
    return ", ".join(f"{kinds[k]} {k}" for k in order if kinds.get(k))


def print_attack(attack: dict[str, Any]) -> None:
    plan, runs, median = attack["plan"], attack["runs"], attack["median"]
    env = plan["cpu_seconds_env"]
    budget = f"CITEBOT_INGEST_CPU_SECONDS={env}" if env is not None else "default ingest budget"
    print(
        f"\n/ask in server B while server A's moderator uploads {plan['uploads']} hostile PDFs "
        f"at once ({plan['pdf_pages']} pages, {plan['pdf_bytes']:,} bytes each, /source add "
        f"file:); bot: citebot run, {budget} ({plan['budget_cpu_s']} s CPU, "
        f"{plan['budget_wall_s']:g} s wall); {attack['corpus']['passages']:,} passages"
    )
    print(
        f"B: {plan['members']} members ask {plan['rate_per_s']:g}/s (open loop), "
        f"{plan['window_s']:g} s idle then {plan['window_s']:g} s under attack, per run"
    )
    rows = []
    for r in runs:
        idle, hit = r["idle"], r["attack"]
        rows.append(
            [
                str(r["run"]) + (" (drained)" if r["drained"] else ""),
                f"{_ms(idle['answer_ms']['p50'])} / {_ms(idle['answer_ms']['p95'])}",
                f"{_ms(hit['answer_ms']['p50'])} / {_ms(hit['answer_ms']['p95'])}",
                "-" if r["p95_ratio"] is None else f"{r['p95_ratio']:.2f}x",
                f"{idle['answered_share']:.0%} / {hit['answered_share']:.0%}",
                f"{_share(idle['cpu_share']['bot'])} / {_share(hit['cpu_share']['bot'])}",
                _share(hit["cpu_share"]["parsers"]),
                f"{_share(idle['cpu_share']['other'])} / {_share(hit['cpu_share']['other'])}",
                _kinds(r["kinds"]),
                str(r["told_to_wait"]),
                "unchanged" if r["server_a_unchanged"] else "CHANGED",
            ]
        )
    rows.append(
        [
            "median",
            f"{_ms(median['idle_p50_ms'])} / {_ms(median['idle_p95_ms'])}",
            f"{_ms(median['attack_p50_ms'])} / {_ms(median['attack_p95_ms'])}",
            "-" if median["p95_ratio"] is None else f"{median['p95_ratio']:.2f}x",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ]
    )
    _table(
        rows,
        [
            "run",
            "idle p50/p95 ms",
            "attack p50/p95 ms",
            "p95 ratio",
            "answered",
            "CPU bot idle/att",
            "CPU parse",
            "CPU other idle/att",
            "uploads",
            "told to wait",
            "A's rows",
        ],
    )
    print(
        "answer: INTERACTION_CREATE sent -> answer visible (ms); ratio: attack p95 / idle p95 of "
        "the same run; CPU: share of one core (bot process; its parser processes; other "
        "people's processes on the machine)"
    )
    shown: set[str] = set()
    for r in runs:
        for o in r["uploads"]:
            for text in (o["wait_note"], o["message"]):
                key = re.sub(r"report\d+\.pdf|\d+ sources", "#", text or "")
                if text and key not in shown:
                    shown.add(key)
                    print(f"  {o['kind'] if text == o['message'] else 'queued'}: {text}")
        refused = [o["answered_after_ms"] for o in r["uploads"] if o["kind"] == "over budget"]
        print(
            f"  run {r['run']}: refused for the budget after "
            f"{', '.join(f'{t / 1000:.1f}' for t in refused if t is not None) or '-'} s; "
            f"budget in the messages {r['budget_in_refusals_s'] or '-'} s; A's rows "
            f"{r['server_a_before']['documents']} documents / "
            f"{r['server_a_before']['passages']} passages before, "
            f"{r['server_a_after']['documents']} / {r['server_a_after']['passages']} after; "
            f"bot stopped in {r['bot_stop_s']:.1f} s (exit {r['bot_exit_code']}), its "
            f"{r['parser_processes_at_stop']} parser processes gone "
            f"{r['parsers_gone_after_stop_s']:.1f} s later"
            + (f", {r['parsers_left']} STILL RUNNING" if r["parsers_left"] else "")
            + (f"; violations {r['violations']}" if r["violations"] else "")
        )
        wanted = plan["cpu_seconds_env"]
        if (
            wanted is not None
            and r["budget_in_refusals_s"]
            and wanted not in r["budget_in_refusals_s"]
        ):
            print(
                f"  WARNING: CITEBOT_INGEST_CPU_SECONDS={wanted} was set, but the bot's refusals "
                f"name {r['budget_in_refusals_s']} s: this bot does not read it"
            )
        noteworthy = _noteworthy(r.get("bot_stderr_tail", ""))
        if noteworthy:
            print("  the bot's stderr (last lines):")
            for line in noteworthy[-5:]:
                print(f"    {line}")
            if any(HEARTBEAT_RACE in line for line in noteworthy[-5:]):
                print(
                    '    ("websocket is ~41 s behind": discord.py times a heartbeat\'s ack from '
                    "its previous send when the ack, on 127.0.0.1, arrives before its heartbeat "
                    "thread notes the new send; not a stall: see the answer times)"
                )
    _print_scheduling(runs[0].get("scheduling") if runs else None)
    verdict = "PASS" if attack["pass"] else "FAIL"
    ratio = median["p95_ratio"]
    print(
        f"  {verdict}  /ask p95 in B under attack / idle: "
        f"{'-' if ratio is None else f'{ratio:.2f}x'} (median of {len(runs)} runs; target "
        f"<= {attack['target_ratio']:.1f}x); A's rows unchanged in every run: "
        f"{'yes' if attack['server_a_unchanged'] else 'NO'}; nothing added: "
        f"{'yes' if attack['nothing_added'] else 'NO'}"
    )


def _print_scheduling(sched: dict[str, Any] | None) -> None:
    if not sched or not sched.get("bot"):
        return
    bot = sched["bot"]
    parsers = [p for p in sched["parsers"] if p]
    groups = sorted({str(p["autogroup"]) for p in parsers})
    nices = sorted({p["nice"] for p in parsers})
    enabled = sched.get("autogroups_enabled")
    print(
        f"  scheduling at the end of run 1's attack window: bot nice {bot['nice']} in "
        f"{bot['autogroup']}; parser processes nice {nices or '-'} in {groups or '-'}; "
        f"autogroups {'on' if enabled else 'off' if enabled is False else 'unknown'}"
    )
    if enabled and any(group != bot["autogroup"] for group in groups):
        print(
            "  NOTE: with autogroups on, nice orders processes within one group only; the "
            "parser processes are in groups of their own (a new session each), so their nice "
            "19 gives the bot no priority over them"
        )
