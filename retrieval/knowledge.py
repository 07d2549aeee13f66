"""The facade: the one object the command line and the Discord cogs talk to.

Both surfaces call these coroutines and render what comes back, so a question asked in a
terminal and in Discord gets the same passages and leaves the same kind of log row. Everything
CPU-bound (cleaning, summarising, index builds, BM25 scoring) runs in a worker thread, so an
event loop that serves Discord is never blocked by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import aiosqlite

from retrieval.analyzer import analyze, analyze_spans, is_rewritten, normalize
from retrieval.answer_types import answer_words, counted_words, formal
from retrieval.cleaning import title_key
from retrieval.direct_answer import direct_answer
from retrieval.errors import (
    HINT_LIST_SOURCES,
    Ambiguous,
    CitebotError,
    DuplicateSource,
    Forbidden,
    InvalidQuery,
    NotFound,
)
from retrieval.files import check_length, check_size, decode_text, read_file_bytes
from retrieval.index import TYPO_WEIGHT, Bm25Index, Scored
from retrieval.ingest import FileRead, IngestQueue, OnQueued, read_files
from retrieval.live_index import LiveIndex
from retrieval.models import (
    AddResult,
    Answer,
    Caller,
    DirectAnswer,
    FeedbackRow,
    Hit,
    QueryRecord,
    RefreshResult,
    Source,
    Summary,
    TopQuery,
)
from retrieval.reanalysis import reanalyse_if_needed
from retrieval.rerank import Candidate, Question, rerank
from retrieval.seeds import seed_files
from retrieval.spelling import english_corrections, english_share, may_be_typo
from retrieval.store import NewDocument, Store
from retrieval.term_offsets import layout_of_row
from retrieval.urls import FetchPolicy, canonical_url, check_url
from retrieval.verdict import Verdict, judge

if TYPE_CHECKING:  # aiohttp is imported only when a page is fetched: `citebot ask` stays fast
    from aiohttp.abc import AbstractResolver

    # Likewise the ingest pipeline (cleaning, passages, summaries, extraction): imported by the
    # methods that add sources, not by the ask path.
    from retrieval.documents import PreparedDocument
    from retrieval.ingest_jobs import ReadDocument

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 1000
MAX_K = 20
RERANK_DEPTH = 30  # BM25's best passages that reranking reorders
HINT_WEIGHT = 0.5  # an answer's typical word ("born") against 1 for the question's own words
# A word at least this common in English (about 30 in a million: "ban" and "pride" below it,
# "putting" and "keep" above) may be missing from a corpus by chance; then it weighs this much.
COMMON_SHARE = 3e-5
LACKING_COMMON_WEIGHT = 0.5
MAX_TYPOS = 4  # unknown words of one question searched for a correction
MAX_LOG_ROWS = 100_000
LogView = Literal["recent", "top", "unanswered", "feedback"]


def _resolved_bytes(path: Path) -> tuple[Path, bytes]:
    """The file's absolute path (kept as its source, so a refresh finds it from anywhere)
    and its bytes."""
    data = read_file_bytes(path)
    return path.resolve(), data


def _file_bytes_if_any(path: Path) -> bytes | None:
    """A file source's bytes when it is still where the command line read it from."""
    return read_file_bytes(path) if path.is_absolute() and path.is_file() else None


def _scope_note(existing: Source, guild_id: int | None) -> str:
    """Where a duplicate lives, when it is not where the caller is adding."""
    if guild_id is None and existing.guild_id is not None:
        return f" in server {existing.guild_id}; a copy for every server would show there twice"
    return ""


def _duplicate(existing: Source, guild_id: int | None) -> DuplicateSource:
    """The refusal of content that is already source `existing`."""
    return DuplicateSource(
        f"this content is already source [{existing.doc_id}] "
        f"{existing.title!r} ({existing.source}){_scope_note(existing, guild_id)}"
    )


def validate_query(query: str) -> str:
    """The question as it will be searched and logged, or InvalidQuery."""
    cleaned = " ".join(normalize(query or "").split())
    cleaned = "".join(ch for ch in cleaned if ch.isprintable())
    if not cleaned:
        raise InvalidQuery(
            "the question is empty; ask something, for example "
            '"How much did DeepSeek spend to train its model?"'
        )
    if len(cleaned) > MAX_QUERY_CHARS:
        raise InvalidQuery(
            f"the question is {len(cleaned):,} characters long; the limit is {MAX_QUERY_CHARS:,}"
        )
    return cleaned


@dataclass(frozen=True, slots=True)
class Found:
    """One search's outcome, before it is logged and returned as an Answer."""

    verdict: Verdict
    hits: list[Hit]
    more: bool
    searched_for: tuple[tuple[str, str], ...]
    search_ms: float  # the index search alone (the rest of `latency_ms` is around it)
    direct: DirectAnswer | None = None  # the first page's answer sentence, when answered


def _possible_typos(
    text: str, terms: Sequence[str], index: Bm25Index, guild_id: int | None
) -> list[str]:
    """Query terms the corpus does not know whose typed word is not an English word; the
    first MAX_TYPOS of them (each costs a scan of the vocabulary: a question of a thousand
    characters of junk must not cost a thousand scans)."""
    unknown = {t for t in terms if not index.knows(t, guild_id)}
    if not unknown:
        return []
    return list(
        dict.fromkeys(
            s.term
            for s in analyze_spans(text)
            if s.term in unknown
            and may_be_typo(word := text[s.start : s.end])
            and not is_rewritten(word)
        )
    )[:MAX_TYPOS]


def _corrections(
    text: str, terms: Sequence[str], index: Bm25Index, guild_id: int | None
) -> dict[str, tuple[str, ...]]:
    """For each possible typo, what to search instead: the closest word of the corpus's own
    vocabulary ("comission": "commission", or a name as the corpus spells it); nothing (an
    empty tuple) when the closest English word is a stop word ("actualy")."""
    typos = _possible_typos(text, terms, index, guild_id)
    if not typos:
        return {}
    typed = {s.term: text[s.start : s.end] for s in analyze_spans(text)}
    out: dict[str, tuple[str, ...]] = {}
    unknown = []
    for term in typos:
        closest = english_corrections(typed.get(term, term))
        if closest and not analyze(closest[0]):
            out[term] = ()  # a stop word mistyped: nothing to search
        else:
            unknown.append(term)
    return out | index.corrections(unknown, guild_id)


def english_shares(text: str, terms: Sequence[str]) -> dict[str, float]:
    """For each term of the question, the English frequency of the word it was typed as (the
    least of them when several words give one term)."""
    shares: dict[str, float] = {}
    normal = normalize(text)
    wanted = set(terms)
    for span in analyze_spans(text):
        if span.term in wanted:
            share = english_share(normal[span.start : span.end])
            shares[span.term] = min(share, shares.get(span.term, share))
    return shares


def _searched_for(
    text: str, fixes: dict[str, tuple[str, ...]], hits: Sequence[Hit]
) -> tuple[tuple[str, str], ...]:
    """(word as typed, word searched for) for each corrected word, both as people write them:
    the typed word from the question, the searched one as a shown passage spells it. A
    correction no shown passage holds is not mentioned (an index term is no word to show)."""
    if not fixes:
        return ()
    typed = {s.term: text[s.start : s.end] for s in analyze_spans(text)}
    out = []
    for term, (used, *_) in ((t, found) for t, found in fixes.items() if found):
        for hit in hits:
            spelled = next(
                (hit.text[s.start : s.end] for s in analyze_spans(hit.text) if s.term == used), None
            )
            if spelled:
                out.append((typed.get(term, term), spelled.casefold()))
                break
    return tuple(out)


@dataclass(frozen=True, slots=True)
class _Asked:
    """A question as searched: its formal text, terms, answer words and corrections."""

    text: str
    searched: list[str]
    hints: list[str]
    fixes: dict[str, tuple[str, ...]]
    boosts: dict[str, float]
    shares: dict[str, float]


def _judged(
    asked: _Asked,
    index: Bm25Index,
    guild_id: int | None,
    found: Sequence[Scored],
    rows: Mapping[int, Mapping],
    k: int,
    offset: int,
    search_ms: float,
) -> Found:
    """What a search found, reranked and judged, its hits ranked offset+1 .. offset+k with
    their highlights, and the direct answer; synchronous, for a worker thread."""
    text, searched, hints = asked.text, asked.searched, asked.hints
    fixes, boosts, shares = asked.fixes, asked.boosts, asked.shares
    layouts = {
        h.passage_id: layout_of_row(row)
        for h in found
        if (row := rows.get(h.passage_id)) is not None  # removed between search and fetch
    }
    candidates = [
        Candidate(
            h.passage_id,
            h.score,
            row["text"],
            row["title"],
            row["terms"],
            layouts[h.passage_id],
        )
        for h in found
        if (row := rows.get(h.passage_id)) is not None
    ]
    weights = {t: index.weight(t, guild_id) * boosts.get(t, 1.0) for t in set(searched)}
    # A word common in English that the corpus lacks ("keep", "talking", "putting") weighs
    # half: a small corpus lacks most words, and missing one says less about whether it
    # answers than missing a rare one ("headquartered"). It still counts: "population" is
    # what "the population of X" asks.
    lacking = {
        t for t in weights if shares.get(t, 0.0) >= COMMON_SHARE and not index.knows(t, guild_id)
    }
    for t in lacking:
        weights[t] *= LACKING_COMMON_WEIGHT
    weights |= {t: index.weight(t, guild_id) * HINT_WEIGHT for t in hints}
    # The most a passage could score with each term once: BM25 scores over it compare
    # across questions and corpora (a small corpus has small idfs).
    scale = sum(index.idf(t, guild_id) * boosts.get(t, 1.0) for t in set(searched))
    # What "how many" counts matters when the corpus never names it ("parameters"): a
    # paraphrase ("soldiers" for "troops") is left to coverage.
    counted = frozenset(
        fixes[t][0] if t in fixes else t for t in analyze(counted_words(text)) if fixes.get(t) != ()
    )
    if any(index.knows(t, guild_id) for t in counted):
        counted = frozenset()
    question = Question.of(text, searched, weights, scale, frozenset(hints), counted)
    ranked = rerank(question, candidates)
    verdict = judge(ranked, question.kind, question.measures)
    if not verdict.answered:
        return Found(verdict, [], False, (), search_ms)
    kept = verdict.kept
    hits: list[Hit] = []
    query_terms = set(searched)
    for rank, scored in enumerate(kept[offset : offset + k], start=offset + 1):
        row = rows[scored.passage_id]
        hits.append(
            Hit(
                rank=rank,
                passage_id=scored.passage_id,
                doc_id=row["document_id"],
                title=row["title"],
                source=row["source"],
                paragraph=row["paragraph"],
                text=row["text"],
                score=scored.score,
                highlights=layouts[scored.passage_id].highlights(query_terms),
            )
        )
    searched_for = _searched_for(text, fixes, hits)
    # The direct answer is the first page's: a later page shows more evidence, and a
    # sentence from its passages would be a different "answer" on every page.
    direct = (
        direct_answer(
            text,
            question.terms,
            hits,
            question.weights,
            {h.passage_id: layouts[h.passage_id] for h in hits},
        )
        if offset == 0
        else None
    )
    return Found(verdict, hits, len(kept) > offset + k, searched_for, search_ms, direct)


class KnowledgeBase:
    """Open with `await KnowledgeBase.open(path)` (or `async with`); the bundled corpus is
    ingested on first use."""

    def __init__(
        self,
        store: Store,
        *,
        fetch_policy: FetchPolicy | None = None,
        resolver: AbstractResolver | None = None,
        ingest: IngestQueue | None = None,
    ) -> None:
        self.store = store
        self.fetch_policy = fetch_policy or FetchPolicy()
        self.resolver = resolver  # None: the system's DNS, through the address guard
        self.ingest = ingest or IngestQueue()
        self._live = LiveIndex(store)
        self._catching_up: asyncio.Task[None] | None = None
        self._article_counts: dict[tuple[int, int | None], int] = {}

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        seed: bool = True,
        fetch_policy: FetchPolicy | None = None,
        resolver: AbstractResolver | None = None,
        ingest: IngestQueue | None = None,
    ) -> KnowledgeBase:
        store = await Store.open(path)
        kb = cls(store, fetch_policy=fetch_policy, resolver=resolver, ingest=ingest)
        try:
            await reanalyse_if_needed(store)
            if seed:
                await kb.ensure_seeds()
        except BaseException:
            await store.close()
            raise
        return kb

    @property
    def _index(self) -> Bm25Index | None:
        return self._live.current

    @_index.setter
    def _index(self, index: Bm25Index | None) -> None:
        self._live.current = index

    @property
    def _index_lock(self) -> asyncio.Lock:
        return self._live.lock

    async def close(self) -> None:
        if self._catching_up is not None:
            self._catching_up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._catching_up
        await self._live.close()
        self.ingest.close()
        await self.store.close()

    async def __aenter__(self) -> KnowledgeBase:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- the bundled corpus ------------------------------------------------------------------

    async def ensure_seeds(self) -> int:
        """Ingest, update or drop bundled articles so the database matches `seeds/`.

        Cheap when nothing changed: one hash of the raw files compared with the stored one.
        Returns the number of articles added or replaced.
        """
        files = seed_files()
        raw = [(source, path.read_bytes()) for source, path in files]
        fingerprint = hashlib.sha256(
            b"\0".join(s.encode() + b"\0" + data for s, data in raw)
        ).hexdigest()
        if await self.store.meta("seed_fingerprint") == fingerprint:
            return 0
        from retrieval.documents import prepare  # lazy: see TYPE_CHECKING above

        prepared = await asyncio.to_thread(
            lambda: [(s, prepare(decode_text(d, s), name=s)) for s, d in raw]
        )
        changed = 0
        async with self.store.transaction() as db:
            existing = await self.store.seed_hashes(db)
            wanted = {s for s, _ in prepared}
            for source, (doc_id, _) in existing.items():
                if source not in wanted:
                    await self.store.delete_document(db, doc_id)
            for source, doc in prepared:
                old = existing.get(source)
                if old and old[1] == doc.content_hash:
                    continue
                if old:
                    await self.store.delete_document(db, old[0])
                await self._insert(
                    db, doc, source=source, kind="seed", guild_id=None, added_by="citebot"
                )
                changed += 1
            await self.store.set_meta(db, "seed_fingerprint", fingerprint)
        if changed:
            log.info("bundled corpus: %d article(s) ingested", changed)
        return changed

    # -- asking ------------------------------------------------------------------------------

    async def _articles(self, guild_id: int | None) -> int:
        """How many articles this server searches; counted once per corpus version."""
        version = self._index.version if self._index is not None else -1
        key = (version, guild_id)
        count = self._article_counts.get(key)
        if count is None:
            count = await self.store.count_documents(guild_id)
            if len(self._article_counts) > 1024:
                self._article_counts.clear()
            self._article_counts[key] = count
        return count

    async def warm_up(self) -> int:
        """Load or build the index now (off the loop), so the first question is not the one
        that waits for it. Returns the number of passages indexed."""
        return len(await self._current_index())

    async def _current_index(self, guild_id: int | None = None) -> Bm25Index:
        """An index that holds everything this server can see as it is now.

        When only other servers' sources changed since the index was built, this server's
        search needs nothing new: it keeps using the index it has while the new one is built
        in the background, so one server adding sources never makes another server wait.
        When this server's scopes (its own, or the global corpus) changed, it waits for the
        rebuild, so a source it just added is found by its next question.
        """
        corpus, global_version, own_version = await self.store.versions(guild_id)
        index = self._index
        if index is not None:
            if index.version == corpus:
                return index
            seen = index.scope_versions
            if seen.get(0, 0) == global_version and seen.get(guild_id or 0, 0) == own_version:
                self._catch_up_in_background()
                return index
        return await self._rebuild()

    def _catch_up_in_background(self) -> None:
        if self._catching_up is None or self._catching_up.done():
            self._catching_up = asyncio.create_task(self._catch_up())

    async def _catch_up(self) -> None:
        try:
            await self._rebuild()
        except Exception:
            log.exception("rebuilding the index in the background failed")

    async def _rebuild(self) -> Bm25Index:
        """The index for the latest corpus version (`retrieval.live_index`)."""
        return await self._live.update()

    async def _search(self, text: str, k: int, guild_id: int | None, offset: int = 0) -> Found:
        """Hits ranked offset+1 .. offset+k (none when the corpus does not answer), and whether
        there are more after them.

        A word the corpus does not know is searched as its closest known word, weighted down.
        BM25 picks the candidates (at least RERANK_DEPTH, so every page is cut from the same
        reranked list), `rerank` orders them by what answers the question, `judge` decides
        whether the best of them answers it at all and drops the ones far below it.
        """
        asked = text  # as typed: answer words and hints read the chat phrasing
        text = formal(text)  # "put out" is "released": the rest reads what it asks
        terms = analyze(text)
        index = await self._current_index(guild_id)
        fixes: dict[str, tuple[str, ...]] = {}
        shares: dict[str, float] = {}
        if not all(index.knows(t, guild_id) for t in terms):  # else nothing to correct or weigh
            # Off the loop: the English word list loads on first use, and each lookup scans the
            # vocabulary.
            fixes, shares = await asyncio.to_thread(
                lambda: (
                    _corrections(text, terms, index, guild_id),
                    # Only words the corpus lacks are weighed by how common they are in English
                    # (see _judged): a question of known words never loads the word list.
                    english_shares(text, [t for t in terms if not index.knows(t, guild_id)]),
                )
            )
        searched = [fixes[t][0] if t in fixes else t for t in terms if fixes.get(t) != ()]
        boosts = {fixes[t][0]: TYPO_WEIGHT for t in fixes if fixes[t]}
        # Words the answer uses that the question does not ("born" for "where is X from"):
        # searched, and counted for proximity and coverage, at their lower weight.
        hints = [t for t in analyze(answer_words(asked)) if t not in searched]
        # In whole steps of RERANK_DEPTH, so that every page size cuts its pages from the same
        # reranked list (and ends it at the same passage).
        depth = RERANK_DEPTH * -(-(offset + k + 1) // RERANK_DEPTH)
        started = time.perf_counter()
        result = await asyncio.to_thread(
            index.search,
            searched + hints,
            depth,
            guild_id,
            boosts | dict.fromkeys(hints, HINT_WEIGHT),
        )
        search_ms = (time.perf_counter() - started) * 1000
        rows = await self.store.passages_by_id([h.passage_id for h in result.hits], guild_id)
        # Everything after the fetch reads text (weights, rerank, highlights, the direct
        # answer): one trip off the loop.
        return await asyncio.to_thread(
            _judged,
            _Asked(text, searched, hints, fixes, boosts, shares),
            index,
            guild_id,
            result.hits,
            rows,
            k,
            offset,
            search_ms,
        )

    async def ask(self, query: str, k: int = 3, caller: Caller | None = None) -> Answer:
        """The top `k` passages for `query` visible to `caller`'s server, logged."""
        caller = caller or Caller()
        started = time.perf_counter()
        text = validate_query(query)
        if not 1 <= k <= MAX_K:
            raise InvalidQuery(f"the number of passages must be between 1 and {MAX_K}")
        found = await self._search(text, k, caller.guild_id)
        hits, more, answered = found.hits, found.more, found.verdict.answered
        articles = await self._articles(caller.guild_id)
        latency_ms = (time.perf_counter() - started) * 1000
        query_id = await self.store.log_query(
            surface=caller.surface,
            guild_id=caller.guild_id,
            channel_id=caller.channel_id,
            user_id=caller.user_id,
            command=caller.command,
            query=text,
            hits=[(h.passage_id, h.score) for h in hits],
            answered=answered,
            confidence=found.verdict.confidence,
            latency_ms=latency_ms,
        )
        return Answer(
            query=text,
            answered=answered,
            hits=tuple(hits),
            latency_ms=latency_ms,
            confidence=found.verdict.confidence,
            articles_searched=articles,
            query_id=query_id,
            has_more=more,
            reason=found.verdict.reason,
            searched_for=found.searched_for,
            search_ms=found.search_ms,
            direct=found.direct,
        )

    async def page(
        self, query_id: int, page: int, k: int = 3, guild_id: int | None = None
    ) -> Answer:
        """Page `page` (0-based) of a logged question's results, searched again, not logged.

        A page click is the same question, so it adds no log row; the corpus may have changed
        since, which is why it is searched again rather than replayed.
        """
        record = await self.store.get_query(query_id)
        if record is None or record.guild_id != guild_id:
            raise NotFound("that question is no longer in the log; ask it again")
        if not 0 <= page <= MAX_K or not 1 <= k <= MAX_K:
            raise InvalidQuery(f"pages go from 1 to {MAX_K + 1}")
        started = time.perf_counter()
        found = await self._search(record.query, k, guild_id, offset=page * k)
        articles = await self._articles(guild_id)
        return Answer(
            query=record.query,
            answered=found.verdict.answered,
            hits=tuple(found.hits),
            latency_ms=(time.perf_counter() - started) * 1000,
            confidence=found.verdict.confidence,
            articles_searched=articles,
            query_id=query_id,
            has_more=found.more,
            reason=found.verdict.reason,
            searched_for=found.searched_for,
            search_ms=found.search_ms,
            direct=found.direct,
        )

    async def record_feedback(
        self, query_id: int, user_id: int, helpful: bool, guild_id: int | None = None
    ) -> bool:
        """One vote per user per answer; a second click changes the vote.

        Returns True when this replaced an earlier vote by the same user.
        """
        record = await self.store.get_query(query_id)
        if record is None or record.guild_id != guild_id:
            raise NotFound("that answer is no longer in the log")
        return await self.store.upsert_feedback(query_id, user_id, helpful)

    async def titles(
        self, guild_id: int | None, fragment: str = "", limit: int = 25
    ) -> list[tuple[int, str]]:
        """Visible article titles containing `fragment` (case and punctuation ignored)."""
        key = title_key(fragment)
        sources = await self.store.list_sources(guild_id)
        matches = [(s.doc_id, s.title) for s in sources if key in title_key(s.title)]
        starts = [m for m in matches if title_key(m[1]).startswith(key)]
        rest = [m for m in matches if m not in starts]
        return (starts + rest)[:limit]

    async def setting(self, key: str) -> str | None:
        """A value the surfaces keep between runs (the command-tree hash, for example)."""
        return await self.store.meta(f"setting:{key}")

    async def set_setting(self, key: str, value: str) -> None:
        async with self.store.transaction() as db:
            await self.store.set_meta(db, f"setting:{key}", value)

    # -- summaries and sources ---------------------------------------------------------------

    async def list_sources(self, guild_id: int | None = None) -> list[Source]:
        return await self.store.list_sources(guild_id)

    async def find_article(self, ref: str, guild_id: int | None = None) -> Source:
        """An article by id or by a fragment of its title, among those visible here."""
        ref = " ".join((ref or "").split())
        if not ref:
            raise NotFound("name an article: its id or a few words of its title")
        visible = await self.store.list_sources(guild_id)
        if ref.isascii() and ref.isdigit():  # not "²" or "①", which isdigit() also accepts
            for source in visible:
                if source.doc_id == int(ref):
                    return source
            raise NotFound(f"no article with id {ref}", hint=HINT_LIST_SOURCES)
        key = title_key(ref)
        if not key:
            raise NotFound(f"no article matches {ref!r}", hint=HINT_LIST_SOURCES)
        exact = [s for s in visible if title_key(s.title) == key]
        if len(exact) == 1:
            return exact[0]
        matches = [s for s in visible if key in title_key(s.title)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise NotFound(f"no article title contains {ref!r}", hint=HINT_LIST_SOURCES)
        raise Ambiguous(
            f"{ref!r} matches {len(matches)} articles; give the id or more of the title",
            [(s.doc_id, s.title) for s in matches],
        )

    async def summary(self, ref: str, guild_id: int | None = None) -> Summary:
        source = await self.find_article(ref, guild_id)
        return Summary(source.doc_id, source.title, source.source, source.summary)

    async def summaries(self, guild_id: int | None = None) -> list[Summary]:
        return [
            Summary(s.doc_id, s.title, s.source, s.summary)
            for s in await self.store.list_sources(guild_id)
        ]

    async def add_file(
        self,
        path: Path,
        *,
        title: str | None = None,
        guild_id: int | None = None,
        added_by: str | None = None,
        on_queued: OnQueued | None = None,
        wait_limit: float | None = None,
    ) -> AddResult:
        """Ingest a file on this machine (.txt, .md, .html, .pdf, recognised by content)."""
        path, data = await asyncio.to_thread(_resolved_bytes, path)
        return await self._add_bytes(
            data, path.name, str(path), title, guild_id, added_by, on_queued, wait_limit
        )

    async def add_files(
        self,
        paths: Sequence[Path],
        *,
        guild_id: int | None = None,
        added_by: str | None = None,
    ) -> AsyncIterator[tuple[Path, AddResult | CitebotError]]:
        """Ingest files on this machine (a folder from the command line): for each path in
        order, what `add_file` would return or raise for it, with the same rows written, as
        if they were added one after the other.

        Faster than that: the files are read in batches by limited parser processes, several
        at once (retrieval.ingest.read_files), and each batch is written in one transaction
        (`_store_batch`). When that transaction fails it leaves nothing, and the batch is
        written again one file at a time, each in a transaction of its own, so the files before
        the one that fails are added and that one raises, as they would one by one.
        """
        async with self.ingest.turn(guild_id):
            async for batch in read_files(self.ingest, paths, self._read_alone):
                try:
                    outcomes = await self._store_batch(batch, guild_id, added_by)
                except sqlite3.Error as exc:
                    log.warning(
                        "writing %d files together failed (%s); one at a time", len(batch), exc
                    )
                    for read in batch:
                        yield read.path, await self._store_read(read, guild_id, added_by)
                    continue
                for outcome in outcomes:
                    yield outcome

    async def _store_read(
        self, read: FileRead, guild_id: int | None, added_by: str | None
    ) -> AddResult | CitebotError:
        """One file of a batch written alone, as `add_file` writes it."""
        if isinstance(read.outcome, CitebotError):
            return read.outcome
        try:
            return await self._store_new(
                read.outcome.doc,
                source=read.source,
                kind="file",
                guild_id=guild_id,
                added_by=added_by,
                published_at=read.outcome.published,
            )
        except CitebotError as exc:
            return exc

    async def _read_alone(self, data: bytes, name: str) -> ReadDocument:
        return await self._read(data, name, None)

    async def _store_batch(
        self, batch: Sequence[FileRead], guild_id: int | None, added_by: str | None
    ) -> list[tuple[Path, AddResult | CitebotError]]:
        """Write a batch of read files in one transaction; each file's outcome as `_store_new`
        would give it in turn (a duplicate of a document already here, or of one earlier in
        the batch, is refused with the same message)."""
        outcomes: dict[int, AddResult | CitebotError] = {
            i: f.outcome for i, f in enumerate(batch) if isinstance(f.outcome, CitebotError)
        }
        todo = [(i, f, f.outcome) for i, f in enumerate(batch) if i not in outcomes]
        async with self.store.transaction() as db:
            owners = await self.store.content_owners(db, [r.doc.content_hash for _, _, r in todo])
            known: dict[int, Source] = {}  # the duplicates' originals, by id
            new: list[tuple[int, FileRead, ReadDocument]] = []
            twins: list[tuple[int, int]] = []  # (file, the earlier file of this batch it repeats)
            for i, f, read in todo:
                held = owners[read.doc.content_hash]
                visible = [o for o in held if o[1] is None or o[1] == guild_id]
                if visible or (held and guild_id is None):
                    doc_id = (visible or held)[0][0]
                    if doc_id < 0:
                        twins.append((i, -doc_id - 1))
                        continue
                    if doc_id not in known:
                        found = await self.store.get_source(doc_id, db)
                        assert found is not None
                        known[doc_id] = found
                    outcomes[i] = _duplicate(known[doc_id], guild_id)
                    continue
                held.append((-len(new) - 1, guild_id))  # an id to come: its place in `new`
                new.append((i, f, read))
            stored = await self.store.insert_documents(
                db,
                [
                    NewDocument(
                        guild_id=guild_id,
                        title=read.doc.title,
                        source=f.source,
                        kind="file",
                        content_hash=read.doc.content_hash,
                        summary=read.doc.summary,
                        word_count=read.doc.word_count,
                        added_by=added_by,
                        passages=read.doc.passages,
                        published_at=read.published,
                    )
                    for _, f, read in new
                ],
            )
        added = []
        for (i, f, read), (doc_id, added_at) in zip(new, stored, strict=True):
            doc = read.doc
            source = Source(
                doc_id=doc_id,
                title=doc.title,
                source=f.source,
                kind="file",
                guild_id=guild_id,
                passages=len(doc.passages),
                added_at=added_at,
                added_by=added_by,
                summary=doc.summary,
            )
            added.append(source)
            outcomes[i] = AddResult(source, len(doc.passages), doc.summary)
        for i, earlier in twins:
            outcomes[i] = _duplicate(added[earlier], guild_id)
        return [(f.path, outcomes[i]) for i, f in enumerate(batch)]

    async def add_upload(
        self,
        filename: str,
        data: bytes,
        *,
        title: str | None = None,
        guild_id: int | None = None,
        added_by: str | None = None,
        on_queued: OnQueued | None = None,
        wait_limit: float | None = None,
    ) -> AddResult:
        """Ingest an uploaded file (a Discord attachment): checked like a file on disk."""
        check_size(filename, len(data))
        return await self._add_bytes(
            data, filename, filename, title, guild_id, added_by, on_queued, wait_limit
        )

    async def _add_bytes(
        self,
        data: bytes,
        name: str,
        source: str,
        title: str | None,
        guild_id: int | None,
        added_by: str | None,
        on_queued: OnQueued | None,
        wait_limit: float | None,
    ) -> AddResult:
        async with self.ingest.turn(guild_id, on_queued, wait_limit=wait_limit):
            read = await self._read(data, name, title)
            return await self._store_new(
                read.doc,
                source=source,
                kind="file",
                guild_id=guild_id,
                added_by=added_by,
                published_at=read.published,
            )

    async def add_url(
        self,
        url: str,
        *,
        title: str | None = None,
        guild_id: int | None = None,
        added_by: str | None = None,
        on_queued: OnQueued | None = None,
        wait_limit: float | None = None,
    ) -> AddResult:
        """Fetch a web page (safely, see retrieval.fetch), extract its article, ingest it."""
        check_url(url, self.fetch_policy)
        await self._refuse_known_url(url, guild_id)
        async with self.ingest.turn(guild_id, on_queued, wait_limit=wait_limit):
            from retrieval.fetch import fetch

            fetched = await fetch(url, self.fetch_policy, resolver=self.resolver)
            if fetched.redirects:
                await self._refuse_known_url(fetched.url, guild_id)
            read = await self._read(
                fetched.data, fetched.url, title, fetched.content_type, fetched.url
            )
            return await self._store_new(
                read.doc,
                source=fetched.url,
                kind="url",
                guild_id=guild_id,
                added_by=added_by,
                published_at=read.published,
                canonical=canonical_url(fetched.url),
            )

    async def _read(
        self,
        data: bytes,
        name: str,
        title: str | None,
        content_type: str | None = None,
        url: str | None = None,
    ) -> ReadDocument:
        """A stranger's bytes read into a document, in a limited parser process."""
        from retrieval.ingest_jobs import decode_read, read_document  # lazy: see TYPE_CHECKING

        value = await self.ingest.run(
            read_document, data, name, content_type, url, title, name=name
        )
        return decode_read(value)

    async def _refuse_known_url(self, url: str, guild_id: int | None) -> None:
        canonical = canonical_url(url)
        existing = await self.store.find_by_canonical_url(canonical, guild_id)
        if existing is None and guild_id is None:
            existing = await self.store.find_by_canonical_url_anywhere(canonical)
        if existing is not None:
            raise DuplicateSource(
                f"this page is already source [{existing.doc_id}] {existing.title!r} "
                f"({existing.source}){_scope_note(existing, guild_id)}"
            )

    async def refresh(
        self,
        doc_id: int | None = None,
        guild_id: int | None = None,
        *,
        deadline: float | None = None,
        on_queued: OnQueued | None = None,
        wait_limit: float | None = None,
    ) -> list[RefreshResult]:
        """Fetch or read sources again; replace passages and summary where the content changed.

        `doc_id` None refreshes every source this caller may change (a server: its own; the
        command line: all but the bundled ones). Pasted text and uploads have nothing to
        refetch and are reported as skipped. No source is started after `deadline` (the event
        loop's clock): those are reported as skipped, so a Discord reply is never later than
        its interaction token allows.
        """
        if doc_id is not None:
            source = await self.store.get_source(doc_id)
            if source is None or (guild_id is not None and source.guild_id != guild_id):
                raise NotFound(f"no source with id {doc_id} that you can refresh")
            targets = [source]
        elif guild_id is None:
            targets = [s for s in await self.store.all_sources() if not s.bundled]
        else:
            targets = [s for s in await self.store.list_sources(guild_id) if s.guild_id == guild_id]
        # Only the operator's command line may make citebot read files on this machine again.
        reread = guild_id is None
        loop = asyncio.get_running_loop()
        results: list[RefreshResult] = []
        async with self.ingest.turn(guild_id, on_queued, wait_limit=wait_limit):
            for source in targets:
                if deadline is not None and loop.time() >= deadline:
                    results.append(
                        RefreshResult(source, "skipped", "not reached in time; refresh again")
                    )
                    continue
                results.append(await self._refresh_one(source, reread))
        return results

    async def _refresh_one(self, source: Source, reread_files: bool) -> RefreshResult:
        try:
            if source.bundled:
                return RefreshResult(source, "skipped", "bundled with citebot")
            if source.kind == "url":
                from retrieval.fetch import fetch

                fetched = await fetch(source.source, self.fetch_policy, resolver=self.resolver)
                read = await self._read(
                    fetched.data, fetched.url, source.title, fetched.content_type, fetched.url
                )
            elif (
                source.kind == "file"
                and reread_files
                and source.added_by == "cli"  # a path on this machine, not an upload's name
                and (data := await asyncio.to_thread(_file_bytes_if_any, Path(source.source)))
            ):
                read = await self._read(data, Path(source.source).name, source.title)
            else:
                return RefreshResult(source, "skipped", "nothing to fetch again")
        except CitebotError as exc:
            return RefreshResult(source, "failed", str(exc))
        doc = read.doc
        async with self.store.transaction() as db:
            current = await self.store.content_hash_of(source.doc_id, db)
            if current is None:  # removed while it was being fetched
                return RefreshResult(source, "failed", "it was removed while being refreshed")
            if current == doc.content_hash:
                return RefreshResult(source, "unchanged", "")
            twin = await self.store.find_by_hash(doc.content_hash, source.guild_id, db)
            if twin is None and source.guild_id is None:
                twin = await self.store.find_by_hash_anywhere(doc.content_hash, db)
            if twin is not None and twin.doc_id != source.doc_id:
                return RefreshResult(
                    source, "failed", f"its new content is the same as source [{twin.doc_id}]"
                )
            await self.store.replace_content(
                db,
                source.doc_id,
                content_hash=doc.content_hash,
                summary=doc.summary,
                word_count=doc.word_count,
                passages=doc.passages,
                published_at=read.published,
            )
        return RefreshResult(source, "changed", f"{len(doc.passages)} passages")

    async def add_text(
        self,
        text: str,
        *,
        title: str | None = None,
        source: str = "pasted text",
        kind: str = "text",
        guild_id: int | None = None,
        added_by: str | None = None,
        name: str = "the text",
        on_queued: OnQueued | None = None,
        wait_limit: float | None = None,
    ) -> AddResult:
        """Ingest one article. Refusals (BadSource, DuplicateSource) write nothing."""
        from retrieval.ingest_jobs import decode_document, prepare_text  # lazy: see TYPE_CHECKING

        check_length(name, text)  # before the text is copied to a parser process
        async with self.ingest.turn(guild_id, on_queued, wait_limit=wait_limit):
            doc = decode_document(await self.ingest.run(prepare_text, text, title, name, name=name))
            return await self._store_new(
                doc, source=source, kind=kind, guild_id=guild_id, added_by=added_by
            )

    async def _store_new(
        self,
        doc: PreparedDocument,
        *,
        source: str,
        kind: str,
        guild_id: int | None,
        added_by: str | None,
        published_at: str | None = None,
        canonical: str | None = None,
    ) -> AddResult:
        """Write a prepared document in one transaction, unless its content is already here.

        A source for every server (no guild) is also refused when some server already has the
        same content: that server would otherwise see it twice.
        """
        async with self.store.transaction() as db:
            existing = await self.store.find_by_hash(doc.content_hash, guild_id, db)
            if existing is None and guild_id is None:
                existing = await self.store.find_by_hash_anywhere(doc.content_hash, db)
            if existing is not None:
                raise _duplicate(existing, guild_id)
            doc_id = await self._insert(
                db,
                doc,
                source=source,
                kind=kind,
                guild_id=guild_id,
                added_by=added_by,
                published_at=published_at,
                canonical=canonical,
            )
            added = await self.store.get_source(doc_id, db)
        assert added is not None
        return AddResult(added, len(doc.passages), doc.summary)

    async def _insert(
        self,
        db: aiosqlite.Connection,
        doc: PreparedDocument,
        *,
        source: str,
        kind: str,
        guild_id: int | None,
        added_by: str | None,
        published_at: str | None = None,
        canonical: str | None = None,
    ) -> int:
        return await self.store.insert_document(
            db,
            published_at=published_at,
            canonical_url=canonical,
            guild_id=guild_id,
            title=doc.title,
            source=source,
            kind=kind,
            content_hash=doc.content_hash,
            summary=doc.summary,
            word_count=doc.word_count,
            added_by=added_by,
            passages=doc.passages,
        )

    async def remove_source(self, doc_id: int, guild_id: int | None = None) -> Source:
        """Remove a source. A server may remove only its own; nobody removes bundled ones."""
        source = await self.store.get_source(doc_id)
        if source is None or (guild_id is not None and source.guild_id not in (None, guild_id)):
            raise NotFound(f"no source with id {doc_id}")
        if source.bundled:
            raise Forbidden(
                f"[{doc_id}] {source.title!r} is part of the bundled corpus and cannot be removed"
            )
        if guild_id is not None and source.guild_id != guild_id:
            raise Forbidden(
                f"[{doc_id}] {source.title!r} is shared by every server and can "
                "only be removed from the command line"
            )
        async with self.store.transaction() as db:
            await self.store.delete_document(db, doc_id)
        return source

    # -- the query log -----------------------------------------------------------------------

    async def query_log(
        self, view: LogView = "recent", limit: int = 20, guild_id: int | None = None
    ) -> list[QueryRecord] | list[TopQuery] | list[FeedbackRow]:
        if not 1 <= limit <= MAX_LOG_ROWS:
            raise InvalidQuery(f"the limit must be between 1 and {MAX_LOG_ROWS:,}")
        if view == "top":
            return await self.store.top_queries(guild_id, limit)
        if view == "feedback":
            return await self.store.feedback_rows(guild_id, limit)
        if view in ("recent", "unanswered"):
            return await self.store.recent_queries(guild_id, limit, unanswered=view == "unanswered")
        raise InvalidQuery(f"unknown log view {view!r}; use recent, top, unanswered or feedback")
