"""Turning raw text into what is stored: title, passages with their terms, summary, hash.

Pure and synchronous (CPU work), so the facade runs it in a worker thread.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from retrieval.analyzer import analyze
from retrieval.cleaning import clean_article
from retrieval.errors import BadSource
from retrieval.passages import split_passages
from retrieval.store import NewPassage
from retrieval.summarize import summarize

MAX_TITLE_CHARS = 200


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
    return hashlib.sha256(" ".join(body.split()).casefold().encode()).hexdigest()


def prepare(raw: str, *, title: str | None = None, name: str = "the text") -> PreparedDocument:
    """Clean, split, analyse and summarise one article; BadSource if nothing is left to index."""
    article = clean_article(raw, title=title)
    drafts = split_passages(article)
    passages = [
        NewPassage(i, d.paragraph, d.heading, d.text, " ".join(analyze(d.index_text)))
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
        content_hash=content_hash(article.text),
        word_count=len(article.text.split()),
    )
