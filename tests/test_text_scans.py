"""The fast scans of ingest give what the patterns they replace give.

Sentence splitting decides whether a text is evenly spaced without a pattern tried at every
position, and the Markdown line rules are written from the line break before the line; the
stored passages and summaries depend on both giving exactly what the plain patterns give.
"""

from __future__ import annotations

import itertools
import re
import sys

from retrieval import files
from retrieval.sentences import _uneven, iter_sentences, sentence_offsets

_UNEVEN_PATTERN = re.compile(r"[^\S ]|  |^ | $")
_WHITESPACE = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]


def test_every_whitespace_character_is_uneven_but_the_space() -> None:
    for ch in _WHITESPACE:
        for text in (f"a{ch}b", f"{ch}a", f"a{ch}", ch, f"x{ch}y z"):
            assert _uneven(text) == bool(_UNEVEN_PATTERN.search(text)), repr(text)


def test_uneven_agrees_with_the_pattern_on_short_texts() -> None:
    alphabet = ["a", " ", "\t", "\n", "\xa0", "\u2003", "é", "\xad", "."]
    for n in range(5):
        for chars in itertools.product(alphabet, repeat=n):
            text = "".join(chars)
            assert _uneven(text) == bool(_UNEVEN_PATTERN.search(text)), repr(text)


def test_unevenly_spaced_text_splits_as_its_respaced_form() -> None:
    text = "Dr. Smith  arrived.\tHe left.\u2003Then   she spoke. "
    assert list(iter_sentences(text)) == ["Dr. Smith arrived.", "He left.", "Then she spoke."]
    line = "• First one. Second one! Third?"
    assert [line[a:b] for a, b in sentence_offsets(line)] == [
        "First one.",
        "Second one!",
        "Third?",
    ]


_LINE_RULES = {
    "ref": re.compile(r"^[ \t]*+\[[^\]\n]{1,300}+\]:[ \t]++\S.*$", re.M),
    "quote": re.compile(r"^[ \t]{0,3}>[ \t]?", re.M),
    "rule": re.compile(r"^[ \t]*+([-*_])(?:[ \t]*+\1){2,}+[ \t]*+$", re.M),
    "table": re.compile(r"^[ \t]*+(?:\|[ \t]*+)?:?-{3,}.*$", re.M),
}


def test_line_rules_remove_what_the_line_start_patterns_remove() -> None:
    ours = {"ref": files._REF_LINK, "quote": files._QUOTE, "rule": files._RULE}
    ours["table"] = files._TABLE_RULE
    pieces = ["", "\n", " ", "\t", ">", "-", "*", "_", "|", ":", "[a]", ": x", "a", "---"]
    for name, plain in _LINE_RULES.items():
        for parts in itertools.product(pieces, repeat=3):
            text = "".join(parts)
            want = plain.sub("", text)
            assert files._drop_at_line_starts(ours[name], text) == want, (name, text)


def test_markdown_line_rules_in_place() -> None:
    text = "> quoted\n---\nkept | cell\n| --- | --- |\n[ref]: https://example.com\n***\nend"
    assert files.markdown_to_text(text) == "quoted\n\nkept   cell\n\n\n\nend"


def test_line_count_counts_lines_that_are_not_blank() -> None:
    text = "one\n\n  \ntwo\n\t three\n"
    assert len(files._TEXT_LINE.findall("\n" + text)) == 3


_PLAIN_TOKEN = re.compile(r"\$?\d{1,3}(?:,\d{3})+(?:\.\d+)?|\$\d+(?:\.\d+)*|\w+(?:[-.'/&]\w+)*")


def test_possessive_tokens_are_the_plain_patterns_tokens() -> None:
    from retrieval.analyzer import _TOKEN, _TOKEN_SPLIT

    pieces = ["", "a", "1", "12", "1234", "$", ",", ",000", ".", "-", "'", "&", " ", "٣", "²"]
    for parts in itertools.product(pieces, repeat=4):
        text = "".join(parts)
        assert _TOKEN.findall(text) == _PLAIN_TOKEN.findall(text), text
        assert _TOKEN_SPLIT.split(text) == re.split(f"({_PLAIN_TOKEN.pattern})", text), text
