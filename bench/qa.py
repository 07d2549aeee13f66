"""Question answering on citebot's own development set (bench/qa/): does the passage that
answers come first, and are unanswerable questions refused?

The 300 Wikipedia articles named in `bench/qa/corpus_ids.txt` are read from
`<data>/scale/enwiki2015_AA_AB.jsonl.gz` and added to a fresh citebot database the way a team
would add them (as pasted text, one server). Every engine then ranks citebot's own passages:

- **citebot**: `KnowledgeBase.ask` (its analyzer, BM25, its "answered" decision);
- **bm25s**: the same passages and the same analysed terms, BM25 (k1 1.5, b 0.75, Lucene idf);
- **tantivy**: the same passage texts in a tantivy index with its `en_stem` tokenizer.

A passage *answers* when it belongs to the question's article and contains the answer string
(accents folded and case ignored on both sides). hit@k: an answering passage in the top k;
MRR over the top 10. Refusals: citebot's share of unanswerable questions it refuses, and of
answerable ones it answers; bm25s and tantivy always return passages, so they have none.
Both splits are reported: `dev` is for tuning, `test` is the figure to quote.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import sys
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import ROOT

QA_DIR = ROOT / "bench" / "qa"
SOURCE = Path("scale") / "enwiki2015_AA_AB.jsonl.gz"
K = 10


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    split: str
    doc_id: str | None
    answer: str | None  # None: the corpus does not answer it
    batch: int = 1  # batch 2 was written later, on other articles (bench/qa/README.md)


def fold(text: str) -> str:
    """Accents off, case folded, whitespace collapsed: how answers are matched."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.casefold().split())


def load_questions() -> list[Question]:
    out = []
    for line in (QA_DIR / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        out.append(
            Question(
                row["id"],
                row["question"],
                row["split"],
                row.get("doc_id"),
                row.get("answer"),
                row.get("batch", 1),
            )
        )
    return out


def load_articles(data_dir: Path) -> dict[str, tuple[str, str]]:
    wanted = set((QA_DIR / "corpus_ids.txt").read_text().split())
    found: dict[str, tuple[str, str]] = {}
    with gzip.open(data_dir / SOURCE, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if row["_id"] in wanted:
                found[row["_id"]] = (row["title"], row["text"])
    return found


@dataclass
class Passage:
    id: int
    doc: str  # the Wikipedia _id
    text: str
    terms: list[str]


async def _build(articles: dict[str, tuple[str, str]], db: Path) -> tuple[object, list[Passage]]:
    from retrieval.ingest import IngestQueue
    from retrieval.knowledge import KnowledgeBase

    # The articles are ours to trust: read them in-process, as fast as the engine allows.
    kb = await KnowledgeBase.open(db, seed=False, ingest=IngestQueue(limited=False))
    by_title: dict[str, str] = {}
    for doc_id, (title, text) in articles.items():
        added = await kb.add_text(text, title=title, source=f"enwiki:{doc_id}")
        by_title[str(added.source.doc_id)] = doc_id
    passages = []
    async with kb.store._reader.execute(
        "SELECT p.id, p.document_id, p.text, p.terms FROM passages p ORDER BY p.id"
    ) as cur:
        for pid, document, text, terms in await cur.fetchall():
            passages.append(Passage(pid, by_title[str(document)], text, terms.split()))
    return kb, passages


def _answers(passage: Passage, question: Question) -> bool:
    return (
        question.answer is not None
        and passage.doc == question.doc_id
        and fold(question.answer) in fold(passage.text)
    )


def _scores(ranked: Sequence[Sequence[Passage]], questions: Sequence[Question]) -> dict:
    hit1 = hit3 = rr = 0.0
    for passages, question in zip(ranked, questions, strict=True):
        ranks = [i for i, p in enumerate(passages[:K], start=1) if _answers(p, question)]
        if ranks:
            hit1 += ranks[0] == 1
            hit3 += ranks[0] <= 3
            rr += 1 / ranks[0]
    n = max(len(questions), 1)
    return {"hit@1": hit1 / n, "hit@3": hit3 / n, "mrr": rr / n, "n": len(questions)}


# The rows of every table: each split over all batches, then each split of each batch (batch 4
# was written at the start of the third session on issue 9 and is its fresh check).
GROUPS: tuple[tuple[str, int | None], ...] = (
    ("dev", None),
    ("test", None),
    ("dev", 1),
    ("test", 1),
    ("dev", 2),
    ("test", 2),
    ("dev", 3),
    ("test", 3),
    ("dev", 4),
    ("test", 4),
)


def _group_name(split: str, batch: int | None) -> str:
    return split if batch is None else f"{split} b{batch}"


# Per question id: the passages an engine ranked, and whether it answered (None: it always does).
Outcomes = dict[str, tuple[list["Passage"], bool | None]]


def _summarise(outcomes: Outcomes, questions: Sequence[Question]) -> dict:
    """hit@k, MRR, answered and refused per group of `GROUPS`."""
    results: dict[str, dict] = {}
    for split, batch in GROUPS:
        mine = [q for q in questions if q.split == split and batch in (None, q.batch)]
        inside = [q for q in mine if q.answer is not None and q.id in outcomes]
        outside = [q for q in mine if q.answer is None and q.id in outcomes]
        if not inside:
            continue
        row = _scores([outcomes[q.id][0] for q in inside], inside)
        answered = [outcomes[q.id][1] for q in inside]
        if None not in answered:
            row["answered"] = sum(map(bool, answered)) / len(inside)
            row["refused"] = sum(not outcomes[q.id][1] for q in outside) / max(len(outside), 1)
        results[_group_name(split, batch)] = row
    return results


# What each part of the answering adds: the whole of it, then each part taken away in turn.
# (Settings are the engine's module constants; the index is rebuilt when they concern it.)
ABLATIONS: list[tuple[str, dict[str, dict[str, object]]]] = [
    ("citebot, everything", {}),
    ("  without typo tolerance", {"retrieval.index": {"MAX_CORRECTIONS": 0}}),
    ("  without answer words ('born' for 'from')", {"retrieval.answering": {"HINT_WEIGHT": 0.0}}),
    ("  without the answer-type bonus", {"retrieval.rerank": {"TYPE_WEIGHT": 0.0}}),
    (
        "  without the rerank (BM25F order)",
        {
            "retrieval.rerank": {
                "TYPE_WEIGHT": 0.0,
                "PROXIMITY_WEIGHT": 0.0,
                "COVERAGE_WEIGHT": 0.0,
            }
        },
    ),
    ("  without the title field", {"retrieval.index": {"TITLE_WEIGHT": 0.0}}),
    (
        "  with rank-bm25's BM25Okapi",
        {"retrieval.index": {"IDF": "robertson", "K1": 1.5, "B": 0.75}},
    ),
    (
        "  without requiring a number or date",
        {"retrieval.verdict": {"REQUIRED_KINDS": ()}},
    ),
    (
        "  without discounting common words it lacks",
        {"retrieval.answering": {"LACKING_COMMON_WEIGHT": 1.0}},
    ),
    (
        "  without the relevance floor",
        {"retrieval.verdict": {"FLOOR_RATIO": 0.0, "FLOOR_COVERAGE": 0.0}},
    ),
]


async def _ablations(kb, passages: list[Passage], questions: list[Question]) -> dict:
    """citebot's scores with each part of its answering taken away in turn."""
    import importlib

    out = {}
    for label, changes in ABLATIONS:
        saved = []
        for module_name, values in changes.items():
            module = importlib.import_module(module_name)
            for name, value in values.items():
                saved.append((module, name, getattr(module, name)))
                setattr(module, name, value)
        try:
            kb._index = None  # rebuilt (or loaded) with the settings of this row
            out[label] = await _citebot(kb, passages, questions)
        finally:
            for module, name, value in saved:
                setattr(module, name, value)
    kb._index = None
    return out


async def _citebot(kb, passages: list[Passage], questions: list[Question]) -> dict:
    from retrieval.models import Caller

    by_id = {p.id: p for p in passages}
    outcomes: Outcomes = {}
    for q in questions:
        answer = await kb.ask(q.question, K, Caller(surface="bench"))
        outcomes[q.id] = ([by_id[h.passage_id] for h in answer.hits], answer.answered)
    return _summarise(outcomes, questions)


def _bm25s(passages: list[Passage], questions: list[Question]) -> dict:
    import bm25s

    from retrieval.analyzer import analyze

    retriever = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    vocabulary: dict[str, int] = {}
    corpus = [[vocabulary.setdefault(t, len(vocabulary)) for t in p.terms] for p in passages]
    retriever.index(bm25s.tokenization.Tokenized(ids=corpus, vocab=vocabulary), show_progress=False)
    outcomes: Outcomes = {}
    for q in questions:
        if q.answer is None:
            continue
        ids = [vocabulary[t] for t in analyze(q.question) if t in vocabulary]
        if not ids:
            outcomes[q.id] = ([], None)
            continue
        scores = retriever.get_scores(ids)
        top = scores.argsort()[::-1][:K]
        outcomes[q.id] = ([passages[i] for i in top if scores[i] > 0], None)
    return _summarise(outcomes, questions)


def _tantivy(passages: list[Passage], questions: list[Question]) -> dict | None:
    try:
        import tantivy
    except ImportError:
        return None
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("n", stored=True)
    builder.add_text_field("body", stored=False, tokenizer_name="en_stem")
    schema = builder.build()
    index = tantivy.Index(schema)
    writer = index.writer()
    for n, p in enumerate(passages):
        writer.add_document(tantivy.Document(n=n, body=p.text))
    writer.commit()
    index.reload()
    searcher = index.searcher()
    outcomes: Outcomes = {}
    for q in questions:
        if q.answer is None:
            continue
        words = "".join(ch if ch.isalnum() else " " for ch in q.question).split()
        if not words:
            outcomes[q.id] = ([], None)
            continue
        query = index.parse_query(" ".join(words), ["body"])
        hits = searcher.search(query, K).hits
        outcomes[q.id] = ([passages[searcher.doc(a)["n"][0]] for _, a in hits], None)
    return _summarise(outcomes, questions)


def _bundled_check():
    """bench/qa/bundled_check.py, loaded by path (bench/qa is data beside this module)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bundled_check", QA_DIR / "bundled_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def run(data_dir: Path | None, quick: bool = False) -> dict[str, object]:
    if data_dir is None or not (data_dir / SOURCE).is_file():
        return {"skipped": f"no {SOURCE} under the data folder"}
    questions = load_questions()
    articles = load_articles(data_dir)

    async def measure() -> dict[str, object]:
        with tempfile.TemporaryDirectory() as tmp:
            kb, passages = await _build(articles, Path(tmp) / "qa.db")
            try:
                engines = {"citebot": await _citebot(kb, passages, questions)}
                ablations = await _ablations(kb, passages, questions)
            finally:
                await kb.close()  # type: ignore[attr-defined]
        engines["bm25s"] = _bm25s(passages, questions)
        tantivy_result = _tantivy(passages, questions)
        if tantivy_result is not None:
            engines["tantivy"] = tantivy_result
        bundled_check = _bundled_check()
        results = await bundled_check.answers()
        bundled = {
            _group_name(split, batch): bundled_check.counts(split, results, batch)
            for split, batch in GROUPS
        }
        return {
            "articles": len(articles),
            "passages": len(passages),
            "engines": engines,
            "ablations": ablations,
            "bundled": bundled,
        }

    return asyncio.run(measure())


def render(result: dict) -> str:
    if "skipped" in result:
        return f"QA: skipped ({result['skipped']})"
    lines = [
        f"QA on bench/qa ({result['articles']} Wikipedia articles, {result['passages']} "
        "citebot passages): hit@1 / hit@3 / MRR@10; answered = in-corpus questions answered, "
        "refused = unanswerable questions refused",
        f"{'engine':<10} {'split':<8} {'n':>4} {'hit@1':>6} {'hit@3':>6} {'MRR':>6} "
        f"{'answered':>9} {'refused':>8}",
    ]
    for engine, splits in result["engines"].items():
        for split, row in splits.items():
            answered = f"{row['answered']:.0%}" if "answered" in row else "-"
            refused = f"{row['refused']:.0%}" if "refused" in row else "-"
            lines.append(
                f"{engine:<10} {split:<8} {row['n']:>4} {row['hit@1']:>6.3f} {row['hit@3']:>6.3f} "
                f"{row['mrr']:>6.3f} {answered:>9} {refused:>8}"
            )
    lines.append(
        "targets (issue 9, held-out): hit@1 >= 0.70, hit@3 >= 0.92, refused >= 70%, "
        "answered >= 95.7%"
    )
    if result.get("bundled"):
        lines += [
            "",
            "Bundled corpus (bench/qa/bundled*.jsonl, every batch; k=3): answering passage "
            "first / in the top 3, answered, refused",
        ]
        for split, c in result["bundled"].items():
            if not c["answerable"]:
                continue  # a batch not written yet
            yes, no = max(c["answerable"], 1), max(c["unanswerable"], 1)
            lines.append(
                f"citebot    {split:<8} first {c['first']}/{c['answerable']} "
                f"({c['first'] / yes:.0%}), top 3 {c['top3'] / yes:.0%}, "
                f"answered {c['answered'] / yes:.0%}, refused {c['refused'] / no:.0%}"
            )
    if result.get("ablations"):
        lines += ["", "What each part adds: citebot with one part taken away (dev | test)"]
        lines.append(
            f"{'':<44} {'hit@1':>6} {'hit@3':>6} {'ans':>5} {'ref':>5} | "
            f"{'hit@1':>6} {'hit@3':>6} {'ans':>5} {'ref':>5}"
        )
        for label, splits in result["ablations"].items():
            cells = []
            for split in ("dev", "test"):
                row = splits[split]
                cells.append(
                    f"{row['hit@1']:>6.3f} {row['hit@3']:>6.3f} {row['answered']:>5.0%} "
                    f"{row['refused']:>5.0%}"
                )
            lines.append(f"{label:<44} {cells[0]} | {cells[1]}")
    return "\n".join(lines)
