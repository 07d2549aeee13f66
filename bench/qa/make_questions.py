"""Turn the hand-written question files into bench/qa/questions.jsonl with a fixed dev/test split.

Why: the questions were written by a person (written.tsv, unanswerable.tsv); this script only adds
ids, article titles and the split, so that the split is decided once, by rule, before any system
is run. Split rule: within each in-corpus question type and each unanswerable kind, the questions
are shuffled with random.Random(SEED) and dealt alternately to dev and test, the first card of
each group going to whichever split is smaller so far (dev on a tie). Tuning uses "dev" only;
reported numbers use "test" only.

Usage: python bench/qa/make_questions.py [path/to/enwiki2015_AA_AB.jsonl.gz]
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).parent
SOURCE = Path("/work/shared/bench-data/scale/enwiki2015_AA_AB.jsonl.gz")
SEED = 20261126


def rows(path: Path) -> list[list[str]]:
    """Tab-separated rows of a hand-written file, comments and blank lines skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]


def titles(source: Path, ids: set[str]) -> dict[str, str]:
    with gzip.open(source, "rt", encoding="utf-8") as fh:
        docs = (json.loads(line) for line in fh)
        return {d["_id"]: d["title"] for d in docs if d["_id"] in ids}


def assign_splits(items: list[dict], key: str) -> None:
    """Deal each group (same type or kind) alternately to dev and test after a seeded shuffle."""
    rng = random.Random(SEED)
    sizes: Counter[str] = Counter()
    for group in sorted({item[key] for item in items}):
        members = [item for item in items if item[key] == group]
        rng.shuffle(members)
        first = "test" if sizes["test"] < sizes["dev"] else "dev"
        other = "dev" if first == "test" else "test"
        for i, item in enumerate(members):
            item["split"] = first if i % 2 == 0 else other
            sizes[item["split"]] += 1


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE
    corpus = set((HERE / "corpus_ids.txt").read_text(encoding="utf-8").split())
    names = titles(source, corpus)
    answerable = [
        {"id": f"q{i:03d}", "doc_id": d, "title": names[d], "question": q, "answer": a, "type": t}
        for i, (d, t, q, a) in enumerate(rows(HERE / "written.tsv"), 1)
    ]
    unanswerable = []
    for i, (kind, doc_id, question) in enumerate(rows(HERE / "unanswerable.tsv"), 1):
        item = {"id": f"n{i:03d}", "question": question, "kind": kind}
        if doc_id:
            item |= {"doc_id": doc_id, "title": names[doc_id]}
        unanswerable.append(item)
    assign_splits(answerable, "type")
    assign_splits(unanswerable, "kind")
    out = HERE / "questions.jsonl"
    with out.open("w", encoding="utf-8") as fh:
        for item in answerable + unanswerable:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(f"{len(answerable)} in-corpus and {len(unanswerable)} unanswerable questions -> {out}")


if __name__ == "__main__":
    main()
