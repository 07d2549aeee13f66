"""The jobs that run inside a limited parser process (see retrieval.sandbox).

Everything a stranger's bytes touch on the way to the database happens here: sniffing,
decoding, HTML and PDF parsing, cleaning, splitting, analysing and summarising. Jobs return
plain JSON values (the parser process sends them back as JSON, never as pickles); `decode_*`
turn them back into values on the caller's side.
"""

from __future__ import annotations

from binascii import a2b_base64, b2a_base64
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from retrieval.documents import PreparedDocument, prepare
from retrieval.extract import extract
from retrieval.store import NewPassage
from retrieval.term_offsets import stored_form, well_formed


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
    return {"doc": _plain(doc), "published": extracted.published}


def read_documents(items: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Several files of one folder, each read as `read_document` reads it alone, in one job.

    Each item is `read_document`'s arguments; each answer is `{"ok": value}`, a refusal
    (`{"refused": kind, "message": ...}`, what the document alone would be refused with), or
    `{"again": true}` when reading it failed in any other way (a parser's crash, memory): the
    caller reads that one alone, in a child of its own, so it fails exactly as it would have.
    The job has one document's budget for all of them; a batch that needs more is read again
    one document at a time (see KnowledgeBase.add_files).
    """
    from retrieval.errors import CitebotError

    out: list[dict[str, Any]] = []
    for data, name, content_type, url, title in items:
        try:
            out.append({"ok": read_document(data, name, content_type, url, title)})
        except CitebotError as exc:
            out.append({"refused": type(exc).__name__, "message": str(exc)})
        except Exception:
            out.append({"again": True})
    return out


def prepare_text(text: str, title: str | None, name: str) -> dict[str, Any]:
    """Pasted text to a document ready to store."""
    return _plain(prepare(text, title=title, name=name))


def _plain(doc: PreparedDocument) -> dict[str, Any]:
    """The document as JSON values: what dataclasses.asdict gives, written out (asdict
    deep-copies every field of every passage, a tenth of the time of reading an article),
    with each passage's layout (`retrieval.term_offsets`, made by `prepare` here, in the
    parser process) sent in base64."""
    return {
        "title": doc.title,
        "passages": [
            {
                "ordinal": p.ordinal,
                "paragraph": p.paragraph,
                "heading": p.heading,
                "text": p.text,
                "terms": p.terms,
                "layout": b2a_base64(_stored(p), newline=False).decode(),
            }
            for p in doc.passages
        ],
        "summary": doc.summary,
        "content_hash": doc.content_hash,
        "word_count": doc.word_count,
    }


def with_layouts(doc: PreparedDocument) -> PreparedDocument:
    """The document with each passage's layout (for documents prepared in this process: the
    bundled articles)."""
    passages = [replace(p, layout=_stored(p)) for p in doc.passages]
    return replace(doc, passages=passages)


def _stored(passage: NewPassage) -> bytes:
    """The passage's layout as `prepare` made it, or worked out now when it has none."""
    if passage.layout is not None:
        return passage.layout
    return stored_form(passage.text, passage.terms)


def _layout(value: object, terms: str) -> bytes | None:
    """A passage's layout as a parser process sent it; None (worked out when first shown)
    when it sent none or one that is not well formed."""
    if not isinstance(value, str):
        return None
    try:
        blob = a2b_base64(value)
    except ValueError:
        return None
    return blob if well_formed(blob, terms) else None


def decode_document(value: dict[str, Any]) -> PreparedDocument:
    return PreparedDocument(
        title=str(value["title"]),
        passages=[
            NewPassage(
                p["ordinal"],
                p["paragraph"],
                p["heading"],
                p["text"],
                p["terms"],
                _layout(p.get("layout"), p["terms"]),
            )
            for p in value["passages"]
        ],
        summary=str(value["summary"]),
        content_hash=str(value["content_hash"]),
        word_count=int(value["word_count"]),
    )


def decode_read(value: dict[str, Any]) -> ReadDocument:
    published = value.get("published")
    return ReadDocument(decode_document(value["doc"]), str(published) if published else None)
