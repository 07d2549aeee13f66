"""Sentence boundaries, for splitting long paragraphs and for extractive summaries.

A regular expression with an abbreviation guard is enough for news prose; it keeps "U.S.",
"$5.6 million." and "e.g." inside their sentences.
"""

from __future__ import annotations

import re

_ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof st jr sr inc ltd co corp vs etc e.g i.e u.s u.k u.n no fig approx jan
    feb mar apr jun jul aug sep sept oct nov dec
    """.split()
)

# A candidate boundary: terminal punctuation, optional closing quote/bracket, whitespace, then
# something that can start a sentence.
_BOUNDARY = re.compile(r"""([.!?…]+["'”’)\]]*)\s+(?=["'“‘(\[]?[A-Z0-9$])""")


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences, keeping each sentence's own punctuation."""
    text = " ".join(text.split())
    if not text:
        return []
    sentences: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.end(1)
        # The word before the boundary, found without copying the sentence so far (a text of
        # many abbreviations would otherwise cost quadratic time).
        word_start = max(text.rfind(" ", start, end) + 1, start)
        last_word = text[word_start:end].rstrip(".!?…\"'”’)]").casefold()
        if m.group(1).startswith(".") and (
            last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha())
        ):
            continue
        sentences.append(text[start:end].strip())
        start = m.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences
