"""Ask citebot the held-out questions about its bundled corpus and count what comes first.

Why: issue 9 asks for "the answering passage first" on the articles shipped in `seeds/`. The
questions in `bundled.jsonl` (batch 1), `bundled2.jsonl` (batch 2), `bundled3.jsonl` (batch 3) and
`bundled4.jsonl` (batch 4) were written from the articles before any system was run; this script
validates them (each snippet occurs exactly once in its source file, each batch's split is its
documented seeded shuffle) and then scores a fresh knowledge base on them, per batch and split and
for all batches together.

A question names one or more acceptable (source, snippet) pairs: batch 1 one each (`source` and
`snippet` strings), later batches parallel lists, because the articles repeat some facts (an
FAQ, key highlights) and every passage that states the fact answers it. A first-passage hit: the top
passage contains any of the pairs (comes from that source and holds that snippet). Top-3: any of
the three passages does. Answered / refused: citebot's own verdict.

Usage (from the project root): .venv/bin/python bench/qa/bundled_check.py [--validate]
(--validate checks the files and splits only; nothing is asked.)
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from retrieval.knowledge import KnowledgeBase
from retrieval.models import Answer, Hit

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
# batch number -> (file, seed of its split); a new batch gets a new file and a fresh seed, so
# adding one never moves an earlier batch's questions between dev and test.
BATCHES = {
    1: (HERE / "bundled.jsonl", 20261126),
    2: (HERE / "bundled2.jsonl", 20261127),
    3: (HERE / "bundled3.jsonl", 20261128),
    4: (HERE / "bundled4.jsonl", 20261129),
}
QUESTIONS = BATCHES[1][0]  # kept for callers that name batch 1's file
SEED = BATCHES[1][1]
K = 3
SNIPPET_WORDS = range(3, 9)


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    question: str
    answers: tuple[tuple[str, str], ...]  # acceptable (source, snippet) pairs; () = unanswerable
    split: str
    batch: int

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def _pairs(row: dict[str, object]) -> tuple[tuple[str, str], ...]:
    """(source, snippet) pairs of a row: strings are one pair, lists are parallel."""
    source, snippet = row["source"], row["snippet"]
    assert (source is None) == (snippet is None), row
    if source is None:
        return ()
    sources = [source] if isinstance(source, str) else list(source)
    snippets = [snippet] if isinstance(snippet, str) else list(snippet)
    assert sources and len(sources) == len(snippets), f"{row['id']}: sources and snippets differ"
    return tuple(zip(sources, snippets, strict=True))


def load_batch(batch: int) -> list[Question]:
    """One batch's questions, validated: snippets unique in their files, split re-derived."""
    path, seed = BATCHES[batch]
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    questions = [Question(r["id"], r["question"], _pairs(r), r["split"], batch) for r in rows]
    for q in questions:
        assert q.split in {"dev", "test"}, q
        assert len(set(q.answers)) == len(q.answers), f"{q.id}: a pair is listed twice"
        for source, snippet in q.answers:
            text = (ROOT / source).read_text(encoding="utf-8")
            count = text.count(snippet)
            assert count == 1, f"{q.id}: snippet {snippet!r} occurs {count} times in {source}"
            words = len(snippet.split())
            assert words in SNIPPET_WORDS, f"{q.id}: snippet {snippet!r} has {words} words"
    for group in (
        [q for q in questions if q.answerable],
        [q for q in questions if not q.answerable],
    ):
        derived = deal([q.id for q in group], seed)
        assert {q.id: q.split for q in group} == derived, f"batch {batch}: split drifted"
    return questions


def load() -> list[Question]:
    """Every batch's questions, in batch and file order."""
    questions = [q for batch in BATCHES for q in load_batch(batch)]
    assert len({q.id for q in questions}) == len(questions), "duplicate ids"
    return questions


def deal(ids: list[str], seed: int = SEED) -> dict[str, str]:
    """The documented split: shuffle ids (in file order) with a fresh seeded Random, halve."""
    shuffled = list(ids)
    random.Random(seed).shuffle(shuffled)
    half = len(shuffled) // 2
    return {qid: "dev" if n < half else "test" for n, qid in enumerate(shuffled)}


def holds(hit: Hit, q: Question) -> bool:
    return any(hit.source == source and snippet in hit.text for source, snippet in q.answers)


def pct(n: int, d: int) -> str:
    return f"{n}/{d} ({100 * n / d:.0f}%)" if d else "0/0"


def counts(
    split: str, results: list[tuple[Question, Answer]], batch: int | None = None
) -> dict[str, int]:
    """Per split (and batch, or all batches when None): answerable and unanswerable questions,
    first-passage and top-3 hits, answerable ones answered, unanswerable ones refused."""
    mine = [(q, a) for q, a in results if q.split == split and batch in (None, q.batch)]
    yes = [(q, a) for q, a in mine if q.answerable]
    no = [(q, a) for q, a in mine if not q.answerable]
    return {
        "answerable": len(yes),
        "unanswerable": len(no),
        "first": sum(1 for q, a in yes if a.hits and holds(a.hits[0], q)),
        "top3": sum(1 for q, a in yes if any(holds(h, q) for h in a.hits[:K])),
        "answered": sum(1 for _, a in yes if a.answered),
        "refused": sum(1 for _, a in no if not a.answered),
    }


def report(split: str, results: list[tuple[Question, Answer]], batch: int | None = None) -> None:
    c = counts(split, results, batch)
    yes, no = c["answerable"], c["unanswerable"]
    which = f"batch {batch}" if batch is not None else "all batches"
    print(f"== {which}, {split}: {yes} answerable, {no} unanswerable")
    print(f"  first passage  {pct(c['first'], yes)}")
    print(f"  top {K}          {pct(c['top3'], yes)}")
    print(f"  answered       {pct(c['answered'], yes)} of answerable")
    print(f"  refused        {pct(c['refused'], no)} of unanswerable")


def misses(results: list[tuple[Question, Answer]]) -> None:
    print("== dev misses of all batches (answerable, answer not first; unanswerable, not refused)")
    for q, a in results:
        if q.split != "dev":
            continue
        ok = (a.hits and holds(a.hits[0], q)) if q.answerable else not a.answered
        if ok:
            continue
        where = next((h.rank for h in a.hits if holds(h, q)), None) if q.answerable else None
        top = a.hits[0] if a.hits else None
        shown = f"{top.source}: {top.text[:120]!r}" if top else "(no passage)"
        verdict = "answered" if a.answered else "refused"
        found = f"answer at #{where}" if where else "answer not in top 3"
        label = found if q.answerable else "unanswerable"
        print(f"- {q.id} [{label}; {verdict}] {q.question}")
        print(f"    top: {shown}")


async def answers() -> list[tuple[Question, Answer]]:
    """Every question of every batch asked of a fresh database holding the bundled corpus."""
    questions = load()
    with tempfile.TemporaryDirectory() as tmp:
        kb = await KnowledgeBase.open(Path(tmp) / "kb.sqlite3")
        try:
            return [(q, await kb.ask(q.question, K)) for q in questions]
        finally:
            await kb.close()


def validate() -> None:
    """Check the files and splits without asking anything; print what they hold."""
    questions = load()
    for batch in BATCHES:
        mine = [q for q in questions if q.batch == batch]
        pairs = sum(len(q.answers) for q in mine)
        for split in ("dev", "test"):
            half = [q for q in mine if q.split == split]
            yes = sum(1 for q in half if q.answerable)
            print(f"batch {batch} {split}: {yes} answerable, {len(half) - yes} unanswerable")
        print(f"batch {batch}: {pairs} (source, snippet) pairs, each once in its source file")


async def run() -> None:
    results = await answers()
    print(f"{len(results)} questions; every snippet occurs exactly once in its source file")
    for batch in BATCHES:
        for split in ("dev", "test"):
            report(split, results, batch)
    for split in ("dev", "test"):
        report(split, results)
    misses(results)


if __name__ == "__main__":
    if "--validate" in sys.argv[1:]:
        validate()
    else:
        asyncio.run(run())
