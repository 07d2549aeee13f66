"""Reading source files and flattening Markdown: the checks that come before extraction.

Size and existence are checked before reading, and length before any text processing, so a
bad file is refused before anything is written or any heavy work is done; retrieval.extract
decides what the bytes are.

Markdown is flattened with the patterns it always used (each bounded to one line and a few
hundred characters), but those that could try hundreds of characters from every marker of a
hostile file ("*a *a *a ...", "[[[[", "<a <a <a") are run by small scanners that find the
same matches while reading each part of the text a bounded number of times (emphasis within a
budget of steps far beyond an article's, past which the marks left are dropped unpaired):
every step costs time linear in the input, with a small constant.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import BadSource

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 5 * 1024 * 1024
# The longest article text, in characters once decoded (about 350,000 words, a long book):
# more is a dump, not an article, and refusing it before cleaning bounds what an upload costs.
MAX_TEXT_CHARS = 2_000_000
# The most lines (not counting blank ones) an article may have. Cleaning reads text line by
# line, in Python; a book at the length limit has a few tens of thousands, and 200,000
# one-word lines are not an article.
MAX_LINES = 100_000
# The start of a line that is not blank, found after the line break before it: the pattern
# `^[^\S\n]*+\S` (re.M) would be tried at every position of the text, where a pattern that
# opens with a literal is tried only where the literal is (see `_drop_at_line_starts`).
_TEXT_LINE = re.compile(r"\n[^\S\n]*+\S")


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM) text, or a BadSource saying why not."""
    if not data.strip():
        raise BadSource(f"{name} is empty")
    if b"\x00" in data[:65536]:
        raise BadSource(f"{name} is a binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadSource(
            f"{name} is not UTF-8 text (undecodable byte at offset {exc.start}); "
            "save it as UTF-8 and try again"
        ) from None
    controls = sum(1 for ch in text[:65536] if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > 0.01 * min(len(text), 65536):
        raise BadSource(f"{name} looks like a binary file, not text")
    return text


# Every file name ending a source is read by (retrieval.extract reads each as its kind), for
# the surfaces to list: a file of another type is sniffed, and refused when it is none of them.
ACCEPTED_SUFFIXES = (".txt", ".text", ".md", ".markdown", ".html", ".htm", ".xhtml", ".pdf")


def check_size(name: str, size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise BadSource(
            f"{name} is {size / 1_048_576:.1f} MB; the limit is {MAX_FILE_BYTES // 1_048_576} MB"
        )


def check_length(name: str, text: str) -> None:
    """Refuse text over MAX_TEXT_CHARS, before any work is spent on it."""
    if len(text) > MAX_TEXT_CHARS:
        raise BadSource(
            f"{name} is too long ({len(text):,} characters; the limit is {MAX_TEXT_CHARS:,})"
        )


def check_lines(name: str, text: str) -> None:
    """Refuse text of more than MAX_LINES lines that are not blank (counted by the regex
    engine, before any line is read; blank lines cost the cleaner nothing)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = len(_TEXT_LINE.findall("\n" + text))
    if lines > MAX_LINES:
        raise BadSource(
            f"{name} has too many lines ({lines:,}; the limit is {MAX_LINES:,}): "
            "join its lines into paragraphs, or split it into several articles"
        )


def read_file_bytes(path: Path) -> bytes:
    """The bytes of a file to ingest, after the checks that need no reading."""
    if not path.exists():
        raise BadSource(f"no such file: {path}")
    if not path.is_file():
        raise BadSource(f"{path} is not a file")
    check_size(path.name, path.stat().st_size)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BadSource(f"cannot read {path}: {exc.strerror}") from None


# ---------------------------------------------------------------------------------------------
# Markdown

_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
_FENCE_MARK = re.compile(r"^[ \t]{0,3}(```|~~~)")
# Possessive quantifiers (*+, ++, {m,n}+) wherever giving characters back can never lead to a
# match: the same matches as the plain forms, without retrying every split of a long run (a
# line of 20,000 spaces took the table-rule pattern 30 s).
# The line patterns (`^...` in re.M) are written from the line break before the line, and run
# by `_drop_at_line_starts`: a pattern that opens with "^" is tried at every position of the
# text, one that opens with a literal only where the literal is (a fifth of the cost of
# reading an article's Markdown was these four patterns failing at every position). None of
# them reaches past its line's end.
_REF_LINK = re.compile(r"\n[ \t]*+\[[^\]\n]{1,300}+\]:[ \t]++\S.*$", re.M)  # ^...
_CODE = re.compile(r"`([^`\n]{0,300}+)`")
_QUOTE = re.compile(r"\n[ \t]{0,3}>[ \t]?")  # ^[ \t]{0,3}>[ \t]?
_RULE = re.compile(r"\n[ \t]*+([-*_])(?:[ \t]*+\1){2,}+[ \t]*+$", re.M)  # ^...
_TABLE_RULE = re.compile(r"\n[ \t]*+(?:\|[ \t]*+)?:?-{3,}.*$", re.M)  # ^...
_URL_END = re.compile(r"[)\n]")
URL_LIMIT = 500
EMPHASIS_LIMIT = 300
EMPHASIS_STEPS = 50_000  # exact pairing for this many emphasis matches or skips in a text
# Emphasis marks in the order they are tried at one position ("**" before "*").
_MARKS = ("**", "__", "*", "_", "~~")
# The mark first, its lookbehind after it: a pattern that starts with a literal is searched
# for quickly, one that starts with a lookbehind is tried at every position.
_OPENS = {mark: re.compile(rf"{re.escape(mark)}(?<!\w{re.escape(mark)})(?=\S)") for mark in _MARKS}
_CLOSES = {mark: re.compile(rf"{re.escape(mark)}(?<=\S{re.escape(mark)})(?!\w)") for mark in _MARKS}
# Any mark that could open or close an emphasis: what is dropped, unpaired, past the budget.
_LONE_MARK = re.compile(r"(?<!\w)(?:\*\*|__|\*|_|~~)(?=\S)|(?<=\S)(?:\*\*|__|\*|_|~~)(?!\w)")


class _Next:
    """Where a pattern next matches, at or after a position.

    The scanners below ask with positions that only grow, so an answer is reused until they
    pass it and each stretch of the text is searched once, however many openers share it.
    """

    __slots__ = ("_at", "_from", "_pattern", "_text")

    def __init__(self, pattern: re.Pattern[str], text: str) -> None:
        self._pattern, self._text = pattern, text
        self._from, self._at = 0, -2  # -2: not searched yet

    def at(self, pos: int) -> int:
        """The start of the first match at or after `pos`; -1 if there is none."""
        if self._from <= pos and (pos <= self._at or self._at == -1):
            return self._at
        m = self._pattern.search(self._text, pos)
        self._from, self._at = pos, (m.start() if m else -1)
        return self._at


@dataclass(frozen=True, slots=True)
class _Inline:
    """An inline construct as its pattern reads it: an opener, then `shortest` to `longest`
    characters up to the first `ends` character of the line, which must be the closing one
    (not a newline); with `url`, then "(" and up to URL_LIMIT characters to the first ")" of
    the line. `keep`: the text between opener and closer replaces the construct (link text),
    else the construct is dropped (an HTML tag)."""

    opener: re.Pattern[str]
    widest_opener: int
    ends: re.Pattern[str]
    shortest: int
    longest: int
    url: bool
    keep: bool


# !\[([^\]\n]{0,300})\]\([^)\n]{0,500}\)  ->  \1
_IMAGE = _Inline(re.compile(r"!\["), 2, re.compile(r"[\]\n]"), 0, 300, url=True, keep=True)
# \[([^\]\n]{1,300})\]\([^)\n]{0,500}\)  ->  \1
_LINK = _Inline(re.compile(r"\["), 1, re.compile(r"[\]\n]"), 1, 300, url=True, keep=True)
# </?[A-Za-z][^>\n]{0,500}>  ->  (nothing)
_TAG = _Inline(re.compile(r"</?[A-Za-z]"), 3, re.compile(r"[>\n]"), 0, 500, url=False, keep=False)


def _replace_inline(text: str, spec: _Inline) -> str:
    """`re.sub` of the pattern `spec` stands for, in linear time.

    The pattern's run excludes its closing character, so a match from an opener ends at the
    first closing character (or newline) after it, and every opener before that character
    shares its fate. When an opener fails, the scan jumps to the first opener that could
    succeed instead of trying each one for hundreds of characters ("[[[[", "<a <a <a").
    """
    ends = _Next(spec.ends, text)
    url_ends = _Next(_URL_END, text)
    out: list[str] = []
    copied = pos = 0
    while (m := spec.opener.search(text, pos)) is not None:
        p, start = m.start(), m.end()
        close = ends.at(start)
        if close < 0:
            break  # no closing character or newline anywhere after: no later opener closes
        if text[close] == "\n":
            pos = close + 1
            continue
        if close - start > spec.longest:
            pos = max(p + 1, close - spec.longest - spec.widest_opener)
            continue
        if close - start < spec.shortest:
            pos = p + 1
            continue
        end = close + 1
        if spec.url:
            if not text.startswith("(", close + 1):
                pos = close + 1
                continue
            url_end = url_ends.at(close + 2)
            if url_end < 0:
                break
            if text[url_end] == "\n":
                pos = url_end + 1
                continue
            if url_end - (close + 2) > URL_LIMIT:
                far = url_end - 2 - URL_LIMIT - spec.longest - spec.widest_opener
                pos = max(close + 1, far)
                continue
            end = url_end + 1
        out.append(text[copied:p])
        if spec.keep:
            out.append(text[start:close])
        copied = pos = end
    if not out:
        return text
    out.append(text[copied:])
    return "".join(out)


class _OutOfSteps(Exception):
    """The exact emphasis scan used its budget; the rest of the text gets the plain rule."""


class _EmphasisScan:
    """Finds, mark by mark, the matches of the emphasis pattern in one text.

    Each call costs a few steps; a text gets EMPHASIS_STEPS of them, far more than an
    article's emphasis needs, after which `_OutOfSteps` is raised.
    """

    __slots__ = ("_closes", "_text", "steps")

    def __init__(self, text: str) -> None:
        self._text = text
        self._closes = {mark: _Next(_CLOSES[mark], text) for mark in _MARKS}
        self.steps = EMPHASIS_STEPS

    def first(self, mark: str, pos: int) -> tuple[int, int] | None:
        """Where `mark` first opens an emphasis at or after `pos`, and where that one closes.

        As `(?<!\\w)MARK(?=\\S)([^\\n]{1,300}?)(?<=\\S)MARK(?!\\w)` reads it: the first
        closing mark after the opener, if it is on the same line and within EMPHASIS_LIMIT
        characters. Openers that cannot reach a closing mark are skipped in one jump, not
        scanned one by one.
        """
        text, opens, closes, size = self._text, _OPENS[mark], self._closes[mark], len(mark)
        while (m := opens.search(text, pos)) is not None:
            self.steps -= 1
            if self.steps < 0:
                raise _OutOfSteps
            p = m.start()
            start = p + size
            close = closes.at(start + 1)
            if close < 0:
                return None
            if close - start > EMPHASIS_LIMIT:
                # Every opener before this point is too far from the first closing mark.
                pos = max(p + 1, close - size - EMPHASIS_LIMIT)
                continue
            newline = text.rfind("\n", start, close)
            if newline < 0:
                return p, close
            pos = newline + 1  # openers before the line break cannot close across it
        return None


def _strip_emphasis(text: str) -> str:
    """One pass of `(?<!\\w)(\\*\\*|__|\\*|_|~~)(?=\\S)([^\\n]{1,300}?)(?<=\\S)\\1(?!\\w)`
    replaced by its text, in linear time: each mark's next match is found by
    `_EmphasisScan.first` and kept until the scan passes it; the leftmost wins, and at one
    position the marks' order ("**" before "*").

    Past EMPHASIS_STEPS (a text made of emphasis, not an article), the marks left that could
    open or close one are dropped without pairing them, in one pass of the regex engine.
    """
    if "*" not in text and "_" not in text and "~" not in text:
        return text
    scan = _EmphasisScan(text)
    out: list[str] = []
    copied = 0
    try:
        found: dict[str, tuple[int, int]] = {}  # in the marks' order: ties go to the first
        for mark in _MARKS:
            hit = scan.first(mark, 0)
            if hit is not None:
                found[mark] = hit
        while found:
            best_mark, best_start = "", -1
            for mark, (start, _) in found.items():
                if not best_mark or start < best_start:
                    best_mark, best_start = mark, start
            close = found[best_mark][1]
            out.append(text[copied:best_start])
            out.append(text[best_start + len(best_mark) : close])
            copied = close + len(best_mark)
            for mark in [m for m, (start, _) in found.items() if start < copied]:
                hit = scan.first(mark, copied)
                if hit is None:
                    del found[mark]
                else:
                    found[mark] = hit
    except _OutOfSteps:
        log.info("emphasis beyond %d steps: the rest is unpaired", EMPHASIS_STEPS)
        out.append(_LONE_MARK.sub("", text[copied:]))
        return "".join(out)
    if not out:
        return text
    out.append(text[copied:])
    return "".join(out)


def _drop_code_blocks(text: str) -> str:
    """Fenced code blocks removed, by walking the lines once (an unclosed fence runs to the end,
    as Markdown renders it)."""
    kept: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        mark = _FENCE_MARK.match(line)
        if fence is None and mark:
            fence = mark.group(1)
        elif fence is not None and mark and mark.group(1) == fence and not line.strip()[3:]:
            fence = None
        elif fence is None:
            kept.append(line)
    return "\n".join(kept)


def _drop_at_line_starts(pattern: re.Pattern[str], text: str) -> str:
    """What `^X` (re.M) replaced by nothing gives, for `pattern` written as `\\nX` where X
    never matches a line break: each match at a line's start is removed, the line break
    before it kept (one is put before the first line, and taken off again)."""
    return pattern.sub("\n", "\n" + text)[1:]


def markdown_to_text(text: str) -> str:
    """Markdown to the plain lines the cleaner reads; '#' headings are kept for it to see.

    Linear in the input: callers refuse text over MAX_TEXT_CHARS first (check_length).
    """
    text = text.replace("\r\n", "\n")
    text = _FRONT_MATTER.sub("", text)
    text = _drop_code_blocks(text)
    text = _replace_inline(text, _IMAGE)
    text = _replace_inline(text, _LINK)
    text = _drop_at_line_starts(_REF_LINK, text)
    text = _CODE.sub(r"\1", text)
    text = _replace_inline(text, _TAG)
    for pattern in (_QUOTE, _RULE, _TABLE_RULE):
        text = _drop_at_line_starts(pattern, text)
    text = text.replace("|", " ")
    for _ in range(2):  # twice, for emphasis inside emphasis ("**bold _and_ italic**")
        stripped = _strip_emphasis(text)
        if stripped is text:
            break  # nothing matched: a second pass would find nothing either
        text = stripped
    return text
