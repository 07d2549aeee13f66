"""Turn the hand-written question files into bench/qa/questions.jsonl with a fixed dev/test split.

Why: the questions were written by a person (written.tsv and unanswerable.tsv in batch 1,
written2.tsv and unanswerable2.tsv in batch 2, written3.tsv and unanswerable3.tsv in batch 3,
written4.tsv and unanswerable4.tsv in batch 4);
this script only adds ids, article titles and the split, so that the split is decided once, by
rule, before any system is run. Split rule: within each in-corpus question type and each
unanswerable kind of one batch, the questions are shuffled with random.Random(seed of that batch)
and dealt alternately to dev and test, the first card of each group going to whichever split is
smaller so far (dev on a tie). Each call deals with its own fresh generator, so a batch's split
never depends on another batch. Tuning uses "dev" only; reported numbers use "test" only.

Batch 1 (seed 20261126) keeps its rows byte for byte: ids q001.. and n001.., no "batch" field.
Batch 2 (seed 20261127) continues the ids after batch 1 (q106.., n031..) and its rows carry
"batch": 2. Batch 3 (seed 20261128) continues after batch 2 (q206.., n071..) with "batch": 3.
Batch 4 (seed 20261129) continues after batch 3 (q266.., n101..) with "batch": 4; it may ask
about articles of batch 1 again (a different fact), which Batch.reuses records for check.py.
Later batches append in the same way, so earlier ids and splits never move.

Usage: python bench/qa/make_questions.py [path/to/enwiki2015_AA_AB.jsonl.gz]
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
SOURCE = Path("/work/shared/bench-data/scale/enwiki2015_AA_AB.jsonl.gz")
SEED = 20261126


@dataclass(frozen=True)
class Batch:
    """One sitting of hand-written questions: its files and the seed its split is dealt with.

    reuses names the earlier batches whose articles this batch may ask about again (with another
    fact); an article of any other earlier batch must not appear, so the batch stays a fresh check.
    """

    number: int
    written: str
    unanswerable: str
    seed: int
    reuses: tuple[int, ...] = ()


BATCHES = (
    Batch(1, "written.tsv", "unanswerable.tsv", SEED),
    Batch(2, "written2.tsv", "unanswerable2.tsv", 20261127),
    Batch(3, "written3.tsv", "unanswerable3.tsv", 20261128),
    Batch(4, "written4.tsv", "unanswerable4.tsv", 20261129, reuses=(1,)),
)


def rows(path: Path) -> list[list[str]]:
    """Tab-separated rows of a hand-written file, comments and blank lines skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line.strip() and not line.startswith("#")]


def titles(source: Path, ids: set[str]) -> dict[str, str]:
    with gzip.open(source, "rt", encoding="utf-8") as fh:
        docs = (json.loads(line) for line in fh)
        return {d["_id"]: d["title"] for d in docs if d["_id"] in ids}


def assign_splits(items: list[dict], key: str, seed: int = SEED) -> None:
    """Deal each group (same type or kind) alternately to dev and test after a seeded shuffle."""
    rng = random.Random(seed)
    sizes: Counter[str] = Counter()
    for group in sorted({item[key] for item in items}):
        members = [item for item in items if item[key] == group]
        rng.shuffle(members)
        first = "test" if sizes["test"] < sizes["dev"] else "dev"
        other = "dev" if first == "test" else "test"
        for i, item in enumerate(members):
            item["split"] = first if i % 2 == 0 else other
            sizes[item["split"]] += 1


def build(batch: Batch, names: dict[str, str], q_start: int, n_start: int) -> list[dict]:
    """The batch's questions, ids from q_start and n_start, in-corpus ones first, split dealt."""
    tag = {} if batch.number == 1 else {"batch": batch.number}
    answerable = [
        {"id": f"q{i:03d}", "doc_id": d, "title": names[d], "question": q, "answer": a, "type": t}
        | tag
        for i, (d, t, q, a) in enumerate(rows(HERE / batch.written), q_start)
    ]
    unanswerable = []
    for i, (kind, doc_id, question) in enumerate(rows(HERE / batch.unanswerable), n_start):
        item = {"id": f"n{i:03d}", "question": question, "kind": kind}
        if doc_id:
            item |= {"doc_id": doc_id, "title": names[doc_id]}
        unanswerable.append(item | tag)
    assign_splits(answerable, "type", batch.seed)
    assign_splits(unanswerable, "kind", batch.seed)
    return answerable + unanswerable


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE
    corpus = set((HERE / "corpus_ids.txt").read_text(encoding="utf-8").split())
    names = titles(source, corpus)
    items: list[dict] = []
    for batch in BATCHES:
        q_start = 1 + sum(item["id"].startswith("q") for item in items)
        n_start = 1 + sum(item["id"].startswith("n") for item in items)
        made = build(batch, names, q_start, n_start)
        items += made
        inside = sum(item["id"].startswith("q") for item in made)
        print(f"batch {batch.number}: {inside} in-corpus and {len(made) - inside} unanswerable")
    out = HERE / "questions.jsonl"
    with out.open("w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(f"{len(items)} questions -> {out}")


if __name__ == "__main__":
    main()
