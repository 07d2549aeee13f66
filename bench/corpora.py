"""The passages the scale benchmark indexes, and the queries it asks.

Two kinds of corpus, both stored in bench/.cache as one passage's space-joined terms per line
(exactly what citebot keeps in `passages.terms`), so every engine subprocess reads the same input:

- synthetic: a Zipfian vocabulary (200k terms, s = 1.1) and log-normal passage lengths around 60
  terms clipped to 10..150, generated with numpy from a fixed seed. Term strings are 2-3 syllables
  (4-6 characters, frequent terms shorter), about the length of stemmed English words, because
  string length drives memory and SQLite page counts.
- enwiki: real text, ~100-word passages cut from Wikipedia articles (enwiki2021_sample, then
  enwiki2015_AA_AB when more are needed) and analysed with citebot's analyzer. Limited by the
  samples' size: a few hundred thousand passages, so no real-text corpus of a million.

Queries are terms drawn with probability proportional to their corpus frequency, leaving out the
50 most frequent (stop-word-like) terms: common words are asked about, but a query is not made of
words every passage has.
"""

from __future__ import annotations

import gzip
import itertools
import json
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.cache import cache_path, read_lines, write_lines
from bench.common import CACHE

VOCAB = 200_000
ZIPF_S = 1.1
MEAN_LEN = 60
MIN_LEN, MAX_LEN = 10, 150
SKIP_TOP = 50
PASSAGE_WORDS = 100
SHORT = (2, 4)
LONG = (10, 16)
ENWIKI = ("enwiki2021_sample.jsonl.gz", "enwiki2015_AA_AB.jsonl.gz")

_CONSONANTS = "bcdfghjklmnprstvwxz"
_VOWELS = "aeiou"
_SYLLABLES = [c + v for c in _CONSONANTS for v in _VOWELS]  # 95


@dataclass(frozen=True)
class Corpus:
    """A passages file (terms, one passage per line), how many lines to use, and query terms."""

    kind: str
    size: int
    terms_path: Path
    text_path: Path | None  # the passages' original text, when there is one
    vocab: list[str]  # candidate query terms ...
    weights: np.ndarray  # ... and their sampling probabilities


def _word(rank: int) -> str:
    n = len(_SYLLABLES)
    word = _SYLLABLES[rank % n] + _SYLLABLES[(rank // n) % n]
    return word + _SYLLABLES[rank // (n * n) % n] if rank >= n * n else word


def _zipf_probabilities() -> np.ndarray:
    p = np.arange(1, VOCAB + 1, dtype=np.float64) ** -ZIPF_S
    return p / p.sum()


def synthetic(size: int, seed: int = 1) -> Corpus:
    """A generated corpus of `size` passages, written once to the cache."""
    vocab = [_word(r) for r in range(VOCAB)]
    probs = _zipf_probabilities()
    path = CACHE / f"synthetic-v1-z{ZIPF_S}-v{VOCAB}-n{size}-s{seed}.txt"
    if not path.is_file():
        write_lines(path, _generate(size, seed, vocab, probs))
    w = probs.copy()
    w[:SKIP_TOP] = 0
    return Corpus("synthetic", size, path, None, vocab, w / w.sum())


def _generate(size: int, seed: int, vocab: list[str], probs: np.ndarray):
    """Passages in chunks, so a million of them never sit in memory as Python strings at once."""
    rng = np.random.default_rng(seed)
    sigma = 0.5
    lengths = rng.lognormal(math.log(MEAN_LEN), sigma, size)
    lengths = np.clip(np.rint(lengths), MIN_LEN, MAX_LEN).astype(np.int64)
    cdf = np.cumsum(probs)
    words = np.array(vocab, dtype=object)
    chunk = 50_000
    for start in range(0, size, chunk):
        lens = lengths[start : start + chunk]
        ids = np.searchsorted(cdf, rng.random(int(lens.sum())) * cdf[-1])
        ids = np.minimum(ids, VOCAB - 1)
        tokens = words[ids]
        bounds = np.concatenate(([0], np.cumsum(lens)))
        for a, b in itertools.pairwise(bounds):
            yield " ".join(tokens[a:b])


def enwiki(data_dir: Path | None, size: int) -> Corpus | str:
    """Real passages from Wikipedia, or the reason there are not `size` of them."""
    sources = [data_dir / "scale" / name for name in ENWIKI] if data_dir else []
    sources = [s for s in sources if s.is_file()]
    if not sources:
        return f"no {' or '.join(ENWIKI)} under {data_dir}/scale"
    terms_path = cache_path("enwiki-terms", sources[0])
    text_path = cache_path("enwiki-text", sources[0])
    meta_path = cache_path("enwiki-meta", sources[0], ".json")
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {"count": 0}
    if meta["count"] < size and not meta.get("complete"):
        # Counting is cheap, analysing is not: never analyse a sample too small for `size`.
        available = meta.get("available") or sum(1 for _ in _passages(sources))
        if available < size:
            meta_path.write_text(json.dumps({**meta, "available": available}))
            names = ", ".join(s.name for s in sources)
            return f"only {available:,} real passages in {names}"
        meta = {**meta, **_cut_enwiki(sources, size, terms_path, text_path)}
        meta_path.write_text(json.dumps(meta))
    if meta["count"] < size:
        return f"only {meta['count']:,} real passages in {', '.join(s.name for s in sources)}"
    counts = Counter(t for line in read_lines(terms_path, size) for t in line.split())
    ranked = counts.most_common()[SKIP_TOP:]
    vocab = [t for t, _ in ranked]
    w = np.array([c for _, c in ranked], dtype=np.float64)
    return Corpus("enwiki", size, terms_path, text_path, vocab, w / w.sum())


def _cut_enwiki(
    sources: list[Path], size: int, terms_path: Path, text_path: Path
) -> dict[str, object]:
    """Analyse the first `size` passages of the samples (all of them if they have fewer)."""
    from retrieval.analyzer import analyze

    texts: list[str] = []
    for text in _passages(sources):
        texts.append(text)
        if len(texts) > size:
            break
    complete = len(texts) <= size  # the samples ran out
    texts = texts[:size]
    write_lines(text_path, texts)
    write_lines(terms_path, (" ".join(analyze(t)) for t in texts))
    return {"count": len(texts), "complete": complete}


def _passages(sources: list[Path]) -> Iterator[str]:
    """~100-word passages of every article in order; a short tail joins the article's last one."""
    for src in sources:
        with gzip.open(src, "rt", encoding="utf-8") as f:
            for line in f:
                words = json.loads(line)["text"].split()
                pieces = [words[i : i + PASSAGE_WORDS] for i in range(0, len(words), PASSAGE_WORDS)]
                if len(pieces) > 1 and len(pieces[-1]) < 20:
                    pieces[-2].extend(pieces.pop())
                yield from (" ".join(p) for p in pieces)


def queries(corpus: Corpus, count: int, lengths: tuple[int, int], seed: int) -> list[list[str]]:
    """`count` queries of lengths[0]..lengths[1] distinct terms, frequency-weighted."""
    rng = np.random.default_rng(seed)
    out = []
    for n in rng.integers(lengths[0], lengths[1] + 1, size=count):
        picks = rng.choice(len(corpus.vocab), size=int(n), replace=False, p=corpus.weights)
        out.append([corpus.vocab[i] for i in picks])
    return out
