"""Is a word the corpus does not know a typo, or a real word the corpus simply lacks?

"pride" is missing from a corpus about other things; searching it as "prime" would answer a
question the corpus cannot. "borow" and "comission" are typos. The test is a list of 82,765
English words with their frequencies that symspellpy ships (built from Google Books n-grams and
SCOWL): a word on it is taken as typed, any other alphabetic word may be corrected to a close
word of the corpus. Only the list is used (loaded once, on the first unknown word); the edit
distances come from rapidfuzz (imported by the first correction), against the corpus's own
vocabulary.
"""

from __future__ import annotations

import importlib.util
from functools import cache, lru_cache
from pathlib import Path

DICTIONARY = "frequency_dictionary_en_82_765.txt"
MIN_LETTERS = 4  # shorter words have too many neighbours one typo away


def _dictionary_text() -> str:
    """The word list's text, found without importing symspellpy: importing the package loads
    its whole spelling engine (about 20 ms of every `citebot ask`), and only this file is used."""
    spec = importlib.util.find_spec("symspellpy")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / DICTIONARY
        if path.is_file():
            return path.read_text(encoding="utf-8")
    # Not a plain folder (a zip, say): let importlib find the file, importing the package.
    from importlib import resources

    return resources.files("symspellpy").joinpath(DICTIONARY).read_text(encoding="utf-8")


@cache
def _english_counts() -> tuple[dict[str, int], int]:
    """Each word of the list with its count, and the sum of all counts."""
    text = _dictionary_text()
    counts = {}
    for line in text.splitlines():
        word, _, count = line.partition(" ")
        if word:
            counts[word] = int(count) if count.isdigit() else 1
    return counts, sum(counts.values()) or 1


def english_words() -> dict[str, int]:
    """The word list (a mapping, for its fast membership test)."""
    return _english_counts()[0]


def english_share(word: str) -> float:
    """How often `word` occurs in English text, per word (0.0 when the list lacks it): "money"
    about 3 in 10,000, "headquartered" 4 in a million."""
    counts, total = _english_counts()
    return counts.get(word.casefold(), 0) / total


def may_be_typo(word: str) -> bool:
    """Whether an unknown word is worth correcting: long enough, letters only, not English."""
    word = word.casefold().replace("’", "'")
    if word.endswith("'s"):  # "deepsek's": the word is what comes before
        word = word[:-2]
    return len(word) >= MIN_LETTERS and word.isalpha() and word not in english_words()


@cache
def _english_by_length() -> dict[int, list[str]]:
    """The alphabetic words of the list by length (rapidfuzz compares against one length)."""
    out: dict[int, list[str]] = {}
    for word in english_words():
        if word.isalpha():
            out.setdefault(len(word), []).append(word)
    return out


@lru_cache(maxsize=4096)
def english_corrections(word: str) -> tuple[str, ...]:
    """The English words closest to a word that is not one ("maried": "married", "marked",
    "varied"): one edit away (two for 8 letters or more), those it misses letters of first,
    then the most common; () when none
    is that close or the word is English. Cached: names recur in questions and each look-up
    scans the words of about its length (a few milliseconds)."""
    word = word.casefold()
    if not may_be_typo(word):
        return ()
    # Imported here, by the first correction: most questions have none to make.
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    allowed = 1 if len(word) < 8 else 2
    counts = english_words()
    found: list[tuple[int, bool, int, str]] = []
    for size in range(len(word) - allowed, len(word) + allowed + 1):
        for other, distance, _ in process.extract(
            word,
            _english_by_length().get(size, ()),
            scorer=Levenshtein.distance,
            score_cutoff=allowed,
            limit=20,
        ):
            found.append((int(distance), not dropped_letters(word, other), -counts[other], other))
    if not found:
        return ()
    closest = min(found)[0]
    return tuple(f[-1] for f in sorted(found) if f[0] == closest)


def dropped_letters(typed: str, word: str) -> bool:
    """Whether `typed` is `word` with letters left out ("spnd" of "spend", "learing" of
    "learning"): the commonest typo in chat, so such a word is preferred among equally close
    ones ("spend" to "send")."""
    letters = iter(word)
    return all(ch in letters for ch in typed)
