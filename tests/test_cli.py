"""The `citebot` command line, through its real entry function and as a real process."""

import csv
import io
import json
import os
import pty
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import row_counts, table_dump

ROOT = Path(__file__).resolve().parent.parent
SPEND = "How much money did DeepSeek spend developing its model?"


def test_ask_prints_numbered_cited_passages_with_terms_highlighted(cli):
    result = cli("ask", SPEND)
    assert result.code == 0, result.err
    # The direct answer comes first; then the passages as evidence. Not a terminal: plain
    # text, no emphasis markers (a terminal gets ANSI: see the pseudo-terminal test).
    assert result.out.startswith(
        "Answer: DeepSeek reportedly spent only $5.6 million to develop its version 3 "
        "model.\n  from [1] China's AI Leap: DeepSeek Challenges US Dominance\n\n"
        "[1] China's AI Leap: DeepSeek Challenges US Dominance"
    )
    assert "seeds/002_2d5ac121eab98ad0.txt, paragraph 2" in result.out
    assert "**" not in result.out and "\x1b" not in result.out
    # The third passage shares only "DeepSeek" with the question: left out, not padded in.
    assert "[2] " in result.out and "[3] " not in result.out
    assert result.out.rstrip().endswith(" ms") and "\n2 passages from 5 articles searched in " in (
        result.out
    )


def test_one_passage_is_one_passage_and_lines_fit_the_terminal(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    result = cli("ask", SPEND, "-k", "1")
    assert result.code == 0, result.err
    assert "\n1 passage from 5 articles searched in " in result.out
    lines = result.out.splitlines()
    assert max(map(len, lines)) <= 60 and max(map(len, lines)) > 50
    monkeypatch.setenv("COLUMNS", "160")
    wide = cli("ask", SPEND, "-k", "1").out.splitlines()
    assert max(map(len, wide)) > 60 and len(wide) < len(lines)


def test_ask_json_has_exactly_the_documented_shape(cli):
    result = cli("ask", "Which GPUs did DeepSeek rely on?", "-k", "2", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert set(data) == {
        "query",
        "answered",
        "confidence",
        "reason",
        "searched_for",
        "latency_ms",
        "search_ms",
        "answer_sentence",
        "hits",
    }
    assert 0 < data["confidence"] <= 1 and data["reason"] and data["searched_for"] == []
    assert 0 < data["search_ms"] <= data["latency_ms"]
    assert data["answered"] is True and data["query"] == "Which GPUs did DeepSeek rely on?"
    assert [h["rank"] for h in data["hits"]] == [1, 2]
    for hit in data["hits"]:
        assert set(hit) == {"rank", "doc_id", "title", "source", "paragraph", "text", "score"}
        assert hit["source"].startswith("seeds/") and hit["score"] > 0
    assert any("H800" in h["text"] for h in data["hits"])


def test_ask_json_carries_the_answer_sentence_and_its_passage(cli):
    result = cli("ask", "what day did deepseek release the r1 model", "--json")
    assert result.code == 0, result.err
    sentence = json.loads(result.out)["answer_sentence"]
    assert set(sentence) == {"text", "rank", "passage_id", "span", "span_text"}
    assert sentence["text"].startswith("By releasing its R1 model on January 20, 2025—the same")
    start, end = sentence["span"]
    assert sentence["text"][start:end] == sentence["span_text"] == "January 20, 2025"
    hit = json.loads(result.out)["hits"][sentence["rank"] - 1]
    assert sentence["text"] in hit["text"]
    assert hit["source"] == "seeds/003_7edf549026a98687.txt"


def test_out_of_corpus_question_says_so_plainly(cli):
    result = cli("ask", "How do I bake sourdough bread at home?")
    assert result.code == 0
    assert result.out.startswith("No passage in the corpus answers")
    assert "Answer:" not in result.out
    data = json.loads(cli("ask", "best sourdough bread recipe", "--json").out)
    assert data["answered"] is False and data["hits"] == []
    assert data["answer_sentence"] is None


def test_the_answer_line_shows_an_article_as_text_only(cli, tmp_path):
    note = tmp_path / "robots.txt"
    note.write_text(
        "Robots.\n\nThe Ferncliff warehouse robots were installed on \u202e March 3, 2021 by "
        "the\u200b operations team,\u2028according to the plant manager.\n",
        encoding="utf-8",
    )
    assert cli("sources", "add", str(note)).code == 0
    result = cli("ask", "when were the ferncliff robots installed")
    # Direction overrides, zero-width characters and line separators are gone from the line.
    assert result.out.startswith(
        "Answer: The Ferncliff warehouse robots were installed on March 3, 2021 by the "
        "operations team,\n        according to the plant manager.\n  from [1] Robots\n"
    )


def test_every_ask_is_logged_and_the_log_has_three_views(cli, db_path):
    cli("ask", SPEND)
    cli("ask", SPEND.upper())
    cli("ask", "weather forecast for Paris tomorrow")
    recent = json.loads(cli("logs", "--json").out)
    assert [r["query"] for r in recent][:1] == ["weather forecast for Paris tomorrow"]
    assert len(recent) == 3
    first = recent[-1]
    assert first["surface"] == "cli" and first["command"] == "ask" and first["answered"] is True
    assert first["guild_id"] is None and first["latency_ms"] > 0
    assert len(first["hits"]) == 2  # an array (as printed: the floor left out the third)
    assert all(isinstance(pair, list) and len(pair) == 2 for pair in first["hits"])
    top = json.loads(cli("logs", "top", "--json").out)
    assert top[0]["count"] == 2 and top[0]["answered"] == 2
    unanswered = json.loads(cli("logs", "unanswered", "--json").out)
    assert [r["query"] for r in unanswered] == ["weather forecast for Paris tomorrow"]
    text = cli("logs", "unanswered").out
    assert "(answered 0/1, last " in text and "weather forecast" in text
    rows = list(csv.DictReader(io.StringIO(cli("logs", "recent", "--csv", "--limit", "2").out)))
    assert len(rows) == 2 and rows[0]["query"] == "weather forecast for Paris tomorrow"
    assert row_counts(db_path)["queries"] == 3


def test_summary_by_id_and_by_title_fragment(cli):
    by_id = cli("summary", "3")
    assert by_id.code == 0
    assert by_id.out.startswith("[3] China's AI Leap: DeepSeek Challenges US Dominance")
    assert "$5.6 million" in by_id.out
    by_title = json.loads(cli("summary", "catalyst for global", "--json").out)
    assert by_title["doc_id"] == 5 and by_title["source"] == "seeds/004_ab7033b5b594e830.txt"
    assert set(by_title) == {"doc_id", "title", "source", "summary"}


def test_ambiguous_title_lists_the_candidates(cli):
    result = cli("summary", "China")
    assert result.code == 1
    assert "'China' matches 2 articles" in result.err
    assert "[3] China's AI Leap" in result.err and "[5] China's DeepSeek R1" in result.err


def test_summaries_json_lists_every_article(cli):
    data = json.loads(cli("summaries", "--json").out)
    assert [d["doc_id"] for d in data] == [1, 2, 3, 4, 5]
    assert all(set(d) == {"doc_id", "title", "source", "summary"} for d in data)
    assert all(len(d["summary"]) > 100 for d in data)
    assert "Silicon Valley" in cli("summaries").out


def test_sources_add_list_and_remove(cli, tmp_path):
    note = tmp_path / "chips.md"
    note.write_text(
        "# Export rules for accelerators\n\nThe **Blackwell** export rule caps what the "
        "[Commerce Department](https://example.org) lets vendors ship abroad. Vendors "
        "redesigned their parts to stay under the performance threshold set by the rule.\n",
        encoding="utf-8",
    )
    added = cli("sources", "add", str(note))
    assert added.code == 0, added.err
    assert added.out.startswith("Added [6] Export rules for accelerators (1 passage)")
    listing = json.loads(cli("sources", "list", "--json").out)
    assert listing[-1]["title"] == "Export rules for accelerators"
    assert listing[-1]["source"] == str(note) and listing[-1]["kind"] == "file"
    hit = json.loads(cli("ask", "Blackwell export threshold", "--json").out)["hits"][0]
    assert hit["doc_id"] == 6 and "Commerce Department lets vendors" in hit["text"]
    assert cli("sources", "remove", "6").out.startswith("Removed [6] Export rules")
    gone = json.loads(cli("ask", "Blackwell export threshold", "--json").out)
    assert gone["answered"] is False


def test_text_in_other_encodings_is_decoded(cli, tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("Le modèle a coûté très peu, selon les rapports.".encode("latin-1"))
    result = cli("sources", "add", str(path))
    assert result.code == 0, result.err
    assert "Added [6] Le modèle a coûté très peu" in result.out


def test_add_with_title_override(cli, tmp_path):
    note = tmp_path / "plain.txt"
    note.write_text("Mistral released a reasoning model for European users this spring.\n")
    result = cli("sources", "add", str(note), "--title", "Mistral's reasoning model")
    assert "Added [6] Mistral's reasoning model" in result.out


def _bad(tmp_path: Path, kind: str) -> list[str]:
    if kind == "binary":
        path = tmp_path / "image.txt"
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
        return ["sources", "add", str(path)]
    if kind == "undecodable":
        path = tmp_path / "noise.txt"
        path.write_bytes(bytes(range(128, 256)) * 8)
        return ["sources", "add", str(path)]
    if kind == "broken-pdf":
        path = tmp_path / "report.pdf"
        path.write_bytes(b"%PDF-1.4 fake")
        return ["sources", "add", str(path)]
    if kind == "wrong-type":
        path = tmp_path / "slides.pptx"
        path.write_bytes(b"PK\x03\x04" + b"\0" * 64)
        return ["sources", "add", str(path)]
    if kind == "empty-file":
        path = tmp_path / "empty.md"
        path.write_text("  \n\n")
        return ["sources", "add", str(path)]
    if kind == "duplicate":
        path = tmp_path / "copy.txt"
        shutil.copy(ROOT / "seeds" / "002_2d5ac121eab98ad0.txt", path)
        return ["sources", "add", str(path)]
    raise AssertionError(kind)


BAD_INPUT = {
    "empty query": (["ask", ""], "the question is empty"),
    "blank query": (["ask", "   \t "], "the question is empty"),
    "long query": (["ask", "why " * 300], "the limit is 1,000"),
    "unknown article": (["summary", "bread recipes"], "no article title contains"),
    "unknown id": (["summary", "99"], "no article with id 99"),
    "missing file": (["sources", "add", "/nonexistent/notes.txt"], "no such file"),
    "remove unknown": (["sources", "remove", "42"], "no source with id 42"),
    "remove bundled": (["sources", "remove", "1"], "part of the bundled corpus"),
    "k too large": (["ask", "DeepSeek", "-k", "500"], "at most 20"),
    "binary": ("binary", "image.txt is an image (PNG), not an article"),
    "undecodable": ("undecodable", "is not text in a known encoding"),
    "broken-pdf": ("broken-pdf", "report.pdf is not a readable PDF"),
    "wrong-type": ("wrong-type", "slides.pptx is a ZIP archive"),
    "empty-file": ("empty-file", "is empty"),
    "duplicate": ("duplicate", "already source [3] \"China's AI Leap"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_gets_one_line_and_leaves_the_database_exactly_as_it_was(
    case, cli, db_path, tmp_path
):
    args, message = BAD_INPUT[case]
    if isinstance(args, str):
        args = _bad(tmp_path, args)
    cli("ask", "warm up the database")
    before = table_dump(db_path)
    result = cli(*args)
    assert result.code != 0
    assert result.out == ""
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert result.err.startswith("citebot: error: ") and message in result.err
    assert "Traceback" not in result.err
    assert table_dump(db_path) == before


def test_usage_errors_exit_2_without_traceback(cli):
    result = cli("ask")
    assert result.code == 2
    assert "the following arguments are required: question" in result.err
    assert cli("logs", "--limit", "zero").code == 2
    huge = cli("ask", "DeepSeek", "--guild", "99999999999999999999")
    assert huge.code == 2 and "is not a Discord server id" in huge.err


def test_an_empty_log_level_setting_counts_as_unset(cli, monkeypatch):
    monkeypatch.setenv("CITEBOT_LOG_LEVEL", "")
    assert cli("sources", "list").code == 0


def test_hostile_query_text_is_searched_as_text(cli, db_path):
    result = cli("ask", "'); DROP TABLE documents; -- \u202e\u200b", "--json")
    assert result.code == 0
    assert json.loads(result.out)["answered"] is False
    assert row_counts(db_path)["documents"] == 5


def test_unreadable_database_is_one_clear_line(cli, tmp_path, monkeypatch):
    bogus = tmp_path / "not-a-db.db"
    bogus.write_bytes(b"this is not sqlite" * 100)
    monkeypatch.setenv("CITEBOT_DB", str(bogus))
    result = cli("ask", "DeepSeek")
    assert result.code == 1
    assert result.err.startswith(f"citebot: error: cannot use the database {bogus}")


def _process(args: list[str], db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CITEBOT_DB": str(db), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        args, capture_output=True, text=True, env=env, cwd=db.parent, timeout=60, check=False
    )


def test_python_dash_m_bot_is_the_same_program(db_path):
    done = _process([sys.executable, "-m", "bot", "ask", SPEND, "-k", "1", "--json"], db_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["hits"][0]["source"] == "seeds/002_2d5ac121eab98ad0.txt"
    failed = _process([sys.executable, "-m", "bot", "ask", " "], db_path)
    assert failed.returncode == 1 and failed.stderr.count("\n") == 1


def test_in_a_terminal_the_answer_span_is_bold_and_underlined(db_path):
    """A real process on a pseudo-terminal: the span gets ANSI emphasis, and NO_COLOR drops it
    (plain text, no markers either)."""
    args = [sys.executable, "-m", "bot", "ask", "what day did deepseek release the r1 model"]
    spans = ("\x1b[1;4mJanuary 20, 2025\x1b[0m", "model on January 20, 2025—")
    for no_color, expected in ((False, spans[0]), (True, spans[1])):
        leader, follower = pty.openpty()
        env = {**os.environ, "CITEBOT_DB": str(db_path), "PYTHONPATH": str(ROOT)}
        env.pop("NO_COLOR", None)
        if no_color:
            env["NO_COLOR"] = "1"
        with subprocess.Popen(
            args, stdout=follower, stderr=subprocess.PIPE, env=env, cwd=db_path.parent
        ) as process:
            os.close(follower)
            output = b""
            while chunk := _read_pty(leader):
                output += chunk
            assert process.wait(timeout=60) == 0, process.stderr.read()
        os.close(leader)
        text = output.decode()
        first = text.splitlines()[0]
        assert first.startswith("Answer: By releasing its R1 model on ") and expected in first
        # The passages' matched terms: bold in the terminal; nothing with NO_COLOR.
        assert ("\x1b[1mR1\x1b[0m" in text) is not no_color
        assert "**" not in text and ("\x1b" in text) is not no_color


def _read_pty(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # the process closed the terminal
        return b""


def test_the_command_line_does_not_import_discord(db_path):
    code = (
        "import sys; from bot.cli import main; main(['sources','list']); "
        "print('discord' in sys.modules)"
    )
    done = _process([sys.executable, "-c", code], db_path)
    assert done.stdout.strip().endswith("False"), done.stderr


# What `citebot ask` has no use for: the bot, fetching and reading sources (the intake, the
# parser processes' queue and budget, the URL rules), the log's CSV, the spelling engine whose
# word list it reads.
NOT_FOR_ASK = {
    "discord",
    "trafilatura",
    "aiohttp",
    "yarl",
    "pypdf",
    "charset_normalizer",
    "lxml",
    "rich",
    "csv",
    "symspellpy",  # its word list is read, its spelling engine is not used
    "retrieval.fetch",
    "retrieval.extract",
    "retrieval.documents",
    "retrieval.ingest_jobs",
    "retrieval.summarize",
    "retrieval.export",
    "retrieval.intake",
    "retrieval.ingest",
    "retrieval.sandbox",
    "retrieval.parser_host",
    "retrieval.files",
    "retrieval.urls",
    "retrieval.cleaning",
    "retrieval.reports",  # summaries and what adding or refreshing a source reports
    "importlib.resources",
    "numba",  # the compiled search: for processes that answer many questions
    "rapidfuzz",  # edit distances: only for a word the corpus lacks
    "uuid",  # segment names: os.urandom
    "retrieval.compiled",
    "retrieval.building",  # the compiled build: for processes that loaded the compiled search
}


def test_ask_imports_only_what_answering_uses(cli, db_path):
    assert cli("sources", "list").code == 0  # the bundled corpus is added (that reads files)
    done = _process(
        [sys.executable, "-X", "importtime", "-m", "bot", "ask", "when was R1 released"], db_path
    )
    assert done.returncode == 0
    assert "January 20, 2025" in done.stdout
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert {"numpy", "retrieval.index", "retrieval.rerank"} <= imported  # the list is real
    assert {m for m in imported if m in NOT_FOR_ASK or m.split(".")[0] in NOT_FOR_ASK} == set()


def test_the_ingest_limits_are_read_by_the_commands_that_read_sources(cli, monkeypatch, tmp_path):
    """A question reads no source, so a bad parser budget in the environment does not stop it
    (nor make it import the ingest pipeline to check); adding a source is refused with why."""
    monkeypatch.setenv("CITEBOT_INGEST_CPU_SECONDS", "lots")
    asked = cli("ask", SPEND)
    assert asked.code == 0, asked.err
    assert "$5.6 million" in asked.out
    note = tmp_path / "note.md"
    note.write_text("# Ridge note\n\nThe kestrel count on the ridge was 42 this spring.\n")
    added = cli("sources", "add", str(note))
    assert added.code == 1
    assert added.err == (
        "citebot: error: CITEBOT_INGEST_CPU_SECONDS must be a positive whole number, not 'lots'\n"
    )
    assert "kestrel" not in cli("sources", "list").out


CONSOLE_SCRIPT = shutil.which("citebot", path=str(Path(sys.executable).parent)) or shutil.which(
    "citebot"
)


@pytest.mark.skipif(CONSOLE_SCRIPT is None, reason="citebot is not installed in this environment")
def test_citebot_console_script(db_path):
    done = _process([str(CONSOLE_SCRIPT), "ask", SPEND, "-k", "1"], db_path)
    assert done.returncode == 0, done.stderr
    assert "$5.6 million" in done.stdout


def test_a_typo_is_searched_as_the_corpus_spells_it_and_the_cli_says_so(cli):
    result = cli("ask", "How much money did DeepSeek spnd developing its model?")
    assert result.code == 0, result.err
    # The answer first, then what was searched instead, then the passages.
    assert result.out.startswith("Answer: DeepSeek reportedly spent only $5.6 million")
    head, searched, _ = result.out.partition('\n\nSearched for "spent" for "spnd".\n\n[1] ')
    assert searched and "\n  from [1] " in head
    data = json.loads(cli("ask", "How much did DeepSeek spnd on V3?", "--json").out)
    assert data["searched_for"] == [{"typed": "spnd", "searched": "spent"}]


def test_a_refusal_says_why(cli):
    result = cli("ask", "What is the capital of France?")
    assert result.out.startswith(
        "No passage in the corpus answers 'What is the capital of France?' ("
    )
    data = json.loads(cli("ask", "What is the capital of France?", "--json").out)
    assert data["answered"] is False and data["reason"] and data["answer_sentence"] is None


# -- ask --batch --------------------------------------------------------------------------------

BATCH = [
    "what day did deepseek release the r1 model",
    "",  # blank: skipped, no output
    "\u200b\u200b",  # empty once cleaned
    SPEND,
    "why " * 300,  # over the 1,000-character limit
    "What is the capital of France?",
    "Which GPUs did DeepSeek rely on?",
]


def _without_timings(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k not in ("latency_ms", "search_ms")}


def test_ask_batch_answers_every_line_in_one_process_and_reports_bad_lines(db_path):
    # The last line has no newline: it is a question all the same.
    stdin = "\n".join(BATCH).encode() + b"\n\xff\xfe not text\nWho founded DeepSeek?"
    env = {**os.environ, "CITEBOT_DB": str(db_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--batch"],
        input=stdin,
        capture_output=True,
        env=env,
        cwd=db_path.parent,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    lines = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [line.get("query") or line["line"] for line in lines] == [
        BATCH[0],
        3,
        SPEND,
        5,
        "What is the capital of France?",
        "Which GPUs did DeepSeek rely on?",
        8,
        "Who founded DeepSeek?",
    ]
    assert lines[1] == {"line": 3, "error": lines[1]["error"]}
    assert lines[1]["error"].startswith("the question is empty")
    assert lines[3]["error"] == "the question is 1,199 characters long; the limit is 1,000"
    assert lines[6]["error"] == "the line is not UTF-8 text; save the questions as UTF-8"
    assert lines[0]["answer_sentence"]["span_text"] == "January 20, 2025"
    assert lines[4]["answered"] is False and lines[4]["hits"] == []
    # One log row per question answered or refused, in order; none for the bad lines.
    answers = [line for line in lines if "query" in line]
    with sqlite3.connect(db_path) as con:
        logged = con.execute(
            "SELECT query, answered, surface, command, guild_id FROM queries ORDER BY id"
        ).fetchall()
    assert logged == [(a["query"], int(a["answered"]), "cli", "ask", None) for a in answers]
    # Each answer is the object `ask --json` prints for that one question.
    for answer in (answers[0], answers[3]):
        single = _process([sys.executable, "-m", "bot", "ask", answer["query"], "--json"], db_path)
        assert _without_timings(json.loads(single.stdout)) == _without_timings(answer)


def test_ask_batch_loads_the_compiled_search_and_not_the_compiled_build(db_path):
    # A batch only searches. Loading the compiled build as well meant, the first time after
    # an install, numba compiling it in a thread of the batch for tens of seconds of CPU
    # while every question's search was timed.
    script = (
        "import sys\n"
        "from bot.cli import main\n"
        "status = main(['ask', '--batch'])\n"
        "import retrieval.index as index\n"
        "building = sys.modules.get('retrieval.building')\n"
        "print(status, index._compiled is not None, getattr(building, '_warming', None))\n"
    )
    env = {**os.environ, "CITEBOT_DB": str(db_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=f"{SPEND}\n".encode(),
        capture_output=True,
        env=env,
        cwd=db_path.parent,
        timeout=300,  # a hang guard: compiling the search after a change takes a while
        check=False,
    )
    answer, status = done.stdout.decode().splitlines()
    assert "$5.6 million" in json.loads(answer)["hits"][0]["text"]
    assert status == "0 True None"  # the compiled build never started loading


def test_ask_batch_answers_past_a_chunk_in_order_like_one_by_one(cli, stdin, db_path):
    # 150 lines: more than one chunk of questions searched together, with refusals and bad
    # lines at and around the chunks' edges. Every answer is the one a single ask gives.
    questions = ["Which GPUs did DeepSeek rely on?", SPEND, "What is the capital of France?"]
    lines = [questions[n % 3] for n in range(150)]
    for n in (0, 63, 64, 65, 127, 149):
        lines[n] = " "  # blank once cleaned: skipped
    for n in (1, 62, 128):
        lines[n] = "\u200b"  # empty once cleaned: refused
    stdin("\n".join(lines).encode())
    result = cli("ask", "--batch", "-k", "2")
    assert result.code == 0, result.err
    out = [json.loads(line) for line in result.out.splitlines()]
    expected = [(n + 1, q) for n, q in enumerate(lines) if q.strip()]
    assert len(out) == len(expected) == 144
    singles = {}
    for q in questions:
        single = cli("ask", q, "-k", "2", "--json")
        assert single.code == 0, single.err
        singles[q] = _without_timings(json.loads(single.out))
    for got, (number, line) in zip(out, expected, strict=True):
        if line == "\u200b":
            assert got == {"line": number, "error": got["error"]}
            assert got["error"].startswith("the question is empty")
        else:
            assert _without_timings(got) == singles[line]
            assert {"latency_ms", "search_ms"} <= got.keys()
    with sqlite3.connect(db_path) as con:
        logged = [q for (q,) in con.execute("SELECT query FROM queries ORDER BY id LIMIT 141")]
    assert logged == [q for _, q in expected if q != "\u200b"]


def _batch_process(db_path: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CITEBOT_DB": str(db_path), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "ask", "--batch", "-k", "1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=db_path.parent,
    )


def _answer_line(batch: subprocess.Popen[bytes]) -> dict:
    """The batch's next line, waiting at most a minute for it (a hang guard, not a timing)."""
    assert batch.stdout is not None
    ready, _, _ = select.select([batch.stdout], [], [], 60)
    assert ready, "no answer within a minute"
    return json.loads(batch.stdout.readline())


def test_ask_batch_answers_each_line_as_it_comes(db_path):
    # A person (or a program) writing one question at a time gets each answer before writing
    # the next: the batch does not wait for a chunk to fill or for the end of its input.
    with _batch_process(db_path) as batch:
        assert batch.stdin is not None and batch.stdout is not None
        for question in (SPEND, "Which GPUs did DeepSeek rely on?"):
            batch.stdin.write(question.encode() + b"\n")
            batch.stdin.flush()  # and the pipe stays open: no end of input yet
            assert _answer_line(batch)["query"] == question
        batch.stdin.close()
        assert batch.stdout.read() == b""
        assert batch.wait(timeout=60) == 0  # a hang guard, not a timing


def test_ask_batch_stopped_while_waiting_for_a_line_exits_cleanly(db_path):
    # Ctrl-C while the batch waits for its next line: the usual exit status for an interrupt,
    # no crash of the interpreter (its reader thread is blocked in that read).
    with _batch_process(db_path) as batch:
        assert batch.stdin is not None and batch.stderr is not None
        batch.stdin.write(SPEND.encode() + b"\n")
        batch.stdin.flush()
        assert _answer_line(batch)["query"] == SPEND
        batch.send_signal(signal.SIGINT)
        assert batch.wait(timeout=60) == 130  # a hang guard, not a timing
        assert b"Fatal Python error" not in batch.stderr.read()


@pytest.fixture
def stdin(monkeypatch):
    """Give the next `cli(...)` these bytes on standard input."""

    def feed(data: bytes) -> None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))

    return feed


def test_ask_batch_takes_k_and_the_server_scope(cli, stdin, db_path, tmp_path):
    memo = tmp_path / "memo.md"
    memo.write_text(
        "# Harbour crane\n\nThe Ferncliff harbour crane was commissioned on May 4, 2019 by "
        "the port authority after two years of trials.\n",
        encoding="utf-8",
    )
    assert cli("sources", "add", str(memo), "--guild", "42").code == 0
    questions = b"when was the ferncliff crane commissioned\nHow much did DeepSeek spend?\n"
    stdin(questions)
    result = cli("ask", "--batch", "-k", "1", "--guild", "42")
    assert result.code == 0, result.err
    crane, spend = [json.loads(line) for line in result.out.splitlines()]
    assert crane["answer_sentence"]["span_text"] == "May 4, 2019"
    assert [h["title"] for h in crane["hits"]] == ["Harbour crane"]
    assert len(spend["hits"]) == 1 and spend["answered"] is True
    with sqlite3.connect(db_path) as con:
        guilds = con.execute("SELECT guild_id FROM queries ORDER BY id").fetchall()
    assert guilds == [(42,), (42,)]
    # Without the server, its memo is not seen.
    stdin(questions)
    crane = json.loads(cli("ask", "--batch").out.splitlines()[0])
    assert crane["answered"] is False and crane["hits"] == []


def test_ask_batch_refuses_a_line_too_long_to_hold_and_goes_on(cli, stdin, db_path):
    stdin(b"DeepSeek " * 20_000 + b"\n" + SPEND.encode() + b"\n")
    result = cli("ask", "--batch", "--json")
    assert result.code == 0, result.err
    refused, answer = [json.loads(line) for line in result.out.splitlines()]
    assert refused == {
        "line": 1,
        "error": "the line is longer than 65,536 bytes; a question is at most 1,000 characters",
    }
    assert answer["query"] == SPEND and answer["answered"] is True
    assert row_counts(db_path)["queries"] == 1


def test_ask_batch_with_a_question_argument_is_a_usage_error(cli, stdin):
    stdin(SPEND.encode())
    result = cli("ask", "--batch", SPEND)
    assert result.code == 2 and result.out == ""
    assert result.err.splitlines()[-1] == (
        "citebot ask: error: --batch reads the questions from standard input; "
        "give no question argument"
    )
    bad_k = cli("ask", "--batch", "-k", "500")
    assert bad_k.code == 1 and bad_k.err == "citebot: error: -k must be at most 20\n"


def test_each_terminal_change_leaves_the_saved_index_current_and_merged(cli, db_path, tmp_path):
    # A terminal command exits before a background merge would end: without settling, every
    # `sources add` left one more segment for every later process to open and search, and the
    # next `ask` synced the change itself. Now the saved index is the corpus as the command
    # left it, and a scope's segments stay few however many adds there were.
    from retrieval.index import MAX_SEGMENTS

    def saved() -> tuple[int, int]:
        manifest = json.loads((Path(f"{db_path}.segments") / "manifest.json").read_text())
        return manifest["version"], len(manifest["segments"])

    def version() -> int:
        with sqlite3.connect(db_path) as con:
            return int(
                con.execute("SELECT value FROM meta WHERE key = 'corpus_version'").fetchone()[0]
            )

    added = []
    for i in range(MAX_SEGMENTS + 2):
        note = tmp_path / f"dock-{i}.md"
        note.write_text(f"# Dock {i}\n\nThe Ferncliff crane {i} lifts {20 + i} tonnes of slate.\n")
        done = cli("sources", "add", str(note))
        assert done.code == 0
        added.append(done.out.split("[", 1)[1].split("]", 1)[0])
        saved_version, segments = saved()
        assert saved_version == version()
        assert segments <= MAX_SEGMENTS
    assert cli("sources", "remove", added[0]).code == 0
    assert saved()[0] == version()
    asked = cli("ask", "which crane lifts 25 tonnes")
    assert "crane 5 lifts 25 tonnes" in asked.out.replace("**", "")


def test_a_reader_that_stops_early_ends_the_batch_quietly(db_path):
    """`citebot ask --batch < questions | head -1`: the answers the reader never takes end the
    process with the shell's status for a closed pipe and nothing on stderr (the process ends
    without the interpreter's teardown, which would report the unflushed output)."""
    env = {**os.environ, "CITEBOT_DB": str(db_path), "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, "-m", "bot", "ask", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=db_path.parent,
    ) as process:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(f"{SPEND}\n".encode() * 400)
        process.stdin.close()
        first = json.loads(process.stdout.readline())
        process.stdout.close()
        assert process.stderr is not None
        stderr = process.stderr.read()
        status = process.wait(timeout=60)
    assert first["query"] == SPEND and first["hits"]
    assert (status, stderr) == (141, b"")


def test_logs_forget_and_purge_from_the_command_line(cli, db_path):
    import asyncio

    from retrieval.knowledge import KnowledgeBase
    from retrieval.models import Caller

    async def asked() -> None:
        async with await KnowledgeBase.open(db_path) as kb:
            for guild, user in ((1, 42), (2, 42), (1, 43)):
                await kb.ask(SPEND, 1, Caller.member(guild, user))

    asyncio.run(asked())
    assert cli("logs", "forget").code == 2  # --user is needed
    huge = cli("logs", "forget", "--user", str(2**64))  # no id SQLite could hold: refused
    assert huge.code == 2 and f"'{2**64}' is not a Discord user id" in huge.err
    assert "has no CSV form" in cli("logs", "forget", "--user", "42", "--csv").err
    assert "stats has no CSV form" in cli("logs", "stats", "--csv").err
    forgot = cli("logs", "forget", "--user", "42", "--guild", "1")
    assert forgot.out == "deleted 1 question and 0 votes of user 42 in server 1\n"
    everywhere = cli("logs", "forget", "--user", "42")
    assert everywhere.out == "deleted 1 question and 0 votes of user 42 in every server\n"
    with sqlite3.connect(db_path) as con:
        con.execute("UPDATE queries SET asked_at = '2020-01-01T00:00:00.000+00:00'")
    purged = cli("logs", "purge", "--older-than", "30")
    assert purged.out == "deleted 1 question older than 30 days in every server\n"
    with sqlite3.connect(db_path) as con:
        assert con.execute("SELECT count(*) FROM queries").fetchone() == (0,)


def test_top_and_unanswered_group_questions_by_what_they_ask(cli):
    wordings = ("What is DeepSeek?", "what's deepseek", "What is  DeepSeek ?", "deepseek")
    for wording in (*wordings, "What is DeepSeek?"):
        cli("ask", wording)
    for wording in ("How do I bake bread?", "how to bake breads", "baking bread"):
        cli("ask", wording)
    cli("ask", "What is it?")  # stop words alone: a group of its own
    top = json.loads(cli("logs", "top", "--json").out)
    # Each group shown by its most common wording; of equally common ones, the latest.
    assert [(g["query"], g["count"]) for g in top] == [
        ("What is DeepSeek?", 5),
        ("baking bread", 3),
        ("What is it?", 1),
    ]
    unanswered = json.loads(cli("logs", "unanswered", "--json").out)
    assert {g["count"] for g in unanswered if "bread" in g["query"]} == {3}


def test_logs_stats_counts_the_period_against_the_one_before_and_draws_a_chart(
    cli, db_path, tmp_path
):
    import asyncio
    from datetime import UTC, datetime, timedelta

    from PIL import Image

    from retrieval.knowledge import KnowledgeBase
    from retrieval.models import Caller

    async def asked() -> None:
        async with await KnowledgeBase.open(db_path) as kb:
            for user in (1, 2, 2):
                await kb.ask(SPEND, 1, Caller.member(5, user))
            first = await kb.ask("How do I bake sourdough bread?", 1, Caller.member(5, 3))
            old = await kb.ask(SPEND, 1, Caller.member(5, 4))
            await kb.record_feedback(old.query_id, 9, True, 5)
            voted = await kb.ask(SPEND, 1, Caller.member(5, 1))
            await kb.record_feedback(voted.query_id, 9, True, 5)
            await kb.record_feedback(voted.query_id, 8, False, 5)
            await kb.ask(SPEND, 1, Caller.member(6, 1))  # another server
            return first.query_id, old.query_id

    _, old_id = asyncio.run(asked())
    ten_days_ago = (datetime.now(UTC) - timedelta(days=10)).isoformat(timespec="milliseconds")
    with sqlite3.connect(db_path) as con:
        con.execute("UPDATE queries SET asked_at = ? WHERE id = ?", (ten_days_ago, old_id))
    png = tmp_path / "chart.png"
    shown = cli("logs", "stats", "--guild", "5", "--days", "7", "--json", "--png", str(png))
    assert shown.code == 0, shown.err
    stats = json.loads(shown.out)
    now, before = stats["current"], stats["previous"]
    assert (now["questions"], now["askers"], now["answered"]) == (5, 3, 4)
    assert (now["votes"], now["helpful"]) == (2, 1)
    assert (before["questions"], before["votes"], before["helpful"]) == (1, 1, 1)
    # The chart's days: the 8 calendar days the last 7 times 24 hours touch, today's last.
    assert len(stats["per_day"]) == 8 and sum(d["answered"] for d in stats["per_day"]) == 4
    with Image.open(png) as image:  # a PNG that decodes, of the size drawn
        image.load()
        assert image.format == "PNG" and image.size == (800, 320)
    text = cli("logs", "stats", "--guild", "5").out
    assert "questions      5 (+4 on the 7 days before)" in text
    assert "answered       80%" in text and "helpful        50% of 2 votes" in text
