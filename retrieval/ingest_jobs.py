"""The jobs that run inside a limited parser process (see retrieval.sandbox).

Everything a stranger's bytes touch on the way to the database happens here: sniffing,
decoding, HTML and PDF parsing, cleaning, splitting, analysing and summarising. Jobs return
plain JSON values (the parser process sends them back as JSON, never as pickles); `decode_*`
turn them back into values on the caller's side.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from retrieval.documents import PreparedDocument, prepare
from retrieval.extract import extract
from retrieval.store import NewPassage


@dataclass(frozen=True, slots=True)
class ReadDocument:
    """A document ready to store, with what its file said about it."""

    doc: PreparedDocument
    published: str | None


def read_document(
    data: bytes,
    name: str,
    content_type: str | None,
    url: str | None,
    title: str | None,
) -> dict[str, Any]:
    """Bytes (an upload, a file, a fetched page) to a document ready to store."""
    extracted = extract(data, name=name, content_type=content_type, url=url)
    doc = prepare(extracted.text, title=title or extracted.title, name=name)
    return {"doc": asdict(doc), "published": extracted.published}


def prepare_text(text: str, title: str | None, name: str) -> dict[str, Any]:
    """Pasted text to a document ready to store."""
    return asdict(prepare(text, title=title, name=name))


def decode_document(value: dict[str, Any]) -> PreparedDocument:
    return PreparedDocument(
        title=str(value["title"]),
        passages=[NewPassage(**p) for p in value["passages"]],
        summary=str(value["summary"]),
        content_hash=str(value["content_hash"]),
        word_count=int(value["word_count"]),
    )


def decode_read(value: dict[str, Any]) -> ReadDocument:
    published = value.get("published")
    return ReadDocument(decode_document(value["doc"]), str(published) if published else None)
