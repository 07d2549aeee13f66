"""Ask citebot the held-out questions about its bundled corpus and count what comes first.

Why: issue 9 asks for "the answering passage first" on the articles shipped in `seeds/`. The
questions in `bundled.jsonl` were written from the articles before any system was run; this
script validates them (each snippet occurs exactly once in its source file, the split is the
documented seeded shuffle) and then scores a fresh knowledge base on them, per split.

A first-passage hit: the top passage comes from the question's source file and contains its
snippet. Top-3: any of the three passages does. Answered / refused: citebot's own verdict.

Usage (from the project root): .venv/bin/python bench/qa/bundled_check.py
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

from retrieval.knowledge import KnowledgeBase
from retrieval.models import Answer, Hit

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = Path(__file__).with_name("bundled.jsonl")
SEED = 20261126
K = 3


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    question: str
    source: str | None
    snippet: str | None
    split: str

    @property
    def answerable(self) -> bool:
        return self.source is not None


def load() -> list[Question]:
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    questions = [Question(**row) for row in rows]
    for q in questions:
        assert q.split in {"dev", "test"}, q
        assert (q.source is None) == (q.snippet is None), q
        if q.answerable:
            text = (ROOT / q.source).read_text(encoding="utf-8")
            count = text.count(q.snippet)
            assert count == 1, f"{q.id}: snippet {q.snippet!r} occurs {count} times in {q.source}"
    assert len({q.id for q in questions}) == len(questions), "duplicate ids"
    for group in (
        [q for q in questions if q.answerable],
        [q for q in questions if not q.answerable],
    ):
        assert {q.id: q.split for q in group} == deal([q.id for q in group]), "split drifted"
    return questions


def deal(ids: list[str]) -> dict[str, str]:
    """The documented split: shuffle ids (in file order) with a fresh seeded Random, halve."""
    shuffled = list(ids)
    random.Random(SEED).shuffle(shuffled)
    half = len(shuffled) // 2
    return {qid: "dev" if n < half else "test" for n, qid in enumerate(shuffled)}


def holds(hit: Hit, q: Question) -> bool:
    return hit.source == q.source and q.snippet is not None and q.snippet in hit.text


def pct(n: int, d: int) -> str:
    return f"{n}/{d} ({100 * n / d:.0f}%)" if d else "0/0"


def counts(split: str, results: list[tuple[Question, Answer]]) -> dict[str, int]:
    """Per split: answerable and unanswerable questions, first-passage and top-3 hits,
    answerable ones answered, unanswerable ones refused."""
    mine = [(q, a) for q, a in results if q.split == split]
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


def report(split: str, results: list[tuple[Question, Answer]]) -> None:
    c = counts(split, results)
    yes, no = range(c["answerable"]), range(c["unanswerable"])
    first, top3, answered, refused = c["first"], c["top3"], c["answered"], c["refused"]
    print(f"== {split}: {len(yes)} answerable, {len(no)} unanswerable")
    print(f"  first passage  {pct(first, len(yes))}")
    print(f"  top {K}          {pct(top3, len(yes))}")
    print(f"  answered       {pct(answered, len(yes))} of answerable")
    print(f"  refused        {pct(refused, len(no))} of unanswerable")


def misses(results: list[tuple[Question, Answer]]) -> None:
    print("== dev misses (answerable, answer not first; unanswerable, not refused)")
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
    """Every question asked of a fresh database holding the bundled corpus."""
    questions = load()
    with tempfile.TemporaryDirectory() as tmp:
        kb = await KnowledgeBase.open(Path(tmp) / "kb.sqlite3")
        try:
            return [(q, await kb.ask(q.question, K)) for q in questions]
        finally:
            await kb.close()


async def run() -> None:
    results = await answers()
    print(f"{len(results)} questions; every snippet occurs exactly once in its source file")
    for split in ("dev", "test"):
        report(split, results)
    misses(results)


if __name__ == "__main__":
    asyncio.run(run())
