"""Is a word the corpus does not know a typo, or a real word the corpus simply lacks?

"pride" is missing from a corpus about other things; searching it as "prime" would answer a
question the corpus cannot. "borow" and "comission" are typos. The test is a list of 82,765
English words with their frequencies that symspellpy ships (built from Google Books n-grams and
SCOWL): a word on it is taken as typed, any other alphabetic word may be corrected to a close
word of the corpus. Only the list is used (loaded once, on the first unknown word); the edit
distances come from rapidfuzz, against the corpus's own vocabulary.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

DICTIONARY = "frequency_dictionary_en_82_765.txt"
MIN_LETTERS = 4  # shorter words have too many neighbours one typo away


@cache
def english_words() -> frozenset[str]:
    text = resources.files("symspellpy").joinpath(DICTIONARY).read_text(encoding="utf-8")
    return frozenset(line.split(" ", 1)[0] for line in text.splitlines() if line)


def may_be_typo(word: str) -> bool:
    """Whether an unknown word is worth correcting: long enough, letters only, not English."""
    word = word.casefold().replace("’", "'")
    if word.endswith("'s"):  # "deepsek's": the word is what comes before
        word = word[:-2]
    return len(word) >= MIN_LETTERS and word.isalpha() and word not in english_words()
