"""The `citebot` command line: the engine from a terminal, no Discord token needed.

It parses arguments, calls the facade, and renders text, JSON or CSV. Errors a user can fix are
one line on stderr with a non-zero exit status, never a traceback. discord.py is not imported
here, so a question in the terminal starts fast.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sqlite3
import sys
import textwrap
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from retrieval.errors import HINT_LIST_SOURCES, Ambiguous, CitebotError, DuplicateSource
from retrieval.knowledge import MAX_K, MAX_QUERY_CHARS, KnowledgeBase
from retrieval.models import (
    Answer,
    Caller,
    DirectAnswer,
    FeedbackRow,
    Hit,
    QueryRecord,
    TopQuery,
)

if TYPE_CHECKING:
    from retrieval.gaps import Gap
    from retrieval.log_stats import LogStats
    from retrieval.reports import AddResult

DEFAULT_DB = "citebot.db"
DEFAULT_WIDTH = 100  # columns, when standard output is no terminal
MIN_WIDTH = 40
ARTICLE_SUFFIXES = frozenset({".txt", ".text", ".md", ".markdown", ".html", ".htm", ".pdf"})
EXIT_ERROR = 1
EXIT_USAGE = 2
# How long `ask --batch` waits for the compiled search before its first question: the first
# time after an install numba compiles it (12-25 s here), and questions asked meanwhile would
# be searched with numpy while the compiler takes a core.
BATCH_COMPILE_WAIT_S = 60.0
BATCH_CHUNK = 64  # questions searched together by `ask --batch` (see _chunks)
BATCH_READ_AHEAD = 1024  # lines `ask --batch` reads ahead of its answers
# A batch line longer than this is refused without being held whole: far above any question
# (MAX_QUERY_CHARS characters, however much white space around them), so only garbage is cut.
MAX_BATCH_LINE_BYTES = 65_536


class UsageError(Exception):
    """Bad arguments: reported like argparse's own errors."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: error: {message}")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _snowflake(text: str, what: str) -> int:
    """A Discord id (a positive 64-bit number, as SQLite stores it) or a usage error."""
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**63:
        raise argparse.ArgumentTypeError(f"{text!r} is not a Discord {what} id")
    return int(text)


def _guild(text: str) -> int:
    return _snowflake(text, "server")


def _user(text: str) -> int:
    return _snowflake(text, "user")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="citebot",
        description="Answers questions from a corpus of articles, with cited passages.",
    )
    parser.add_argument(
        "--db", help=f"database file (default: $CITEBOT_DB or ./{DEFAULT_DB})", default=None
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    scope = {
        "type": _guild,
        "default": None,
        "metavar": "ID",
        "help": "act as this Discord server sees the corpus (default: the global corpus)",
    }

    ask = sub.add_parser("ask", help="the best passages for a question, with citations")
    ask.add_argument("question", nargs="?", help="the question (not with --batch)")
    ask.add_argument("-k", type=_positive, default=3, help="how many passages (default 3)")
    ask.add_argument("--json", action="store_true", help="print JSON")
    ask.add_argument(
        "--batch",
        action="store_true",
        help="questions from standard input, one per line; one JSON line per answer",
    )
    ask.add_argument("--guild", **scope)

    summary = sub.add_parser("summary", help="the summary of one article")
    summary.add_argument("article", help="the article's id or a fragment of its title")
    summary.add_argument("--json", action="store_true")
    summary.add_argument("--guild", **scope)

    summaries = sub.add_parser("summaries", help="every article with its summary")
    summaries.add_argument("--json", action="store_true")
    summaries.add_argument("--guild", **scope)

    sources = sub.add_parser("sources", help="list, add or remove sources")
    actions = sources.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the sources in the corpus")
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--guild", **scope)
    add = actions.add_parser(
        "add", help="add web pages (URLs), files (.txt .md .html .pdf) or folders of them"
    )
    add.add_argument("items", nargs="+", metavar="PATH_OR_URL")
    add.add_argument("--title", help="use this title instead of the detected one (one source)")
    add.add_argument("--guild", **{**scope, "help": "add it to this server only"})
    remove = actions.add_parser("remove", help="remove a source by id")
    remove.add_argument("id", type=_positive)
    refresh = actions.add_parser(
        "refresh", help="fetch web pages and files again; replace what changed"
    )
    which = refresh.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", type=_positive)
    which.add_argument("--all", action="store_true", help="every source but the bundled ones")

    run = sub.add_parser(
        "run", help="start the Discord bot (DISCORD_TOKEN from the environment or .env)"
    )
    run.add_argument(
        "--shard-count",
        metavar="N",
        help="how many shards the bot has in all (past one process; $CITEBOT_SHARD_COUNT)",
    )
    run.add_argument(
        "--shard-ids",
        metavar="IDS",
        help="the shards this process runs, e.g. 0,1 (default: all; $CITEBOT_SHARD_IDS)",
    )

    logs = sub.add_parser(
        "logs",
        help="the query log",
        description="Read the query log (recent, top, unanswered, feedback), or delete from it: "
        "forget --user ID deletes a member's questions and votes (every server, or --guild's), "
        "purge --older-than DAYS deletes old questions.",
    )
    logs.add_argument(
        "view",
        nargs="?",
        default="recent",
        choices=("recent", "top", "unanswered", "feedback", "stats", "gaps", "forget", "purge"),
    )
    logs.add_argument("--days", type=_positive, default=7, help="stats: the period (default 7)")
    logs.add_argument("--png", metavar="FILE", help="stats: also draw the chart into FILE")
    logs.add_argument("--limit", type=_positive, default=20)
    logs.add_argument("--user", type=_user, help="forget: the Discord user id")
    logs.add_argument("--older-than", type=_positive, metavar="DAYS", help="purge: the age")
    fmt = logs.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")
    logs.add_argument("--guild", **{**scope, "help": "only this server's rows"})
    return parser


# -- rendering ---------------------------------------------------------------------------------


def _use_ansi(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ


def highlight(hit: Hit, ansi: bool) -> str:
    """The passage with query terms in bold in a terminal; plain text elsewhere (a pipe, a
    file, NO_COLOR), where markers would only be noise in what a program or a person reads."""
    if not ansi:
        return hit.text
    on, off = "\x1b[1m", "\x1b[0m"
    out, pos = [], 0
    for start, end in sorted(hit.highlights):
        if start < pos:
            continue
        out += [hit.text[pos:start], on, hit.text[start:end], off]
        pos = end
    out.append(hit.text[pos:])
    return "".join(out)


# What a terminal would act on rather than show: controls (escape sequences, carriage returns),
# bidi overrides and zero-width characters. Article text is a stranger's; the direct answer is
# printed first and alone, so it is shown as text only.
_UNPRINTABLE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]"
)
_SPACES = re.compile(r"\s+")


def _printable(text: str) -> str:
    """`text` on one line, without what a terminal would act on."""
    return _SPACES.sub(" ", _UNPRINTABLE.sub("", text))


def direct_line(direct: DirectAnswer, titles: dict[int, str], ansi: bool) -> str:
    """ "Answer: <sentence>" with the answer span emphasised (bold and underlined in a
    terminal; plain text elsewhere), then "from [rank] <title>"."""
    on, off = ("\x1b[1;4m", "\x1b[0m") if ansi else ("", "")
    text = direct.text
    if direct.span:
        start, end = direct.span
        sentence = (_printable(text[:start]) + on + _printable(text[start:end]) + off) + _printable(
            text[end:]
        )
    else:
        sentence = _printable(text)
    title = _printable(titles.get(direct.rank, "")).strip()
    source = f"from [{direct.rank}] {title}".rstrip()
    return f"{_wrap(f'Answer: {sentence.strip()}', hanging=' ' * 8)}\n{_wrap(source, '  ')}"


def searched_for_line(searched_for: Sequence[tuple[str, str]]) -> str:
    """What was searched instead of words the corpus does not know (typos)."""
    pairs = ", ".join(
        f'"{_printable(used)}" for "{_printable(typed)}"' for typed, used in searched_for
    )
    return _wrap(f"Searched for {pairs}.")


def _width() -> int:
    """Where lines wrap: the terminal's width (COLUMNS, else the terminal standard output is
    on), else 100 (a pipe, a file); never narrower than MIN_WIDTH."""
    import shutil

    return max(MIN_WIDTH, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)


def plural(count: int, noun: str) -> str:
    """ "1 passage", "2 passages"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _wrap(text: str, indent: str = "", hanging: str | None = None) -> str:
    # Hyphenated names (GPT-4o, cost-effective) must not be cut at the hyphen. An ANSI escape
    # counts as characters here: a line with emphasis may wrap a little early, never late.
    return textwrap.fill(
        text,
        width=_width(),
        initial_indent=indent,
        subsequent_indent=indent if hanging is None else hanging,
        break_on_hyphens=False,
        break_long_words=False,
    )


def render_answer(answer: Answer, ansi: bool) -> str:
    if not answer.answered:
        why = f" ({_printable(answer.reason)})" if answer.reason else ""
        return (
            f"No passage in the corpus answers {answer.query!r}{why}.\n"
            "Try other words, or add a source: citebot sources add FILE"
        )
    lines = []
    if answer.direct:  # the answer first, then what it was searched for, then the evidence
        titles = {h.rank: h.title for h in answer.hits}
        lines += [direct_line(answer.direct, titles, ansi), ""]
    if answer.searched_for:
        lines += [searched_for_line(answer.searched_for), ""]
    for hit in answer.hits:
        lines.append(
            _wrap(
                f"[{hit.rank}] {hit.title} — {hit.source}, paragraph {hit.paragraph} "
                f"(score {hit.score:.2f})",
                hanging="    ",
            )
        )
        for para in highlight(hit, ansi).split("\n"):
            lines.append(_wrap(para, "    "))
        lines.append("")
    lines.append(
        f"{plural(len(answer.hits), 'passage')} from "
        f"{plural(answer.articles_searched, 'article')} searched in {answer.latency_ms:.0f} ms"
    )
    return "\n".join(lines)


def _emit_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _emit_json_line(data: Any) -> None:
    """One object on one line, flushed: a program reading the batch gets each answer as soon
    as it is ready."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _render_logs(rows: Sequence[QueryRecord] | Sequence[TopQuery]) -> str:
    if not rows:
        return "The query log has no rows for this view yet."
    lines = []
    for row in rows:
        if isinstance(row, FeedbackRow):
            lines.append(
                f"#{row.query_id} +{row.helpful} -{row.not_helpful}  {row.query}  "
                f"(last vote {row.last_vote[:19]})"
            )
            lines += [f"    why not: {_printable(reason)}" for reason in row.reasons]
        elif isinstance(row, TopQuery):
            lines.append(
                f"{row.count:>5}×  {row.query}  (answered {row.answered}/{row.count}, "
                f"last {row.last_asked[:19]})"
            )
        else:
            mark = "answered" if row.answered else "UNANSWERED"
            where = f"guild {row.guild_id}" if row.guild_id else row.surface
            lines.append(
                f"#{row.id} {row.asked_at[:19]} [{where}] {mark} "
                f"{row.latency_ms:.0f} ms  {row.query}"
            )
    return "\n".join(lines)


# -- commands ----------------------------------------------------------------------------------


def _intake_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The fetch policy and the parser processes' budget, read from the environment, for the
    commands that read sources (`sources add` and `refresh`); the others never fetch or parse,
    and `citebot ask` must not pay for importing what does."""
    if args.command != "sources" or args.action not in ("add", "refresh"):
        return {}
    from retrieval.ingest import IngestQueue
    from retrieval.sandbox import Budget
    from retrieval.urls import FetchPolicy

    return {
        "fetch_policy": FetchPolicy.from_env(os.environ),
        "ingest": IngestQueue(Budget.from_env(os.environ)),
    }


async def _run(args: argparse.Namespace, db_path: str) -> int:
    async with await KnowledgeBase.open(db_path, **_intake_settings(args)) as kb:
        guild = getattr(args, "guild", None)
        if args.command == "ask":
            if args.k > MAX_K:
                raise CitebotError(f"-k must be at most {MAX_K}")
            if args.batch:
                await _ask_batch(kb, args.k, guild)
                return 0
            answer = await kb.ask(args.question, args.k, Caller.terminal(guild, "ask"))
            if args.json:
                _emit_json(answer.to_json())
            else:
                print(render_answer(answer, _use_ansi(sys.stdout)))
        elif args.command == "summary":
            summary = await kb.summary(args.article, guild)
            if args.json:
                _emit_json(summary.to_json())
            else:
                print(f"[{summary.doc_id}] {summary.title}\n{summary.source}\n")
                print(_wrap(summary.summary))
        elif args.command == "summaries":
            items = await kb.summaries(guild)
            if args.json:
                _emit_json([s.to_json() for s in items])
            else:
                for s in items:
                    print(f"[{s.doc_id}] {s.title}\n    {s.source}")
                    print(_wrap(s.summary, "    "))
                    print()
        elif args.command == "sources":
            await _sources(kb, args)
        elif args.command == "logs" and args.view == "stats":
            stats = await kb.log_stats(args.days, Caller.terminal(guild))
            if args.json:
                _emit_json(stats.to_json())
            else:
                print(render_stats(stats))
            if args.png:
                from retrieval.log_stats import chart_png

                data = await asyncio.to_thread(chart_png, stats)
                await asyncio.to_thread(Path(args.png).write_bytes, data)
        elif args.command == "logs" and args.view == "gaps":
            gaps = (await kb.log_gaps(Caller.terminal(guild)))[: args.limit]
            if args.json:
                _emit_json([g.to_json() for g in gaps])
            else:
                print(render_gaps(gaps))
        elif args.command == "logs" and args.view in ("forget", "purge"):
            caller = Caller.terminal(guild)
            where = f"in server {guild}" if guild else "in every server"
            if args.view == "forget":
                questions, votes = await kb.forget_member(args.user, caller)
                print(
                    f"deleted {plural(questions, 'question')} and {plural(votes, 'vote')} "
                    f"of user {args.user} {where}"
                )
            else:
                purged = await kb.purge_log(args.older_than, caller)
                age = f"older than {args.older_than} days"
                print(f"deleted {plural(purged, 'question')} {age} {where}")
        elif args.command == "logs":
            from retrieval.export import log_csv  # csv and friends: not for every command

            rows = await kb.query_log(args.view, args.limit, Caller.terminal(guild))
            if args.json:  # real arrays (hits, reasons), not JSON text inside JSON
                _emit_json([r.to_json() for r in rows])
            elif args.csv:
                kinds = {"top": TopQuery, "unanswered": TopQuery, "feedback": FeedbackRow}
                kind = kinds.get(args.view, QueryRecord)
                sys.stdout.write(log_csv(rows, kind))
            else:
                print(_render_logs(rows))
    return 0


def render_gaps(gaps: Sequence[Gap]) -> str:
    """Clusters of unanswered and not-helpful questions, one paragraph each."""
    if not gaps:
        return "No unanswered or not-helpful questions in the log."
    lines = []
    for n, gap in enumerate(gaps, 1):
        about = ", ".join(gap.terms) or "(no searchable words)"
        lines.append(
            f"{n}. {about}: {plural(gap.count, 'question')} "
            f"({gap.unanswered} unanswered, {gap.not_helpful} not helpful)"
        )
        lines += [f"   - {_printable(w)}" for w in gap.wordings]
    return "\n".join(lines)


def _share(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def render_stats(stats: LogStats) -> str:
    """The log's figures for a period against the one before, one line each."""
    now, then = stats.current, stats.previous

    def change(a: float | None, b: float | None, unit: str = "") -> str:
        if a is None or b is None:
            return ""
        return f" ({a - b:+.0f}{unit} on the {stats.days} days before)"

    ms = f"{now.median_ms:.0f} ms" if now.median_ms is not None else "-"
    lines = [
        f"Last {stats.days} days (since {stats.since.isoformat(timespec='minutes')}):",
        f"  questions      {now.questions}{change(now.questions, then.questions)}",
        f"  people asking  {now.askers}{change(now.askers, then.askers)}",
        f"  answered       {_share(now.answered_share)}"
        + change(_pct(now.answered_share), _pct(then.answered_share), " points"),
        f"  helpful        {_share(now.helpful_share)} of {plural(now.votes, 'vote')}"
        + change(_pct(now.helpful_share), _pct(then.helpful_share), " points"),
        f"  median answer  {ms}",
    ]
    return "\n".join(lines)


def _pct(value: float | None) -> float | None:
    return None if value is None else 100 * value


def batch_questions(stream: BinaryIO) -> Iterator[tuple[int, str | None, str]]:
    """(line number, question, "") for each line that is not blank, or (line number, None,
    what is wrong with it) for a line that cannot be a question.

    Lines are read at most MAX_BATCH_LINE_BYTES at a time, so a longer one (a file piped in by
    mistake) costs no more memory than that. Line numbers count blank lines too: they are the
    numbers an editor shows.
    """
    number = 0
    while raw := stream.readline(MAX_BATCH_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_BATCH_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = stream.readline(MAX_BATCH_LINE_BYTES)
            yield (
                number,
                None,
                f"the line is longer than {MAX_BATCH_LINE_BYTES:,} bytes; a question is at "
                f"most {MAX_QUERY_CHARS:,} characters",
            )
            continue
        if number == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")  # a byte order mark, as Windows editors write
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield number, None, "the line is not UTF-8 text; save the questions as UTF-8"
            continue
        if text.strip():
            yield number, text, ""


async def _ask_batch(kb: KnowledgeBase, k: int, guild: int | None) -> None:
    """`ask --batch`: every question of standard input in this one process and knowledge base,
    one JSON line each (the object `ask --json` prints). A line that is not a question gets
    {"line": n, "error": why} and the batch goes on; each answer is logged like a single ask."""
    if sys.stdin is None:
        raise CitebotError("--batch reads questions from standard input, and there is none")
    caller = Caller.terminal(guild, "ask")
    # Many questions: the compiled search, loaded before the first (same answers, each
    # search faster; if compiling after an install takes long, the first ones run on numpy);
    # a one-question ask stays on numpy, which needs no loading.
    # Only the search: a batch builds no segments, and compiling the build as well (the
    # first time after an install) took a core for tens of seconds while the questions ran:
    # search p95 1.06 ms against 0.42 with it already compiled.
    await kb.expect_many_questions(wait=BATCH_COMPILE_WAIT_S, build=False)
    kb.answer_inline()  # one caller: no engine thread to hand its questions to
    async for chunk in _chunks(batch_questions(_own_input())):
        answers = iter(await kb.ask_many([q for _, q, _ in chunk if q is not None], k, caller))
        for number, question, problem in chunk:
            if question is not None:
                answer = next(answers)
                if isinstance(answer, Answer):
                    _emit_json_line(answer.to_json())
                    continue
                problem = refusal(answer)
            _emit_json_line({"line": number, "error": problem})


def _own_input() -> BinaryIO:
    """Standard input for the batch's reader thread, opened again on its own descriptor: that
    thread may still be blocked in a read when the batch stops (Ctrl-C, a closed pipe), and
    holding the lock of `sys.stdin.buffer` it made the interpreter's shutdown abort ("could
    not acquire lock ... at interpreter shutdown"). Without a descriptor (a test's buffer),
    `sys.stdin.buffer` itself."""
    try:
        descriptor = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return sys.stdin.buffer
    return os.fdopen(os.dup(descriptor), "rb")


async def _chunks(
    lines: Iterator[tuple[int, str | None, str]],
) -> AsyncIterator[list[tuple[int, str | None, str]]]:
    """The batch's lines in chunks of what has been read already (at most BATCH_CHUNK): a
    file piped in is answered 64 questions at a time (searched together, see
    KnowledgeBase.ask_many), a person typing one line at a time gets each answer at once.

    Read in a daemon thread, at most BATCH_READ_AHEAD lines ahead: a slow writer on the pipe
    never stalls the event loop, and an interrupted batch does not wait for a line that may
    never come."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Queue[tuple[int, str | None, str] | None] = asyncio.Queue()
    room = threading.Semaphore(BATCH_READ_AHEAD)
    failed: list[Exception] = []

    def read() -> None:
        try:
            for item in lines:
                room.acquire()
                loop.call_soon_threadsafe(ready.put_nowait, item)
        except Exception as exc:  # raised on the loop, after the lines read before it
            failed.append(exc)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop closed: the batch was stopped
                loop.call_soon_threadsafe(ready.put_nowait, None)

    threading.Thread(target=read, name="citebot-batch-reader", daemon=True).start()
    ended = False
    while not ended:
        item = await ready.get()
        if item is None:
            break
        chunk = [item]
        while len(chunk) < BATCH_CHUNK and not ready.empty():
            item = ready.get_nowait()
            if item is None:
                ended = True
                break
            chunk.append(item)
        for _ in chunk:
            room.release()
        yield chunk
    if failed:
        raise failed[0]


async def _sources(kb: KnowledgeBase, args: argparse.Namespace) -> None:
    if args.action == "list":
        sources = await kb.list_sources(args.guild)
        if args.json:
            _emit_json([s.to_json() for s in sources])
            return
        for s in sources:
            scope = "bundled" if s.bundled else (f"guild {s.guild_id}" if s.guild_id else "global")
            passages = plural(s.passages, "passage")
            print(f"[{s.doc_id}] {s.title}\n    {s.source} · {passages} · {scope}")
        print(plural(len(sources), "source"))
    else:
        try:
            await _change(kb, args)
        except (CitebotError, _Failed):
            await kb.settle_index()  # what did change (a folder's other files) is indexed too
            raise
        await kb.settle_index()


async def _change(kb: KnowledgeBase, args: argparse.Namespace) -> None:
    """`sources add`, `remove` or `refresh`. The caller then settles the index (brought up to
    date, merged, saved), so the next `citebot ask` opens it as it is, and segments do not pile
    up across terminal commands that each exit before a background merge would end."""
    if args.action == "add":
        await _add(kb, args)
    elif args.action == "remove":
        removed = await kb.remove_source(args.id, Caller.terminal())
        print(f"Removed [{removed.doc_id}] {removed.title}")
    elif args.action == "refresh":
        results = await kb.refresh(None if args.all else args.id, Caller.terminal())
        counts: dict[str, int] = {}
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
            detail = f": {r.detail}" if r.detail else ""
            print(f"{r.status} [{r.source.doc_id}] {r.source.title}{detail}")
        order = ("changed", "unchanged", "skipped", "failed")
        print(", ".join(f"{counts.get(k, 0)} {k}" for k in order))
        if counts.get("failed"):
            raise _Failed


class _Failed(Exception):
    """Some items of a batch failed; each was reported already (exit status 1)."""


def _is_url(item: str) -> bool:
    return "://" in item


def _files_under(folder: Path) -> list[Path]:
    """`sorted(p for p in folder.rglob("*") if p.is_file())`, reading each folder once with
    os.scandir (whose entries know whether they are files) instead of twice and a stat per
    file: the folders inside it, not those behind a symbolic link, and files or links to them.
    """
    found: list[Path] = []
    pending = [folder]
    while pending:
        here = pending.pop()
        try:
            with os.scandir(here) as scan:
                entries = list(scan)
        except PermissionError:
            continue
        for entry in entries:
            path = here / entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(path)
                elif entry.is_file():
                    found.append(path)
            except OSError:
                continue
    return sorted(found, key=lambda p: p.parts)


def expand(items: Sequence[str]) -> tuple[list[str], int]:
    """URLs and files to add, folders expanded to the article files inside them (recursively);
    also how many other files the folders held."""
    out: list[str] = []
    ignored = 0
    for item in items:
        path = Path(item)
        if not _is_url(item) and path.is_dir():
            for child in _files_under(path):
                if child.name.startswith(".") or child.suffix.lower() not in ARTICLE_SUFFIXES:
                    ignored += 1
                    continue
                out.append(str(child))
        else:
            out.append(item)
    return out, ignored


async def _add_one(kb: KnowledgeBase, item: str, title: str | None, caller: Caller) -> AddResult:
    if _is_url(item):
        return await kb.add_url(
            item, title=title, guild_id=caller.guild_id, added_by=caller.added_by
        )
    return await kb.add_file(Path(item), caller=caller, title=title)


async def _outcomes(
    kb: KnowledgeBase, items: Sequence[str], caller: Caller
) -> AsyncIterator[tuple[str, AddResult | CitebotError]]:
    """Each item's result or refusal, in order: web pages one at a time, each run of files
    together (read in batches by parallel parser processes, written a batch at a time)."""
    files: list[str] = []
    for item in [*items, None]:  # None: the end, after the last run of files
        if item is not None and not _is_url(item):
            files.append(item)
            continue
        if files:
            given = iter(files)  # each outcome is named as its item was given
            async for _, outcome in kb.add_files([Path(f) for f in files], caller=caller):
                yield next(given), outcome
            files = []
        if item is not None:
            try:
                yield item, await _add_one(kb, item, None, caller)
            except CitebotError as exc:
                yield item, exc


async def _add(kb: KnowledgeBase, args: argparse.Namespace) -> None:
    items, ignored = expand(args.items)
    if args.title and len(items) != 1:
        raise CitebotError("--title applies to one source at a time")
    if not items:
        raise CitebotError("nothing to add: the folder holds no .txt, .md, .html or .pdf files")
    if len(items) == 1:
        result = await _add_one(kb, items[0], args.title, Caller.terminal(args.guild))
        s = result.source
        print(f"Added [{s.doc_id}] {s.title} ({plural(result.passages, 'passage')})")
        print(_wrap(f"Summary: {result.summary}"))
        return
    added = skipped = failed = 0
    with _progress(len(items)) as advance:
        async for item, outcome in _outcomes(kb, items, Caller.terminal(args.guild)):
            if isinstance(outcome, DuplicateSource):
                skipped += 1
                print(f"skipped {item}: {outcome}")
            elif isinstance(outcome, CitebotError):
                failed += 1
                print(f"failed {item}: {outcome}")
            else:
                added += 1
                s = outcome.source
                print(f"added [{s.doc_id}] {s.title} ({plural(outcome.passages, 'passage')})")
            advance()
    summary = f"{added} added, {skipped} skipped as duplicates, {failed} failed"
    if ignored:
        summary += f"; {plural(ignored, 'other file')} in the folders ignored"
    print(summary)
    if failed:
        raise _Failed


@contextlib.contextmanager
def _progress(total: int) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr when it is a terminal; nothing otherwise (logs, pipes)."""
    if not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("adding sources", total=total)
        yield lambda: progress.advance(task)


_HINTS = {HINT_LIST_SOURCES: "`citebot sources list` shows them"}


def refusal(exc: CitebotError) -> str:
    """A refusal as the terminal shows it, with the command-line form of its hint."""
    hint = _HINTS.get(exc.hint or "")
    return f"{exc}; {hint}" if hint else str(exc)


def _check_ask(args: argparse.Namespace) -> None:
    """`ask` takes its question as an argument or, with --batch, from standard input; `logs
    forget` needs --user and `logs purge` --older-than."""
    if args.command == "logs":
        if args.view == "forget" and args.user is None:
            raise UsageError("citebot logs: error: forget needs --user ID")
        if args.view == "purge" and args.older_than is None:
            raise UsageError("citebot logs: error: purge needs --older-than DAYS")
        if args.csv and args.view in ("stats", "gaps", "forget", "purge"):
            raise UsageError(
                f"citebot logs: error: {args.view} has no CSV form; --csv is for recent, top, "
                "unanswered and feedback"
                + (" (use --json)" if args.view in ("stats", "gaps") else "")
            )
        if args.json and args.view in ("forget", "purge"):
            raise UsageError(f"citebot logs: error: {args.view} prints one line; drop --json")
        return
    if args.command != "ask":
        return
    if args.batch and args.question is not None:
        raise UsageError(
            "citebot ask: error: --batch reads the questions from standard input; "
            "give no question argument"
        )
    if not args.batch and args.question is None:
        raise UsageError("citebot ask: error: the following arguments are required: question")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `citebot` and `python -m bot`; returns the exit status."""
    from bot import logsetup  # the same set-up as `citebot run`: no question text below opt-in

    logsetup.configure(os.environ, default="WARNING")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        _check_ask(args)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    if args.command == "run":
        from bot.launcher import run  # discord.py is imported only for this command

        if args.db:
            os.environ["CITEBOT_DB"] = args.db
        if args.shard_count is not None:
            os.environ["CITEBOT_SHARD_COUNT"] = args.shard_count
        if args.shard_ids is not None:
            os.environ["CITEBOT_SHARD_IDS"] = args.shard_ids
        return run()
    db_path = args.db or os.environ.get("CITEBOT_DB") or DEFAULT_DB
    try:
        return asyncio.run(_run(args, db_path))
    except _Failed:
        return EXIT_ERROR
    except Ambiguous as exc:
        print(f"citebot: error: {exc}", file=sys.stderr)
        for doc_id, title in exc.candidates:
            print(f"  [{doc_id}] {title}", file=sys.stderr)
        return EXIT_ERROR
    except CitebotError as exc:
        print(f"citebot: error: {refusal(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # The reader went away (`citebot ... | head`): stop quietly, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except sqlite3.Error as exc:
        print(f"citebot: error: cannot use the database {db_path}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"citebot: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from retrieval.backends import is_postgres, shown_address

        if is_postgres(db_path) and _is_database_error(exc):  # a server's refusal: one line
            shown = shown_address(db_path)
            print(f"citebot: error: cannot use the database {shown}: {exc}", file=sys.stderr)
            return EXIT_ERROR
        if os.environ.get("CITEBOT_DEBUG"):
            raise
        print(
            f"citebot: unexpected error ({type(exc).__name__}: {exc}); "
            "set CITEBOT_DEBUG=1 to see the traceback",
            file=sys.stderr,
        )
        return EXIT_ERROR


def _is_database_error(exc: BaseException) -> bool:
    """A PostgreSQL server's refusal, or no server there: said in one line, as SQLite's."""
    import asyncpg

    return isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError)


def run_console() -> None:
    """Console-script wrapper: exit with main()'s status, without tearing the interpreter down
    (`finish`)."""
    finish(main())


def finish(status: int) -> None:
    """End the process with `status` once the command is done: the exit handlers run (the
    parser processes stop, logs flush) and standard output is flushed, then the process ends
    without freeing every module and object one by one. That teardown took 40-50 ms more
    than the work of `citebot ask` on a 100k-passage corpus (numpy, the index, the caches),
    a tenth of the whole command. Only when no other thread still runs (a thread that is
    not a daemon must finish first): otherwise the usual exit, which waits for it."""
    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon for t in threading.enumerate()):
        sys.exit(status)
    import atexit

    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):  # the reader went away (`| head`), as in main()
        status = status or 141
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(status)
