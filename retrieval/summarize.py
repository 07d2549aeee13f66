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

from retrieval.analyzer import analyze
from retrieval.cleaning import Article, is_faq_heading
from retrieval.sentences import split_sentences

MIN_SENTENCE_WORDS = 8
MAX_SENTENCE_WORDS = 45
FIGURE_BONUS = 2.0  # added to the weight of terms carrying a digit ($5.6, h800, 2025)
TITLE_BOOST = 1.5
POSITION_BONUS = 0.5  # the first sentence counts 1.5x, the last 1x
LENGTH_EXPONENT = 0.3
_CALLOUTS = ("key takeaway:", "note:", "reminder:", "tip:", "update:", "editor's note:")


def summary_length(word_count: int) -> int:
    """How many sentences: 2 for a short note, up to 4 for a long feature."""
    if word_count < 250:
        return 2
    if word_count < 1200:
        return 3
    return 4


def _candidates(article: Article) -> list[str]:
    """Body sentences a reader would accept in a summary (no headings, FAQ, callouts)."""
    sentences: list[str] = []
    for block in article.blocks:
        if block.kind == "heading" and is_faq_heading(block.text):
            break
        if block.kind != "paragraph" or block.text.casefold().startswith(_CALLOUTS):
            continue
        for sentence in split_sentences(block.text):
            n = len(sentence.split())
            if MIN_SENTENCE_WORDS <= n <= MAX_SENTENCE_WORDS and not sentence.endswith("?"):
                sentences.append(sentence)
    return sentences


def summarize(article: Article) -> str:
    """The summary of a cleaned article; empty only when the article has no usable sentence."""
    sentences = _candidates(article)
    if not sentences:
        sentences = [s for b in article.blocks for s in split_sentences(b.text)][:2]
        return " ".join(sentences)
    want = min(summary_length(len(article.text.split())), len(sentences))
    terms = [set(analyze(s)) for s in sentences]
    frequency = Counter(t for s in sentences for t in analyze(s))
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
    sentences = [s for b in article.blocks if b.kind != "heading" for s in split_sentences(b.text)]
    return " ".join(sentences[:n])
