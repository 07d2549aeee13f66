"""Turning raw text into what is stored: title, passages with their terms, summary, hash.

Pure and synchronous (CPU work), so the facade runs it in a worker thread.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from itertools import chain

from retrieval.analyzer import analyze, normalize, token_terms
from retrieval.cleaning import clean_article
from retrieval.errors import BadSource
from retrieval.files import MAX_TEXT_CHARS, check_length, check_lines
from retrieval.passages import split_passages
from retrieval.store import NewPassage
from retrieval.summarize import summarize
from retrieval.term_offsets import UNFIT, encode_tokens, stored_form

MAX_TITLE_CHARS = 200
_NFKC_CHUNK = 65_536
_NFKC_SLACK = 8  # characters a chunk boundary may change in the normalised length


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    title: str
    passages: list[NewPassage]
    summary: str
    content_hash: str
    word_count: int


def content_hash(body: str) -> str:
    """Hash of the cleaned body, whitespace collapsed: the same article pasted twice, or with
    different line endings or page chrome, is recognised as the same content."""
    return words_hash(body.split())


def words_hash(words: list[str]) -> str:
    """`content_hash` of a body split into its words already."""
    return hashlib.sha256(" ".join(words).casefold().encode()).hexdigest()


def _too_long(name: str, count: str) -> BadSource:
    return BadSource(
        f"{name} is too long once ligatures and similar characters are spelled out "
        f"({count} characters; the limit is {MAX_TEXT_CHARS:,})"
    )


def _spelled_out(raw: str, name: str) -> str:
    """The text normalised as the cleaner reads it, or a BadSource if that is over the limit.

    Normalisation can spell one character out as many (the ligature U+FDFA becomes 18), so
    the limit is checked again on its result. Text that is not normalised already is first
    measured a chunk at a time, so that two million ligatures are refused after spelling out
    about two million characters, not 36 million (the chunks' lengths add up to the whole's
    within a few characters a boundary, where the whole may compose "e" and an accent).
    """
    if not unicodedata.is_normalized("NFKC", raw):
        total = 0
        for chunks, start in enumerate(range(0, len(raw), _NFKC_CHUNK), 1):
            total += len(unicodedata.normalize("NFKC", raw[start : start + _NFKC_CHUNK]))
            if total - chunks * _NFKC_SLACK > MAX_TEXT_CHARS:
                raise _too_long(name, f"more than {total - chunks * _NFKC_SLACK:,}")
    text = normalize(raw)
    if len(text) > MAX_TEXT_CHARS:
        raise _too_long(name, f"{len(text):,}")
    return text


def index_terms(heading: str | None, text: str) -> str:
    """A passage's stored terms: its section heading's and its own (the heading helps a short
    passage be found), space-separated. Also how stored passages are re-analysed when the
    analyzer changes."""
    return " ".join(analyze(f"{heading}\n{text}" if heading else text))


def _apart_alike(heading: str, text: str) -> bool:
    """Whether normalising `heading` and `text` apart gives what normalising them joined by a
    newline gives: HTML entities are decoded when the whole holds both "&" and ";", so a part
    with an "&" but no ";" of its own would be read otherwise alone. (NFKC, the quotes and the
    tokens never reach across a newline; neither does an entity.)"""
    if not (("&" in heading or "&" in text) and (";" in heading or ";" in text)):
        return True
    return all(";" in part for part in (heading, text) if "&" in part)


def terms_and_layout(heading: str | None, text: str) -> tuple[str, bytes]:
    """`index_terms(heading, text)` and the passage's stored layout (`retrieval.term_offsets`
    `stored_form` of the text and those terms), from one analysis of the text: ingest
    analyses every passage it reads, and analysing it twice was a fifth of reading it."""
    if heading and not _apart_alike(heading, text):
        terms = index_terms(heading, text)
        return terms, stored_form(text, terms)
    plain = normalize(text)
    per_token, starts, ends = token_terms(plain)
    own = " ".join(chain.from_iterable(per_token))
    head = " ".join(analyze(heading)) if heading else ""
    terms = f"{head} {own}" if head and own else head or own
    if plain != text:  # offsets into the normalised text would not index this one
        return terms, UNFIT
    return terms, encode_tokens(text, per_token, starts, ends)


def prepare(raw: str, *, title: str | None = None, name: str = "the text") -> PreparedDocument:
    """Clean, split, analyse and summarise one article (each passage with its stored layout);
    BadSource if it is over the length or
    line limits (checked first, before any of that work) or if nothing is left to index."""
    check_length(name, raw)
    check_lines(name, raw)
    # NUL is no character of any text, and PostgreSQL's text cannot hold it (SQLite can): out.
    raw = raw.replace("\x00", "")
    title = title.replace("\x00", "") if title is not None else None
    article = clean_article(_spelled_out(raw, name), title=title)
    drafts = split_passages(article)
    passages = [
        NewPassage(i, d.paragraph, d.heading, d.text, *terms_and_layout(d.heading, d.text))
        for i, d in enumerate(drafts)
    ]
    passages = [p for p in passages if p.terms]
    if not passages:
        raise BadSource(f"{name} has no text that can be searched")
    chosen = article.title.strip()
    if len(chosen) > MAX_TITLE_CHARS:
        chosen = chosen[: MAX_TITLE_CHARS - 1].rstrip() + "…"
    return PreparedDocument(
        title=chosen,
        passages=passages,
        summary=summarize(article),
        content_hash=words_hash(article.words()),
        word_count=len(article.words()),
    )
