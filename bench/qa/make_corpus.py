"""Choose the 300 Wikipedia articles of citebot's question-answering development set.

Why a script: the corpus must be reproducible from the shared dump without copying article text
into the repository. The rule is fixed before any question was written or any system was run:
articles of 300-3000 whitespace-separated words whose title does not start with "List of", in
file order, then a random.Random(20261126) sample of 300, written sorted by file order.

Usage: python bench/qa/make_corpus.py [path/to/enwiki2015_AA_AB.jsonl.gz]
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from pathlib import Path

SOURCE = Path("/work/shared/bench-data/scale/enwiki2015_AA_AB.jsonl.gz")
OUT = Path(__file__).with_name("corpus_ids.txt")
SEED = 20261126
SIZE = 300
MIN_WORDS, MAX_WORDS = 300, 3000


def eligible(source: Path) -> list[str]:
    """Ids of articles long enough to hold several passages and short enough to read by hand."""
    ids = []
    with gzip.open(source, "rt", encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            if doc["title"].startswith("List of"):
                continue
            if MIN_WORDS <= len(doc["text"].split()) <= MAX_WORDS:
                ids.append(doc["_id"])
    return ids


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE
    ids = eligible(source)
    order = {doc_id: i for i, doc_id in enumerate(ids)}
    chosen = sorted(random.Random(SEED).sample(ids, SIZE), key=order.__getitem__)
    OUT.write_text("".join(f"{doc_id}\n" for doc_id in chosen), encoding="utf-8")
    print(f"{len(ids)} eligible articles, {len(chosen)} written to {OUT}")


if __name__ == "__main__":
    main()
