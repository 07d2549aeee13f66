"""What the library and the intake report back: an article's summary, what adding a source
gave, what refreshing one did. Importable from `retrieval.models` too; kept apart so that the
ask path, which reports none of them, does not create them (see `retrieval.models`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from retrieval.models import Source


@dataclass(frozen=True, slots=True)
class Summary:
    doc_id: int
    title: str
    source: str
    summary: str

    def to_json(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "source": self.source,
            "summary": self.summary,
        }


@dataclass(frozen=True, slots=True)
class AddResult:
    """What a successful ingest reports back."""

    source: Source
    passages: int
    summary: str


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """What refreshing one source did: changed, unchanged, skipped or failed (with why)."""

    source: Source
    status: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PassageContext:
    """A cited passage with the passages around it in its article (Show in context), and
    where the article came from (see `retrieval.models.Hit`)."""

    passage_id: int
    title: str
    source: str
    kind: str
    added_by: str | None
    added_at: str | None
    paragraph: int
    before: tuple[str, ...]
    text: str
    after: tuple[str, ...]
