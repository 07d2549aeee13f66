"""Extractive summaries: 2-4 of an article's own sentences, in document order.

Lead-3 (the first three sentences) is the baseline a news summary must beat: it fails when an
article opens with a hook or spends its first sentences on one detail. Here the summary is chosen
to cover the article's vocabulary (a greedy maximum-coverage selection, the submodular approach
of Lin and Bilmes): each sentence gains the weight of the terms it adds that the summary does not
yet hold. Term weight is the log frequency in the article, raised for title terms and for figures
(numbers, money, model names), which readers look for in a summary. A mild length normaliser
and a preference for earlier sentences keep it from picking the longest or the last sentences.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from itertools import islice

from retrieval.analyzer import analyze
from retrieval.cleaning import Article, is_faq_heading
from retrieval.sentences import iter_sentences

MIN_SENTENCE_WORDS = 8
MAX_SENTENCE_WORDS = 45
FIGURE_BONUS = 2.0  # added to the weight of terms carrying a digit ($5.6, h800, 2025)
TITLE_BOOST = 1.5
POSITION_BONUS = 0.5  # the first sentence counts 1.5x, the last 1x
LENGTH_EXPONENT = 0.3
# Candidates read from the start of the article: a long feature has a few hundred, and a
# 2-million-character upload must not cost analysing every one of its sentences.
MAX_CANDIDATES = 1000
MAX_SENTENCES_READ = 20_000  # ... among the first sentences: a long book has 100,000
# Without one acceptable sentence, the first two sentences are the summary, up to this much.
MAX_FALLBACK_WORDS = 200
MAX_FALLBACK_CHARS = 1500
_CALLOUTS = ("key takeaway:", "note:", "reminder:", "tip:", "update:", "editor's note:")


def summary_length(word_count: int) -> int:
    """How many sentences: 2 for a short note, up to 4 for a long feature."""
    if word_count < 250:
        return 2
    if word_count < 1200:
        return 3
    return 4


def _candidates(article: Article) -> list[str]:
    """Body sentences a reader would accept in a summary (no headings, FAQ, callouts), the
    first MAX_CANDIDATES of them."""
    return list(islice(_acceptable(article), MAX_CANDIDATES))


def _acceptable(article: Article) -> Iterator[str]:
    read = 0
    for block in article.blocks:
        if block.kind == "heading" and is_faq_heading(block.text):
            return
        if block.kind != "paragraph" or block.text.casefold().startswith(_CALLOUTS):
            continue
        split = article.split.get(block.text)  # split already, by the passage splitter
        for sentence in iter_sentences(block.text) if split is None else split:
            read += 1
            if read > MAX_SENTENCES_READ:
                return
            n = sentence.count(" ") + 1  # its words: a sentence comes with single spaces
            if MIN_SENTENCE_WORDS <= n <= MAX_SENTENCE_WORDS and not sentence.endswith("?"):
                yield sentence


def _sentences(article: Article, *, headings: bool = True) -> Iterator[str]:
    """The article's sentences in order, split only as far as the caller reads."""
    for block in article.blocks:
        if headings or block.kind != "heading":
            yield from iter_sentences(block.text)


def _fallback(article: Article) -> str:
    """The first two sentences, clipped. Only the start of each block is split: what lies
    past MAX_FALLBACK_CHARS (and a margin for the boundary) is clipped away in any case."""
    head = MAX_FALLBACK_CHARS + 100
    sentences = (s for b in article.blocks for s in iter_sentences(b.text[:head]))
    return _clip(" ".join(islice(sentences, 2)))


def _clip(text: str) -> str:
    """At most MAX_FALLBACK_WORDS words and MAX_FALLBACK_CHARS characters, cut with an
    ellipsis: the fallback takes whole sentences, and text without punctuation is one."""
    head = text[: MAX_FALLBACK_CHARS + 1]  # the rest is never split into words
    words = head.split()
    if len(text) <= MAX_FALLBACK_CHARS and len(words) <= MAX_FALLBACK_WORDS:
        return text
    if len(head) > MAX_FALLBACK_CHARS and not head[-1].isspace():
        words.pop()  # it goes past the limit
    if not words:  # one word longer than the limit
        return head[:MAX_FALLBACK_CHARS] + "…"
    return " ".join(words[:MAX_FALLBACK_WORDS]) + "…"


def summarize(article: Article) -> str:
    """The summary of a cleaned article; empty only when the article has no usable sentence."""
    sentences = _candidates(article)
    if not sentences:
        return _fallback(article)
    want = min(summary_length(len(article.text.split())), len(sentences))
    analysed = [analyze(s) for s in sentences]  # once per sentence: it is most of the cost
    terms = [set(a) for a in analysed]
    frequency = Counter(t for a in analysed for t in a)
    title = set() if article.title_derived else set(analyze(article.title))
    weight = {
        t: math.log1p(c) * (TITLE_BOOST if t in title else 1.0)
        + (FIGURE_BONUS if any(ch.isdigit() for ch in t) else 0.0)
        for t, c in frequency.items()
    }
    covered: set[str] = set()
    chosen: list[int] = []
    total = len(sentences)
    while len(chosen) < want:
        best, best_gain = -1, -1.0
        for i, sentence_terms in enumerate(terms):
            if i in chosen:
                continue
            gain = sum(weight[t] for t in sentence_terms - covered)
            gain /= len(sentences[i].split()) ** LENGTH_EXPONENT
            gain *= 1.0 + POSITION_BONUS * (1.0 - i / total)
            if gain > best_gain:
                best, best_gain = i, gain
        chosen.append(best)
        covered |= terms[best]
    return " ".join(sentences[i] for i in sorted(chosen))


def lead_sentences(article: Article, n: int = 3) -> str:
    """The lead-n baseline: the first n sentences of the body."""
    return " ".join(islice(_sentences(article, headings=False), n))
