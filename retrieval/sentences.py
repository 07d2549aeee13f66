"""Sentence boundaries, for splitting long paragraphs, extractive summaries, the direct answer
and the rerank's proximity (one splitter for all of them).

A regular expression with an abbreviation guard is enough for news prose; it keeps "U.S.",
"$5.6 million." and "e.g." inside their sentences.

Hostile text is full of candidate boundaries ("Mr. Mr. Mr.", "A. A. A.", runs of dots), so the
pattern does the common part of the guard itself and never backtracks: splitting costs one
pass over the text, and the Python guard runs only for the candidates the pattern cannot
decide.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator

_ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof st jr sr inc ltd co corp vs etc e.g i.e u.s u.k u.n no fig approx jan
    feb mar apr jun jul aug sep sept oct nov dec
    """.split()
)
_TRAILING = ".!?…\"'”’)]"  # stripped from the word before a boundary
_LONGEST = max(len(word) for word in _ABBREVIATIONS)
# Whitespace other than the space (what `\s` matches is what str.isspace says is whitespace).
_OTHER_SPACE = re.compile(r"[^\S ]")
_LEADING_MARKS = re.compile(r"^[\s•·◦▪‣*\-–—>]+")  # bullets before a line's first sentence
_MARKS = frozenset("•·◦▪‣*-–—>")  # what _LEADING_MARKS takes that is not whitespace
_WORD = re.compile(r"\S+")


def _kept_words() -> str:
    """Lookbehinds, read just after a ".", that reject it as a boundary when it follows a
    whole word that is an abbreviation or a single letter, in ASCII spelled in any case: a
    subset of what the guard in `iter_sentences` rejects, decided inside the pattern. A
    lookbehind has one width, so there is one per word length."""
    by_length: dict[int, list[str]] = defaultdict(list)
    for word in sorted(_ABBREVIATIONS):
        spelled = "".join(f"[{c.upper()}{c}]" if c.isalpha() else re.escape(c) for c in word)
        by_length[len(word)].append(spelled)
    by_length[1].append("[A-Za-z]")
    return "".join(
        rf"(?<!(?<![^ ])(?:{'|'.join(words)})\.)" for _, words in sorted(by_length.items())
    )


# A candidate boundary: terminal punctuation, optional closing quote/bracket, whitespace, then
# something that can start a sentence. It opens with a character class, which the regex
# engine searches for quickly; it goes on only from the first mark of a run (checked before
# anything reads the run: a run of 10,000 dots costs one pass, not 10,000 passes of 10,000
# steps, 12 s before); it looks ahead for the rest before the abbreviation guard; and it
# never gives characters back (possessive: giving back cannot make it match).
_TAIL = r"""[.!?…]*+["'”’)\]]*+"""
_STARTER = r"""(?=["'“‘(\[]?[A-Z0-9$])"""
_BOUNDARY = re.compile(
    rf"([.!?…](?<![.!?…][.!?…])(?={_TAIL}\s++{_STARTER})"
    rf"(?:(?<!\.)|{_kept_words()}){_TAIL})\s++"
)


def _uneven(text: str) -> bool:
    """Whether `text` has whitespace other than single spaces between words (only then is it
    respaced): a double space, a space at either end, or other whitespace, which no printable
    text holds (every whitespace character but the space is a control or separator). A
    pattern of those alternatives was tried at every position of the text, ten times the cost
    of splitting it."""
    if "  " in text or text[:1] == " " or text[-1:] == " ":
        return True
    return not text.isprintable() and _OTHER_SPACE.search(text) is not None


def iter_sentences(text: str) -> Iterator[str]:
    """The sentences of `text` in order, each with its own punctuation; lazily, so a caller
    that needs the first one stops there."""
    return _even_sentences(" ".join(text.split()) if _uneven(text) else text)


def _even_sentences(text: str) -> Iterator[str]:
    """`iter_sentences` of a text with single spaces between its words."""
    # In ASCII text the pattern has already rejected every abbreviation and single letter,
    # unless a bracket or quote stands between the word and its dot ("(Mr).").
    ascii_text = text.isascii()
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.end(1)
        run = m.start()
        if text[run] == "." and (not ascii_text or text[run - 1] in _TRAILING):
            # The word before the boundary, found without copying the sentence so far (a text
            # of many abbreviations would otherwise cost quadratic time); a long one that ends
            # in a letter is no abbreviation.
            word_start = max(text.rfind(" ", start, run) + 1, start)
            if run - word_start <= _LONGEST or text[run - 1] in _TRAILING:
                last_word = text[word_start:end].rstrip(_TRAILING).casefold()
                if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
                    continue
        yield text[start:end].strip()
        start = m.end()
    tail = text[start:].strip()
    if tail:
        yield tail


# Sentences of the short texts split last: ingest splits a paragraph for its summary and then
# again for its passage's layout (`retrieval.term_offsets`), and the rerank reads the same
# popular passages again and again. Texts up to MEMO_CHARS, at most MEMO_TEXTS of them (the
# memo is emptied when full).
MEMO_CHARS = 10_000
MEMO_TEXTS = 1024
_SPLIT: dict[str, tuple[str, ...]] = {}


def sentences_of(text: str) -> tuple[str, ...] | Iterator[str]:
    """`iter_sentences(text)`: remembered when the text is short, lazy when it is long."""
    return _remembered(text, iter_sentences)


def _remembered(
    text: str, split: Callable[[str], Iterator[str]]
) -> tuple[str, ...] | Iterator[str]:
    """`split(text)` (`iter_sentences`, or `_even_sentences` for a text known to be evenly
    spaced): from the memo, or split and remembered when the text is short."""
    if len(text) > MEMO_CHARS:
        return split(text)
    found = _SPLIT.get(text)
    if found is None:
        if len(_SPLIT) >= MEMO_TEXTS:
            _SPLIT.clear()
        found = _SPLIT[text] = tuple(split(text))
    return found


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences, keeping each sentence's own punctuation."""
    return list(iter_sentences(text))


def sentence_offsets(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each sentence of `text`, line by line, with leading bullet marks left
    out. `iter_sentences` respaces uneven whitespace, so its sentences are found again in the
    text word by word rather than assumed to be substrings of it."""
    line_start = 0
    for line in text.split("\n"):
        for start, end in _line_sentences(line):
            yield line_start + start, line_start + end
        line_start += len(line) + 1


def _line_sentences(line: str) -> Iterator[tuple[int, int]]:
    if not line.strip():
        return
    if not _uneven(line):
        # With single spaces, the sentences follow one another a space apart.
        pos = 0
        for sentence in _remembered(line, _even_sentences):
            if not line.startswith(sentence, pos):  # cannot happen; stop rather than guess
                return
            end = pos + len(sentence)
            yield _trim_marks(line, pos, end)
            pos = end + 1
        return
    # Respaced: walk the words of the line and of each sentence in step.
    words = [(m.start(), m.end()) for m in _WORD.finditer(line)]
    i = 0
    for sentence in iter_sentences(line):
        n = len(sentence.split())
        if i + n > len(words):
            return
        yield _trim_marks(line, words[i][0], words[i + n - 1][1])
        i += n


def _trim_marks(line: str, start: int, end: int) -> tuple[int, int]:
    if start < end and line[start] not in _MARKS and not line[start].isspace():
        return start, end
    m = _LEADING_MARKS.match(line, start, end)
    return (m.end() if m else start), end
