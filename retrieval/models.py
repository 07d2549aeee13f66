"""Values that cross the facade: what the CLI prints and the Discord cogs render.

What the library and the intake report back (`Summary`, `AddResult`, `RefreshResult`) lives in
`retrieval.reports` and is looked up through this module when first named: each dataclass costs
about a millisecond to create (its methods are compiled from generated source), and `citebot
ask` has no use for those three.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retrieval.reports import AddResult, PassageContext, RefreshResult, Summary

# The values defined in `retrieval.reports`, importable from here as they always were.
REPORTS = frozenset({"AddResult", "PassageContext", "RefreshResult", "Summary"})

__all__ = [
    "OPERATOR_MARK",
    "AddResult",
    "Answer",
    "Caller",
    "DirectAnswer",
    "FeedbackRow",
    "Hit",
    "PassageContext",
    "QueryRecord",
    "RefreshResult",
    "Source",
    "Summary",
    "TopQuery",
]


def __getattr__(name: str) -> Any:
    """`from retrieval.models import Summary` as before: `retrieval.reports`, imported on the
    first such name."""
    if name in REPORTS:
        from retrieval import reports

        return getattr(reports, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True, slots=True)
class Hit:
    """One cited passage. `highlights` are (start, end) offsets of query terms in `text`."""

    rank: int
    passage_id: int
    doc_id: int
    title: str
    source: str
    paragraph: int
    text: str
    score: float
    highlights: tuple[tuple[int, int], ...] = ()
    # Where the article came from, for a citation a member can follow: its kind ("seed",
    # "file", "text", "url"), who added it (a Discord user id, OPERATOR_MARK, "citebot" for
    # the bundled articles) and when (ISO 8601, UTC).
    kind: str = ""
    added_by: str | None = None
    added_at: str | None = None

    @property
    def is_url(self) -> bool:
        return self.source.startswith(("http://", "https://"))

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "doc_id": self.doc_id,
            "title": self.title,
            "source": self.source,
            "paragraph": self.paragraph,
            "text": self.text,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True, slots=True)
class DirectAnswer:
    """The one sentence that best answers a question, and where it comes from.

    `start`/`end` locate the sentence in its passage's text (`Hit.text` of the hit with this
    `rank`); `span` is the answer inside the sentence (the date, the amount, the name), in
    offsets of `text`, when the question's kind found one there.
    """

    text: str
    rank: int
    passage_id: int
    start: int
    end: int
    span: tuple[int, int] | None = None
    kind: str | None = None  # the question's answer kind ("date", "number", ...), if any

    @property
    def span_text(self) -> str | None:
        return self.text[self.span[0] : self.span[1]] if self.span else None

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "rank": self.rank,
            "passage_id": self.passage_id,
            "span": list(self.span) if self.span else None,
            "span_text": self.span_text,
        }


@dataclass(frozen=True, slots=True)
class Answer:
    """The result of one question. `answered` is False when the corpus holds nothing relevant."""

    query: str
    answered: bool
    hits: tuple[Hit, ...]
    latency_ms: float
    confidence: float
    articles_searched: int
    query_id: int | None = None
    has_more: bool = False  # another page of hits exists
    direct: DirectAnswer | None = None  # the sentence that best answers, when answered
    reason: str = ""  # why it is answered or not, in a few words
    # (word as typed, word searched for instead): the corpus did not know the typed word
    searched_for: tuple[tuple[str, str], ...] = ()
    search_ms: float = 0.0  # the index search alone: comparable with another engine's search
    context: str | None = None  # the earlier question this one follows up (a thread's)

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "answered": self.answered,
            "confidence": round(self.confidence, 3),
            "reason": self.reason,
            "searched_for": [{"typed": a, "searched": b} for a, b in self.searched_for],
            "latency_ms": round(self.latency_ms, 2),
            "search_ms": round(self.search_ms, 3),
            "answer_sentence": self.direct.to_json() if self.direct else None,
            "hits": [h.to_json() for h in self.hits],
        }


@dataclass(frozen=True, slots=True)
class Source:
    """A document in the corpus, as listed to users."""

    doc_id: int
    title: str
    source: str
    kind: str
    guild_id: int | None
    passages: int
    added_at: str
    added_by: str | None = None
    summary: str = ""

    @property
    def bundled(self) -> bool:
        return self.kind == "seed"

    @property
    def on_this_machine(self) -> bool:
        """A file the operator added from a path on this machine, which a refresh may read
        again; not an upload, whose name is only what its sender called it."""
        return self.kind == "file" and self.added_by == OPERATOR_MARK

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# What `documents.added_by` holds for a source the operator added at this machine's terminal
# (as it has since the first schema; a Discord member's sources hold their user id).
OPERATOR_MARK = "cli"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who acts, in which scope, from where: every log row carries it, and the engine's rules
    read it rather than guessing from other values.

    `guild_id` is the scope: the server whose corpus is searched and changed (its own sources
    and the global ones), or None for the global corpus alone. `operator` is the authority:
    the person at this machine's terminal, who may read files on this machine, change the
    global corpus and every server's sources, and read the whole query log. A Discord member
    (or moderator) is never the operator, whatever scope they act in; the operator may act in
    a server's scope (`citebot ask --guild ID`) and stays the operator. Unknown parts stay None.
    """

    surface: str = "cli"
    guild_id: int | None = None
    channel_id: int | None = None
    user_id: int | None = None
    command: str | None = None
    operator: bool = False

    @classmethod
    def terminal(cls, guild_id: int | None = None, command: str | None = None) -> Caller:
        """The operator at this machine's terminal, in the global scope or a server's."""
        return cls(surface="cli", guild_id=guild_id, command=command, operator=True)

    @classmethod
    def member(
        cls,
        guild_id: int | None,
        user_id: int | None,
        *,
        channel_id: int | None = None,
        command: str | None = None,
    ) -> Caller:
        """A member of a Discord server (moderators too): that server's scope, no more."""
        return cls("discord", guild_id, channel_id, user_id, command, operator=False)

    @property
    def added_by(self) -> str | None:
        """Who added a source, as the documents table records it."""
        if self.operator:
            return OPERATOR_MARK
        return None if self.user_id is None else str(self.user_id)


@dataclass(frozen=True, slots=True)
class QueryRecord:
    """One logged question."""

    id: int
    asked_at: str
    surface: str
    guild_id: int | None
    channel_id: int | None
    user_id: int | None
    command: str | None
    query: str
    answered: bool
    confidence: float
    latency_ms: float
    hits: list[list[float]]  # [[passage_id, score], ...] as shown to the user
    message_url: str | None = None  # the answer's message (or the member's it answered)
    # What a moderator reviews it by (read with the log's views, not with every row): the
    # votes on its answer, why it was not helpful, the top passage's title; and the names of
    # its asker and channel where the surface knows them (Discord's export).
    helpful: int = 0
    not_helpful: int = 0
    reasons: tuple[str, ...] = ()
    top_title: str | None = None
    user_name: str | None = None
    channel_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def discord_message_url(
    guild_id: int | None, channel_id: int | None, message_id: int | None
) -> str | None:
    """The link that opens a message in Discord (a server's), or None without all three."""
    if guild_id is None or channel_id is None or message_id is None:
        return None
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


@dataclass(frozen=True, slots=True)
class TopQuery:
    """A question as asked repeatedly (case and spacing ignored)."""

    query: str
    count: int
    answered: int
    last_asked: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    """Votes on one answer: what moderators review to find weak spots in the corpus."""

    query_id: int
    query: str
    asked_at: str
    answered: bool
    helpful: int
    not_helpful: int
    last_vote: str
    reasons: tuple[str, ...] = ()  # why it was not helpful, in the voters' words

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
