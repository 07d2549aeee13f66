"""Validate citebot's question-answering development set and print its counts, batch by batch.

Why: the set is only worth something if every answer string really is in its article, ids and
splits are stable, and dev/test stay balanced; this runs in seconds and exits non-zero on any
error, so a broken edit to the hand-written files is caught before anyone tunes on it. It also
rebuilds questions.jsonl in memory from the hand-written files with make_questions.py's rule and
compares, so a hand edit of questions.jsonl (or a TSV edited without rerunning the script) shows.

Usage: python bench/qa/check.py [path/to/enwiki2015_AA_AB.jsonl.gz]
"""

from __future__ import annotations

import gzip
import json
import sys
from collections import Counter
from pathlib import Path

from make_questions import BATCHES, build

HERE = Path(__file__).parent
SOURCE = Path("/work/shared/bench-data/scale/enwiki2015_AA_AB.jsonl.gz")
TYPES = {"when", "who", "where", "how_many", "why", "which", "what"}
KINDS = {"absent", "subject_without_fact"}
SPLITS = {"dev", "test"}


def load_corpus(source: Path, ids: list[str]) -> dict[str, dict]:
    wanted = set(ids)
    with gzip.open(source, "rt", encoding="utf-8") as fh:
        docs = (json.loads(line) for line in fh)
        return {d["_id"]: d for d in docs if d["_id"] in wanted}


def balanced(splits: Counter[str]) -> bool:
    return abs(splits["dev"] - splits["test"]) <= 1


def rebuilt(docs: dict[str, dict]) -> list[dict]:
    """questions.jsonl as make_questions.py would write it from the hand-written files."""
    names = {i: d["title"] for i, d in docs.items()}
    items: list[dict] = []
    for batch in BATCHES:
        q_start = 1 + sum(item["id"].startswith("q") for item in items)
        n_start = 1 + sum(item["id"].startswith("n") for item in items)
        items += build(batch, names, q_start, n_start)
    return items


def check_answerable(items: list[dict], docs: dict[str, dict], errors: list[str]) -> Counter[str]:
    """Errors for answers not in their article; notes for answers found in more than one place."""
    counts: Counter[str] = Counter()
    for it in items:
        doc = docs.get(it["doc_id"])
        if it.get("type") not in TYPES or it.get("split") not in SPLITS or doc is None:
            errors.append(f"{it['id']}: bad type, split or doc_id")
            continue
        if it["title"] != doc["title"]:
            errors.append(f"{it['id']}: title {it['title']!r} != {doc['title']!r}")
        if it["answer"] not in doc["text"]:
            errors.append(f"{it['id']}: answer {it['answer']!r} not in article {doc['title']!r}")
            continue
        paragraphs = sum(it["answer"] in p for p in doc["text"].split("\n"))
        elsewhere = [
            d["title"] for i, d in docs.items() if i != doc["_id"] and it["answer"] in d["text"]
        ]
        counts["one_paragraph"] += paragraphs == 1
        counts["unique_doc"] += not elsewhere
        if paragraphs > 1 or elsewhere:
            note = f"{it['answer']!r} in {paragraphs} paragraphs; also in {elsewhere}"
            print(f"  note {it['id']}: {note}")
    return counts


def check_unanswerable(items: list[dict], docs: dict[str, dict], errors: list[str]) -> None:
    for it in items:
        if it.get("kind") not in KINDS or it.get("split") not in SPLITS:
            errors.append(f"{it['id']}: bad kind or split")
        elif it["kind"] == "subject_without_fact" and it.get("doc_id") not in docs:
            errors.append(f"{it['id']}: subject_without_fact needs a corpus doc_id")
        elif it["kind"] == "absent" and "doc_id" in it:
            errors.append(f"{it['id']}: absent questions name no article")


def report(number: int, items: list[dict], docs: dict[str, dict], errors: list[str]) -> None:
    """Validate one batch and print its counts table."""
    answerable = [it for it in items if it["id"].startswith("q")]
    unanswerable = [it for it in items if it["id"].startswith("n")]
    print(f"batch {number}:")
    counts = check_answerable(answerable, docs, errors)
    check_unanswerable(unanswerable, docs, errors)
    by_split_a = Counter(it["split"] for it in answerable)
    by_split_n = Counter(it["split"] for it in unanswerable)
    if not balanced(by_split_a) or not balanced(by_split_n):
        errors.append(f"batch {number} unbalanced: {dict(by_split_a)}, {dict(by_split_n)}")
    articles = Counter(it["doc_id"] for it in answerable)
    errors += [f"batch {number}: {n} questions on doc {d}" for d, n in articles.items() if n > 1]
    print(f"  in-corpus questions: {len(answerable)} about {len(articles)} articles")
    print(f"  answer in exactly one paragraph of its article: {counts['one_paragraph']}")
    print(f"  answer in no other corpus article: {counts['unique_doc']}")
    print(f"  {'type':10} {'dev':>4} {'test':>4} {'all':>4}")
    for t in sorted(TYPES):
        c = Counter(it["split"] for it in answerable if it["type"] == t)
        print(f"  {t:10} {c['dev']:4} {c['test']:4} {c['dev'] + c['test']:4}")
    print(f"  {'total':10} {by_split_a['dev']:4} {by_split_a['test']:4} {len(answerable):4}")
    print(f"  unanswerable questions: {len(unanswerable)}")
    for k in sorted(KINDS):
        c = Counter(it["split"] for it in unanswerable if it["kind"] == k)
        print(f"    {k:21} dev {c['dev']:3}  test {c['test']:3}")


def reused_articles(items: list[dict]) -> list[str]:
    """Errors for in-corpus questions on an article that an earlier batch already asked about.

    Why: each batch is meant to test articles no earlier batch has used, so that a later batch is
    a fresh check and not a second question on an article someone may have tuned on. A batch may
    name earlier batches it reuses (Batch.reuses: batch 4 asks batch 1's articles again, for
    another fact); articles of any other earlier batch stay forbidden.
    """
    reuses = {batch.number: set(batch.reuses) for batch in BATCHES}
    used_by: dict[str, set[int]] = {}
    errors = []
    answerable = [it for it in items if it["id"][0] == "q"]
    for it in sorted(answerable, key=lambda it: it.get("batch", 1)):
        batch = it.get("batch", 1)
        earlier = used_by.setdefault(it["doc_id"], set())
        for other in sorted(b for b in earlier if b < batch and b not in reuses.get(batch, set())):
            where = f"article {it['doc_id']} already asked about in batch {other}"
            errors.append(f"{it['id']}: {where}")
        earlier.add(batch)
    return errors


def first_paragraph(text: str, answer: str) -> int:
    """Index of the first non-empty paragraph holding answer (-1 if none)."""
    paragraphs = [p for p in text.split("\n") if p.strip()]
    return next((i for i, p in enumerate(paragraphs) if answer in p), -1)


def reused_facts(items: list[dict], docs: dict[str, dict]) -> list[str]:
    """Errors for a question on a reused article that asks no new fact from deep in the article.

    Why: a reused article is only a fair check if the question is not the earlier one again, so
    its answer must sit in another paragraph than every earlier answer on that article and not in
    the article's first 3 non-empty paragraphs (where the earlier, lead-heavy batch 1 asked).
    """
    reuses = {batch.number: set(batch.reuses) for batch in BATCHES}
    answerable = [it for it in items if it["id"][0] == "q" and it["doc_id"] in docs]
    errors = []
    for it in answerable:
        batch = it.get("batch", 1)
        earlier = [
            other
            for other in answerable
            if other["doc_id"] == it["doc_id"] and other.get("batch", 1) in reuses.get(batch, ())
        ]
        if not earlier:
            continue
        text = docs[it["doc_id"]]["text"]
        here = first_paragraph(text, it["answer"])
        if 0 <= here < 3:
            errors.append(f"{it['id']}: reused article, answer in its first 3 paragraphs ({here})")
        for other in earlier:
            if first_paragraph(text, other["answer"]) == here:
                errors.append(f"{it['id']}: same paragraph as {other['id']} on the same article")
    return errors


def main() -> int:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE
    errors: list[str] = []
    ids = (HERE / "corpus_ids.txt").read_text(encoding="utf-8").split()
    if len(ids) != 300 or len(set(ids)) != 300:
        errors.append(f"corpus_ids.txt: {len(ids)} ids, {len(set(ids))} distinct, want 300")
    docs = load_corpus(source, ids)
    errors += [f"corpus id {i} not in {source.name}" for i in ids if i not in docs]
    print(f"corpus: {len(docs)} articles from {source.name}")

    items = [json.loads(line) for line in (HERE / "questions.jsonl").open(encoding="utf-8")]
    seen = Counter(item["id"] for item in items)
    errors += [f"duplicate id {i}" for i, n in seen.items() if n > 1]
    errors += [f"{it['id']}: id must start with q or n" for it in items if it["id"][0] not in "qn"]
    if not errors and items != rebuilt(docs):
        errors.append(
            "questions.jsonl differs from the hand-written files: rerun make_questions.py"
        )

    batches = sorted({it.get("batch", 1) for it in items})
    for number in batches:
        report(number, [it for it in items if it.get("batch", 1) == number], docs, errors)
    errors += reused_articles(items)
    errors += reused_facts(items, docs)

    answerable = [it for it in items if it["id"].startswith("q")]
    unanswerable = [it for it in items if it["id"].startswith("n")]
    if len(answerable) < 100 or len(unanswerable) < 30:
        have = f"{len(answerable)}, {len(unanswerable)}"
        errors.append(f"want >= 100 in-corpus and >= 30 unanswerable, have {have}")
    a = Counter(it["split"] for it in answerable)
    n = Counter(it["split"] for it in unanswerable)
    articles = len({it["doc_id"] for it in answerable})
    print(f"all batches: {len(answerable)} in-corpus, dev {a['dev']} test {a['test']}, about")
    print(
        f"  {articles} articles; {len(unanswerable)} unanswerable, dev {n['dev']} test {n['test']}"
    )
    for e in errors:
        print(f"ERROR {e}")
    print("OK" if not errors else f"{len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
