"""A folder added together (KnowledgeBase.add_files, what `citebot sources add DIR` uses) ends
exactly as the same files added one by one through `add_file`: the same outcome for each file
(added, duplicate, refused, with the same messages) and the same rows, ids and corpus state."""

from __future__ import annotations

import random
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from retrieval.errors import CitebotError
from retrieval.ingest import IngestQueue
from retrieval.knowledge import KnowledgeBase
from retrieval.models import AddResult, Caller
from retrieval.sandbox import Budget
from tests import hostile
from tests.conftest import table_dump

T = TypeVar("T")
SEEDS = Path(__file__).resolve().parent.parent / "seeds"
WORDS = (
    "harbor ferry council river bridge museum festival railway station engineer mayor "
    "village castle garden library orchestra season island factory market school church "
    "tower canal mill farmer painter novel treaty battle regiment province cathedral "
    "lighthouse vineyard monastery observatory"
).split()


def _article(number: int) -> str:
    """A made-up article: a title, a few sections of sentences, a list now and then."""
    rng = random.Random(number)
    lines = [f"# The {rng.choice(WORDS).title()} of Place {number}", ""]
    for section in range(rng.randint(1, 4)):
        if section:
            lines += [f"## Part {section}", ""]
        for _ in range(rng.randint(1, 5)):
            sentences = []
            for _ in range(rng.randint(1, 9)):
                words = [rng.choice(WORDS) for _ in range(rng.randint(5, 30))]
                sentences.append(f"In {1800 + number} the {' '.join(words)}.".capitalize())
            lines += [" ".join(sentences), ""]
        if rng.random() < 0.3:
            lines += [f"- {rng.choice(WORDS)} and {rng.choice(WORDS)}" for _ in range(3)] + [""]
    return "\n".join(lines)


def _articles(folder: Path, count: int, name: str = "{}.md") -> list[Path]:
    """`count` made-up articles in a new folder, file `number` named `name.format(number)`."""
    folder.mkdir()
    paths = [folder / name.format(number) for number in range(count)]
    for number, path in enumerate(paths):
        path.write_text(_article(number), encoding="utf-8")
    return paths


def _folder(root: Path, count: int) -> list[Path]:
    """Articles enough for several batches, with what a real folder holds besides: the seeds,
    copies of two files, an empty file, a binary one, one whose text is already in the
    database (added before, as pasted text), one that is gone, and symbolic links."""
    root.mkdir()
    paths = []
    for number in range(count):
        path = root / f"{number:03d}.md"
        path.write_text(_article(number), encoding="utf-8")
        paths.append(path)
    for seed in sorted(SEEDS.glob("*.txt"))[:3]:
        paths.append(root / seed.name)
        paths[-1].write_bytes(seed.read_bytes())
    paths.insert(7, root / "copy.md")
    paths[7].write_text(_article(3), encoding="utf-8")
    paths.insert(20, root / "empty.txt")
    paths[20].write_text("")
    paths.insert(30, root / "photo.txt")
    paths[30].write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    paths.append(root / "late-copy.md")  # a copy of a file of an earlier batch
    paths[-1].write_text(_article(1), encoding="utf-8")
    paths.append(root / "known.md")
    paths[-1].write_text(_article(1000), encoding="utf-8")
    paths.append(root / "missing.md")  # listed, but gone by the time it is read
    # Symbolic links: to a file elsewhere (its source is the file it points at), and a folder
    # seen through a link.
    elsewhere = root.parent / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "real.txt").write_text(_article(2000), encoding="utf-8")
    (root / "link.md").symlink_to(elsewhere / "real.txt")
    (root / "linked").symlink_to(elsewhere)
    (elsewhere / "inside.md").write_text(_article(2001), encoding="utf-8")
    paths[12:12] = [root / "link.md", root / "linked" / "inside.md"]
    return paths


def _seen(outcome: AddResult | CitebotError) -> tuple:
    """What a user is shown of an outcome (everything but the time it was added)."""
    if isinstance(outcome, CitebotError):
        return (type(outcome).__name__, str(outcome))
    s = outcome.source
    return (s.doc_id, s.title, s.source, s.kind, s.guild_id, s.passages, s.added_by,
            s.summary, outcome.passages, outcome.summary)  # fmt: skip


def _rows(db: Path) -> dict[str, list[tuple]]:
    """Every row of every table, the documents without the time they were added."""
    rows = table_dump(db)
    with sqlite3.connect(db) as con:
        columns = [r[1] for r in con.execute("PRAGMA table_info(documents)")]
    at = columns.index("added_at")
    rows["documents"] = [r[:at] + r[at + 1 :] for r in rows["documents"]]
    rows["meta"] = [r for r in rows["meta"] if r[0] != "database_id"]
    return rows


async def _base(tmp_path: Path, guild: int | None, elsewhere: str = "") -> tuple[Path, Path]:
    """Two copies of one database (the corpus state starts from a random value of its own)
    holding an article of the folder, and maybe another server's."""
    base = tmp_path / "base.db"
    async with await KnowledgeBase.open(base) as kb:
        await kb.add_text(_article(1000), title="Known", guild_id=guild)
        if elsewhere:
            await kb.add_text(elsewhere, title="Elsewhere", guild_id=5)
    copies = tmp_path / "alone.db", tmp_path / "together.db"
    for copy in copies:
        copy.write_bytes(base.read_bytes())
    return copies


async def _one_by_one(db: Path, paths: list[Path], guild: int | None, **queue) -> list[tuple]:
    async with await KnowledgeBase.open(db, ingest=IngestQueue(**queue)) as kb:
        seen = []
        for path in paths:
            try:
                seen.append(_seen(await kb.add_file(path, caller=Caller.terminal(guild))))
            except CitebotError as exc:
                seen.append(_seen(exc))
        return seen


async def _together(db: Path, paths: list[Path], guild: int | None, **queue) -> list[tuple]:
    async with await KnowledgeBase.open(db, ingest=IngestQueue(**queue)) as kb:
        seen = []
        async for path, outcome in kb.add_files(paths, caller=Caller.terminal(guild)):
            seen.append((path, _seen(outcome)))
        assert [p for p, _ in seen] == paths  # every file, in order
        return [s for _, s in seen]


@pytest.mark.parametrize("guild", [None, 77])
async def test_a_folder_added_together_ends_as_one_file_at_a_time(
    tmp_path: Path, guild: int | None
) -> None:
    paths = _folder(tmp_path / "articles", 40)
    # Another server already holds one of the files: the global corpus refuses it, a server
    # does not see it.
    alone, together = await _base(tmp_path, guild, paths[40].read_text(encoding="utf-8"))
    expected = await _one_by_one(alone, paths, guild, workers=2)
    # Batches of 8: several of them, two read at once.
    got = await _together(together, paths, guild, workers=2, batch_files=8)
    assert got == expected
    kinds = [s[0] for s in got]
    # the two copies, the known one, the three seeds (bundled already), and for the global
    # corpus the one another server holds
    assert kinds.count("DuplicateSource") == (7 if guild is None else 6)
    assert kinds.count("BadSource") == 3  # empty, binary, missing
    sources = {s[2] for s in got if isinstance(s[0], int)}
    elsewhere = (tmp_path / "elsewhere").resolve()
    assert {str(elsewhere / "real.txt"), str(elsewhere / "inside.md")} <= sources
    assert _rows(together) == _rows(alone)


async def test_a_batch_over_its_budget_is_read_again_one_file_at_a_time(tmp_path: Path) -> None:
    """One document's budget covers a whole batch; a batch that needs more is read again, each
    file with a budget of its own: the articles are added, the hostile PDF is refused as it
    would be alone."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    paths = [folder / "a.md", folder / "report.pdf", folder / "b.md"]
    paths[0].write_text(_article(1), encoding="utf-8")
    paths[1].write_bytes(hostile.shared_stream_pdf())
    paths[2].write_text(_article(2), encoding="utf-8")
    budget = Budget(cpu_seconds=1, wall_seconds=120)
    alone, together = await _base(tmp_path, None)
    expected = await _one_by_one(alone, paths, None, budget=budget)
    got = await _together(together, paths, None, budget=budget)
    assert got == expected
    assert got[1] == (
        "OverBudget",
        "report.pdf needs more than 1 s of processing to read; it is refused as too complex "
        "(a document built to exhaust the parser?)",
    )
    assert isinstance(got[0][0], int) and isinstance(got[2][0], int)
    assert _rows(together) == _rows(alone)


async def test_a_batch_that_cannot_be_written_is_written_one_file_at_a_time(
    tmp_path: Path,
) -> None:
    """The batch's transaction fails and leaves nothing; written again file by file, the files
    before the bad one are added and the bad one raises, as one at a time."""
    folder = tmp_path / "articles"
    folder.mkdir()
    paths = []
    for number in range(5):
        paths.append(folder / f"{number}.md")
        text = _article(number) + ("\n\nThe EXPLODE paragraph.\n" if number == 3 else "")
        paths[-1].write_text(text, encoding="utf-8")
    results = {}
    for name, db in zip(("alone", "together"), await _base(tmp_path, None), strict=True):
        with sqlite3.connect(db) as con:
            con.execute(
                "CREATE TRIGGER explode BEFORE INSERT ON passages WHEN NEW.text LIKE "
                "'%EXPLODE%' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
            )
        seen = []
        async with await KnowledgeBase.open(db) as kb:
            with pytest.raises(sqlite3.IntegrityError, match="disk on fire"):
                if name == "alone":
                    for path in paths:
                        seen.append(_seen(await kb.add_file(path, caller=Caller.terminal())))
                else:
                    async for _, outcome in kb.add_files(paths, caller=Caller.terminal()):
                        seen.append(_seen(outcome))
        results[name] = (seen, _rows(db))
    assert results["together"] == results["alone"]
    seen, rows = results["together"]
    assert [s[2] for s in seen] == [str(p.resolve()) for p in paths[:3]]
    assert len(rows["documents"]) == 5 + 1 + 3  # the seeds, the known one and three files


def test_the_command_line_names_each_file_as_it_was_given(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text(_article(1), encoding="utf-8")
    (notes / "copy.md").write_text(_article(1), encoding="utf-8")
    (notes / "empty.txt").write_text("")
    monkeypatch.chdir(tmp_path)
    result = cli("sources", "add", "./notes/a.md", "./notes//copy.md", "./notes/empty.txt")
    lines = result.out.splitlines()
    assert result.code == 1
    assert lines[0].startswith("added [6] The ") and lines[0].endswith(" passages)")
    assert lines[1] == (
        f"skipped ./notes//copy.md: this content is already source [6] "
        f"{lines[0].split('] ', 1)[1].rsplit(' (', 1)[0]!r} ({(notes / 'a.md').resolve()})"
    )
    assert lines[2] == "failed ./notes/empty.txt: empty.txt is empty"
    assert lines[3] == "1 added, 1 skipped as duplicates, 1 failed"


async def test_past_the_largest_id_sqlite_picks_the_ids_and_every_file_is_added(
    tmp_path: Path,
) -> None:
    """SQLite gives a new row the largest id plus one, until there is none larger; a batch
    then inserts its documents one at a time and lets SQLite choose, as one by one would."""
    db = tmp_path / "full.db"
    async with await KnowledgeBase.open(db) as kb:
        pass
    with sqlite3.connect(db) as con:
        con.execute(
            "INSERT INTO documents (id, title, source, kind, content_hash, summary, word_count, "
            "added_at) VALUES (?, 'Last', 'x', 'text', 'h', '', 0, '')",
            (2**63 - 2,),
        )
    paths = _articles(tmp_path / "articles", 3)
    async with await KnowledgeBase.open(db) as kb:
        seen = [outcome async for _, outcome in kb.add_files(paths, caller=Caller.terminal())]
    assert all(isinstance(s, AddResult) for s in seen)
    ids = [s.source.doc_id for s in seen if isinstance(s, AddResult)]
    assert 2**63 - 1 in ids and len(set(ids)) == 3
    with sqlite3.connect(db) as con:
        for outcome in seen:
            assert isinstance(outcome, AddResult)
            (count,) = con.execute(
                "SELECT count(*) FROM passages WHERE document_id = ?", (outcome.source.doc_id,)
            ).fetchone()
            assert count == outcome.passages > 0


class _HeldQueue(IngestQueue):
    """The queue reading in-process (`limited=False`), two workers, batches of 8 files, its
    first batch held until a third batch has started (a hang guard of 60 s: a queue whose
    workers wait for the first batch never starts one, and the first batch fails); it notes
    when each batch's reading starts and ends (by the batch's first file)."""

    def __init__(self) -> None:
        super().__init__(workers=2, limited=False, batch_files=8)
        self.events: list[tuple[str, str]] = []
        self._third_started = threading.Event()

    async def run(self, func: Callable[..., T], *args: object, name: str) -> T:
        first = args[0][0][1]  # type: ignore[index]

        def job(*given: object) -> T:
            self.events.append(("start", first))
            if first not in ("00.md", "08.md"):
                self._third_started.set()
            if first == "00.md":
                assert self._third_started.wait(60)  # a hang guard only
            try:
                return func(*given)
            finally:
                self.events.append(("end", first))

        return await super().run(job, *args, name=name)


async def test_a_worker_that_finishes_first_starts_the_next_batch(tmp_path: Path) -> None:
    """Two workers: while the first batch is still being read, the worker that read the
    second goes on with the third (it used to wait for the first, idle, to keep the order)."""
    paths = _articles(tmp_path / "articles", 32, "{:02d}.md")
    queue = _HeldQueue()
    async with await KnowledgeBase.open(tmp_path / "db.sqlite", ingest=queue) as kb:
        outcomes = [o async for _, o in kb.add_files(paths, caller=Caller.terminal())]
    assert all(isinstance(o, AddResult) for o in outcomes)  # and in the files' order:
    assert [o.source.source for o in outcomes] == [str(p.resolve()) for p in paths]
    # A third batch (which one comes first depends on whose files were loaded first) is read
    # while the first still is.
    before = queue.events[: queue.events.index(("end", "00.md"))]
    assert {first for what, first in before if what == "start"} - {"00.md", "08.md"}
