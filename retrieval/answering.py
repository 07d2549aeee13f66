"""Answering: a question searched in the live index, reranked, judged and logged.

One job: from a question's text to an `Answer`. It reads the corpus through the live index (kept
in step with the store, `retrieval.live_index`) and the passages' rows, and writes one query-log
row per question (`retrieval.query_log`). Everything CPU-bound (corrections, BM25, reranking,
highlights) runs in a worker thread, so an event loop that serves Discord is never blocked by it.
Nothing here imports the ingest pipeline, the fetcher or discord.py: `citebot ask` stays fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol, TypeVar

from retrieval.analyzer import analyze, analyze_spans, is_rewritten, normalize
from retrieval.answer_types import answer_words, counted_words, formal
from retrieval.direct_answer import direct_answer
from retrieval.errors import InvalidQuery, NotFound
from retrieval.index import (
    TYPO_WEIGHT,
    Bm25Index,
    Scored,
    SearchResult,
    compiled_requested,
    use_compiled,
)
from retrieval.live_index import LiveIndex
from retrieval.models import Answer, Caller, DirectAnswer, Hit
from retrieval.query_log import QueryLog
from retrieval.rerank import Candidate, Question, rerank
from retrieval.spelling import english_corrections, english_share, may_be_typo
from retrieval.store import Store
from retrieval.term_offsets import layout_of_row
from retrieval.verdict import Verdict, judge

if TYPE_CHECKING:
    from retrieval.engine_processes import EngineProcesses

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_QUERY_CHARS = 1000
MAX_K = 20
RERANK_DEPTH = 30  # BM25's best passages that reranking reorders
HINT_WEIGHT = 0.5  # an answer's typical word ("born") against 1 for the question's own words
# A follow-up's earlier question (a thread's topic): its words are searched too, below the
# question's own and an answer word's, so "who built it?" in a thread about the Harwick pier
# finds the pier, while the new question's words decide what answers.
CONTEXT_WEIGHT = 0.3
# A word at least this common in English (about 30 in a million: "ban" and "pride" below it,
# "putting" and "keep" above) may be missing from a corpus by chance; then it weighs this much.
COMMON_SHARE = 3e-5
LACKING_COMMON_WEIGHT = 0.5
MAX_TYPOS = 4  # unknown words of one question searched for a correction


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


def _timed_search(
    index: Bm25Index, asked: _Asked, guild_id: int | None
) -> tuple[SearchResult, float]:
    """The search and its milliseconds, timed in the worker thread: `search_ms` is the index
    alone, comparable with another engine's search, without the hop to the thread and back
    (which a loaded event loop stretches)."""
    started = time.perf_counter()
    result = index.search(asked.searched + asked.hints, asked.depth, guild_id, asked.weighting)
    return result, (time.perf_counter() - started) * 1000


@dataclass(frozen=True, slots=True)
class _Asked:
    """A question as searched: its formal text, terms, answer words and corrections."""

    text: str
    searched: list[str]
    hints: list[str]
    fixes: dict[str, tuple[str, ...]]
    boosts: dict[str, float]
    shares: dict[str, float]
    depth: int  # how many passages BM25 hands to the reranker
    weighting: dict[str, float]  # each searched term's weight in BM25 (corrections, hints)


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
    # Where each passage's terms and sentences are, stored at ingest or worked out the first
    # time it is shown (`retrieval.term_offsets`); decoded only for what is read of it.
    # One pass over the rows, each field read once (a row reads a field by its name).
    layouts = {}
    candidates = []
    for h in found:
        row = rows.get(h.passage_id)
        if row is None:  # removed between search and fetch
            continue
        layout = layouts[h.passage_id] = layout_of_row(row)
        candidates.append(
            Candidate(h.passage_id, h.score, row["text"], row["title"], row["terms"], layout)
        )
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
    weights |= {t: index.weight(t, guild_id) * asked.weighting.get(t, HINT_WEIGHT) for t in hints}
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
                kind=row["kind"],
                added_by=row["added_by"],
                added_at=row["added_at"],
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
            question.kind,  # question_kind(text): it reads the question unchatted too
        )
        if offset == 0
        else None
    )
    return Found(verdict, hits, len(kept) > offset + k, searched_for, search_ms, direct)


class Reads(Protocol):
    """What answering a question reads of the database besides the index: the versions that
    say whether the index is current, and the passages' rows. An engine thread reads them
    through its own connection (`Answering`), an engine process through its own
    (`retrieval.engine_worker`)."""

    def versions(self, guild_id: int | None) -> tuple[int, int, int]: ...

    def passages(self, ids: list[int], guild_id: int | None) -> Mapping[int, Mapping]: ...


def _asked(
    text: str, k: int, guild_id: int | None, offset: int, index: Bm25Index, context: str = ""
) -> _Asked:
    """The question as it will be searched: its formal text, its terms with corrections for
    words the corpus does not know, and the answer words added as hints; with `context` (an
    earlier question this one follows up), that question's words too, at CONTEXT_WEIGHT."""
    asked = text  # as typed: answer words and hints read the chat phrasing
    text = formal(text)  # "put out" is "released": the rest reads what it asks
    terms = analyze(text)
    fixes: dict[str, tuple[str, ...]] = {}
    shares: dict[str, float] = {}
    if not all(index.knows(t, guild_id) for t in terms):  # else nothing to correct or weigh
        fixes = _corrections(text, terms, index, guild_id)
        # Only words the corpus lacks are weighed by how common they are in English (see
        # _judged): a question of known words never loads the word list.
        shares = english_shares(text, [t for t in terms if not index.knows(t, guild_id)])
    searched = [fixes[t][0] if t in fixes else t for t in terms if fixes.get(t) != ()]
    boosts = {fixes[t][0]: TYPO_WEIGHT for t in fixes if fixes[t]}
    # Words the answer uses that the question does not ("born" for "where is X from"):
    # searched, and counted for proximity and coverage, at their lower weight.
    hints = [t for t in analyze(answer_words(asked)) if t not in searched]
    earlier = [
        t for t in dict.fromkeys(analyze(formal(context))) if t not in searched and t not in hints
    ]
    # In whole steps of RERANK_DEPTH, so that every page size cuts its pages from the same
    # reranked list (and ends it at the same passage).
    depth = RERANK_DEPTH * -(-(offset + k + 1) // RERANK_DEPTH)
    weighting = boosts | dict.fromkeys(hints, HINT_WEIGHT) | dict.fromkeys(earlier, CONTEXT_WEIGHT)
    hints += earlier
    return _Asked(text, searched, hints, fixes, boosts, shares, depth, weighting)


def _concluded(
    asked: _Asked,
    index: Bm25Index,
    guild_id: int | None,
    result: SearchResult,
    search_ms: float,
    reads: Reads,
    k: int,
    offset: int,
) -> Found:
    """What the search found, with its passages' rows read, reranked and judged."""
    rows = reads.passages([h.passage_id for h in result.hits], guild_id)
    return _judged(asked, index, guild_id, result.hits, rows, k, offset, search_ms)


def find(
    text: str,
    k: int,
    guild_id: int | None,
    offset: int,
    index: Bm25Index,
    reads: Reads,
    check: bool = True,
    context: str = "",
) -> tuple[Found | None, bool]:
    """What `index` finds for the question (None when `check` finds it stale for this
    server), and whether it lags behind other servers' changes; synchronous, for an engine
    thread or process. `context`: the earlier question this one follows up.

    A word the corpus does not know is searched as its closest known word, weighted down.
    BM25 picks the candidates (at least RERANK_DEPTH, so every page is cut from the same
    reranked list), `rerank` orders them by what answers the question, `judge` decides
    whether the best of them answers it at all and drops the ones far below it.
    """
    behind = lags(index, reads, guild_id) if check else False
    if behind is None:
        return None, False
    asked = _asked(text, k, guild_id, offset, index, context)
    result, search_ms = _timed_search(index, asked, guild_id)
    return _concluded(asked, index, guild_id, result, search_ms, reads, k, offset), behind


def find_many(
    texts: Sequence[str],
    k: int,
    guild_id: int | None,
    index: Bm25Index,
    reads: Reads,
    check: bool = True,
) -> tuple[list[tuple[Found, float]] | None, bool]:
    """`find` for several questions of one caller (a batch), each with the milliseconds of
    its own work: every question is read first, then all are searched one after another,
    then each is reranked and judged. Same answers as asking them one by one.

    Why together: a search that follows the rest of an answer's work (rows read, reranking,
    highlights) finds the index's data and the compiled loop cold in the CPU's caches; back to
    back they stay warm. Measured on a 85k-passage folder (382 questions, chunks of 64):
    search p50/p95 0.29/0.55 ms one by one against 0.11/0.24 ms together.
    """
    behind = lags(index, reads, guild_id) if check else False
    if behind is None:
        return None, False
    questions = [(text, k, guild_id) for text in texts]
    return list(found_each(questions, index, reads)), behind


def lags(index: Bm25Index, reads: Reads, guild_id: int | None) -> bool | None:
    """Whether `index` lags behind other servers' changes (usable as it is), or None when it
    is stale for this server (see `_fit`)."""
    fit = _fit(index, reads.versions(guild_id), guild_id)
    return None if fit is None else not fit


def found_each(
    questions: Sequence[tuple[str, int, int | None]], index: Bm25Index, reads: Reads
) -> Iterator[tuple[Found, float]]:
    """The first page found for each (question, k, server) on an index already checked for
    them, with the milliseconds of its own work, yielded as each is judged (an engine process
    sends each on while it judges the next): all are read first, then searched one after
    another, then each is judged (see `find_many`)."""
    plans: list[tuple[_Asked, float]] = []
    for text, k, guild_id in questions:
        started = time.perf_counter()
        plans.append((_asked(text, k, guild_id, 0, index), time.perf_counter() - started))
    searched = [
        _timed_search(index, asked, guild_id)
        for (asked, _), (_, _, guild_id) in zip(plans, questions, strict=True)
    ]
    for (asked, planning), (result, search_ms), (_, k, guild_id) in zip(
        plans, searched, questions, strict=True
    ):
        started = time.perf_counter()
        found = _concluded(asked, index, guild_id, result, search_ms, reads, k, 0)
        yield found, (planning + time.perf_counter() - started) * 1000 + search_ms


ENGINE_THREADS = 2  # one long question (a vocabulary scan for typos) does not stall the rest


def _fit(index: Bm25Index, versions: tuple[int, int, int], guild_id: int | None) -> bool | None:
    """Whether `index` answers for this server at `versions` (corpus, global scope, its own
    scope): True when it is current; False when only other servers' sources changed since it
    was built (usable as it is, while a new one is built in the background); None when this
    server's scopes changed (its next question must wait for the rebuild)."""
    corpus, global_version, own_version = versions
    if index.version == corpus:
        return True
    seen = index.scope_versions
    if seen.get(0, 0) == global_version and seen.get(guild_id or 0, 0) == own_version:
        return False
    return None


def _check_k(k: int) -> None:
    """InvalidQuery unless `k` passages can be asked for."""
    if not 1 <= k <= MAX_K:
        raise InvalidQuery(f"the number of passages must be between 1 and {MAX_K}")


class Answering:
    """Questions answered from one store's live index, each logged in its query log.

    A question's work after the loop hands it over (is the index current, corrections, the
    search, the passages' rows, reranking, highlights, the direct answer) runs in one trip to
    an engine thread, which reads SQLite through a connection of its own: one hand-over and
    one wake-up of the loop per question, not one per step (each cost more CPU than a step).
    """

    def __init__(self, store: Store, live: LiveIndex, queries: QueryLog) -> None:
        self.store = store
        self.live = live
        self.queries = queries
        self._catching_up: asyncio.Task[None] | None = None
        self._again = False  # a change heard while catching up: once more (`_catch_up`)
        self._article_counts: dict[tuple[int, int | None], int] = {}
        self._engine = ThreadPoolExecutor(ENGINE_THREADS, thread_name_prefix="citebot-answer")
        self._processes: EngineProcesses | None = None  # see answer_in_processes
        self._local = threading.local()  # each engine thread's read connection
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._inline = False  # see answer_inline
        # A change made by another process (a shared PostgreSQL database tells of it): the
        # index is rebuilt at once, not when the next question finds it stale.
        store.on_corpus_change(self._corpus_changed)

    def answer_inline(self) -> bool:
        """Answer on the event loop's own thread from now on: for a caller that asks one
        question at a time and has nothing else for its loop to do (`ask --batch`). The
        hand-over to an engine thread and back buys such a caller nothing, and the engine
        thread's wake-up on another core found the search's data colder (measured in
        alternated batches: search p95 0.45-0.51 -> 0.41-0.49 ms, ask p50 2.7-3.0 -> 2.4-2.6
        ms). Not for an in-memory database, whose reads go through the loop. Returns whether
        it does."""
        self._inline = self.store.local_reads and self._processes is None
        return self._inline

    async def expect_many_questions(self, wait: float, *, build: bool = True) -> bool:
        """Searches switch to the compiled search once it has loaded (see
        KnowledgeBase.expect_many_questions); `wait` seconds at most, off the event loop."""
        if wait <= 0:
            return use_compiled(build=build)
        return await asyncio.to_thread(use_compiled, wait, build=build)

    async def answer_in_processes(self, count: int, *, compiled: bool | None = None) -> bool:
        """Answer questions in `count` engine processes from now on (`retrieval.engine_worker`:
        for a bot, whose event loop would otherwise share one interpreter lock with the
        engine); not for an in-memory database, whose index is never saved. Returns whether
        they started."""
        folder = self.live.folder
        if count < 1 or folder is None or self._processes is not None:
            return False
        from retrieval.engine_processes import EngineProcesses

        await self.live.update()  # saved before the processes open it
        self._processes = EngineProcesses(
            self.store.path,
            folder,
            count,
            compiled=compiled_requested() if compiled is None else compiled,
        )
        await self._processes.start()
        return True

    async def close(self) -> None:
        """Stop a background rebuild and the live index's merges; let the engine threads
        and processes finish and close their connections."""
        if self._processes is not None:
            await self._processes.close()
        if self._catching_up is not None:
            self._catching_up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._catching_up
        await asyncio.to_thread(self._engine.shutdown)
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for db in readers:
            db.close()
        await self.live.close()

    async def _articles(self, guild_id: int | None) -> int:
        """How many articles this server searches; counted once per corpus version."""
        current = self.live.current
        version = current.version if current is not None else -1
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
        return len(await self.current_index())

    async def settle_index(self) -> int:
        """Bring the saved index up to the database now, merged where fragmented (see
        `LiveIndex.settle`): what a terminal command that changed the corpus does before it
        exits. Returns the number of passages indexed."""
        if self.live.folder is None:
            # Nothing is saved (PostgreSQL, or memory): building the whole index only to drop
            # it would cost a terminal command the corpus's reading for nothing.
            return 0
        return len(await self.live.settle())

    async def current_index(self, guild_id: int | None = None) -> Bm25Index:
        """An index that holds everything this server can see as it is now.

        When only other servers' sources changed since the index was built, this server's
        search needs nothing new: it keeps using the index it has while the new one is built
        in the background, so one server adding sources never makes another server wait.
        When this server's scopes (its own, or the global corpus) changed, it waits for the
        rebuild, so a source it just added is found by its next question.
        """
        index = self.live.current
        if index is not None:
            fit = _fit(index, await self.store.versions(guild_id), guild_id)
            if fit is not None:
                if not fit:
                    self._catch_up_in_background()
                return index
        return await self._rebuild()

    def _corpus_changed(self) -> None:
        """Another process (or this one) changed the corpus: an index this process holds is
        brought up to it now; none yet, the first question builds it."""
        if self.live.current is not None:
            self._catch_up_in_background()

    def _catch_up_in_background(self) -> None:
        """Bring the index up to the corpus in the background. A change heard while a catch-up
        runs (it may have read the corpus version already) makes that one go round again."""
        if self._catching_up is None or self._catching_up.done():
            self._catching_up = asyncio.create_task(self._catch_up())
        else:
            self._again = True

    async def _catch_up(self) -> None:
        while True:
            self._again = False
            try:
                await self._rebuild()
            except Exception:
                log.exception("rebuilding the index in the background failed")
                return
            if not self._again:
                return

    async def _rebuild(self) -> Bm25Index:
        """The index for the latest corpus version (`retrieval.live_index`)."""
        return await self.live.update()

    async def _search(
        self, text: str, k: int, guild_id: int | None, offset: int = 0, context: str = ""
    ) -> Found:
        """Hits ranked offset+1 .. offset+k (none when the corpus does not answer), and whether
        there are more after them; see `_found`, which does the work in an engine thread with
        the index the loop has (after waiting for a rebuild when this server's scopes changed
        since it was built)."""
        loop = asyncio.get_running_loop()
        return await self._on_current_index(
            lambda index, check: self._found_somewhere(
                text, k, guild_id, offset, index, check, loop, context
            )
        )

    async def _on_current_index(
        self, attempt: Callable[[Bm25Index, bool], Awaitable[tuple[T | None, bool]]]
    ) -> T:
        """What `attempt(index, check)` gives with the index the loop has, checked; when that
        is stale for the server (None), with the rebuilt one, unchecked. A lag behind other
        servers' changes starts a rebuild in the background."""
        index, check = self.live.current, True
        while True:  # twice at most: after a rebuild the index is not checked again
            if index is not None:
                result, behind = await attempt(index, check)
                if behind:
                    self._catch_up_in_background()
                if result is not None:
                    return result
            index, check = await self._rebuild(), False

    async def _found_somewhere(
        self,
        text: str,
        k: int,
        guild_id: int | None,
        offset: int,
        index: Bm25Index,
        check: bool,
        loop: asyncio.AbstractEventLoop,
        context: str = "",
    ) -> tuple[Found | None, bool]:
        """`find` in an engine process when there are any and the index is saved, else (or
        when none could) in an engine thread."""
        if self._processes is not None:
            answered = await self._processes.find(index, text, k, guild_id, offset, check, context)
            if answered is not None:
                found, behind, unlaid = answered
                if unlaid:
                    self.store.keep_layouts(unlaid)
                return found, behind
            # The bot left the compiled search to the processes; its threads load it now.
            use_compiled()
        # In an engine thread (or on this one, see answer_inline), reading the database
        # through the thread's own connection.
        reads = _ThreadReads(self, loop)
        if self._inline:
            return find(text, k, guild_id, offset, index, reads, check, context)
        return await loop.run_in_executor(
            self._engine, find, text, k, guild_id, offset, index, reads, check, context
        )

    def _reader(self) -> sqlite3.Connection | None:
        """This engine thread's read connection, opened on first use (None in memory)."""
        if not hasattr(self._local, "db"):
            self._local.db = self.store.sync_reader()
            if self._local.db is not None:
                with self._readers_lock:
                    self._readers.append(self._local.db)
        return self._local.db  # type: ignore[no-any-return]

    async def ask(
        self, query: str, k: int = 3, caller: Caller | None = None, context: str | None = None
    ) -> Answer:
        """The top `k` passages for `query` visible to `caller`'s server, logged. `context`:
        the earlier question this one follows up (a thread's): its words are searched too, at
        a lower weight, and the answer says so."""
        caller = caller or Caller()
        started = time.perf_counter()
        text = validate_query(query)
        _check_k(k)
        context = " ".join((context or "").split())[:MAX_QUERY_CHARS] or None
        found = await self._search(text, k, caller.guild_id, context=context or "")
        articles = await self._articles(caller.guild_id)
        latency_ms = (time.perf_counter() - started) * 1000
        answer = await self._logged(text, found, articles, latency_ms, caller)
        return replace(answer, context=context) if context else answer

    async def ask_many(
        self, queries: Sequence[str], k: int = 3, caller: Caller | None = None
    ) -> list[Answer | InvalidQuery]:
        """`ask` for each of `queries` (a batch from one caller), in their order: its Answer,
        logged, or the InvalidQuery that refused it. The same answers as asking one by one;
        searched one after another (see `find_many`), each answer's `latency_ms` the time of
        its own work."""
        caller = caller or Caller()
        _check_k(k)
        texts: list[str | InvalidQuery] = []
        for query in queries:
            try:
                texts.append(validate_query(query))
            except InvalidQuery as exc:
                texts.append(exc)
        valid = [t for t in texts if isinstance(t, str)]
        founds = await self._search_many(valid, k, caller.guild_id)
        articles = await self._articles(caller.guild_id)
        # Logged together: the batch's rows go in as few writes as the log takes (its
        # MAX_ROWS a write), in the batch's order; one after another, each would wait for the
        # log's interval (log_writer.INTERVAL_S).
        logged = iter(
            await asyncio.gather(
                *(
                    self._logged(text, found, articles, own_ms, caller)
                    for text, (found, own_ms) in zip(valid, founds, strict=True)
                )
            )
        )
        return [text if isinstance(text, InvalidQuery) else next(logged) for text in texts]

    async def _search_many(
        self, texts: list[str], k: int, guild_id: int | None
    ) -> list[tuple[Found, float]]:
        """`_search` for a batch: with engine processes, one question after another (a batch
        is the terminal's, which starts none: this keeps the two paths alike); else together
        in one trip to an engine thread, or on this one."""
        if not texts:
            return []
        if self._processes is not None:
            out = []
            for text in texts:
                started = time.perf_counter()
                found = await self._search(text, k, guild_id)
                out.append((found, (time.perf_counter() - started) * 1000))
            return out
        loop = asyncio.get_running_loop()
        reads = _ThreadReads(self, loop)

        async def attempt(
            index: Bm25Index, check: bool
        ) -> tuple[list[tuple[Found, float]] | None, bool]:
            if self._inline:
                return find_many(texts, k, guild_id, index, reads, check)
            return await loop.run_in_executor(
                self._engine, find_many, texts, k, guild_id, index, reads, check
            )

        return await self._on_current_index(attempt)

    async def _logged(
        self, text: str, found: Found, articles: int, latency_ms: float, caller: Caller
    ) -> Answer:
        """The answer to `text`, logged with its latency (the time of its own work)."""
        answered = found.verdict.answered
        query_id = await self.queries.record(
            caller,
            text,
            found.hits,
            answered=answered,
            confidence=found.verdict.confidence,
            latency_ms=latency_ms,
        )
        return _answer(text, found, articles, latency_ms, query_id)

    async def answers_now(
        self, questions: Sequence[str], guild_id: int | None
    ) -> list[Answer | None]:
        """What the corpus answers to each question now (None: not a question the engine
        takes), searched as an ask would search it but not logged: a moderator checking what
        a new source closed, and the note that tells the askers."""
        out: list[Answer | None] = []
        articles = await self._articles(guild_id)
        for question in questions:
            try:
                text = validate_query(question)
            except InvalidQuery:
                out.append(None)
                continue
            found = await self._search(text, 3, guild_id)
            out.append(_answer(text, found, articles, 0.0, None))
        return out

    async def page(
        self,
        query_id: int,
        page: int,
        k: int = 3,
        guild_id: int | None = None,
        context: str | None = None,
    ) -> Answer:
        """Page `page` (0-based) of a logged question's results, searched again, not logged.

        A page click is the same question, so it adds no log row; the corpus may have changed
        since, which is why it is searched again rather than replayed.
        """
        record = await self.queries.question(query_id, guild_id)
        if record is None:
            raise NotFound("that question is no longer in the log; ask it again")
        if not 0 <= page <= MAX_K or not 1 <= k <= MAX_K:
            raise InvalidQuery(f"pages go from 1 to {MAX_K + 1}")
        started = time.perf_counter()
        context = " ".join((context or "").split())[:MAX_QUERY_CHARS] or None
        found = await self._search(
            record.query, k, guild_id, offset=page * k, context=context or ""
        )
        articles = await self._articles(guild_id)
        latency_ms = (time.perf_counter() - started) * 1000
        answer = _answer(record.query, found, articles, latency_ms, query_id)
        return replace(answer, context=context) if context else answer


def _answer(
    text: str, found: Found, articles: int, latency_ms: float, query_id: int | None
) -> Answer:
    """The Answer a surface shows for what a search found (an ask's, or a page's)."""
    return Answer(
        query=text,
        answered=found.verdict.answered,
        hits=tuple(found.hits),
        latency_ms=latency_ms,
        confidence=found.verdict.confidence,
        articles_searched=articles,
        query_id=query_id,
        has_more=found.more,
        reason=found.verdict.reason,
        searched_for=found.searched_for,
        search_ms=found.search_ms,
        direct=found.direct,
    )


@dataclass(frozen=True, slots=True)
class _ThreadReads:
    """`Reads` from an engine thread: through the thread's own connection, or through the
    loop for an in-memory database (it exists only on the store's connection)."""

    answering: Answering
    loop: asyncio.AbstractEventLoop

    def versions(self, guild_id: int | None) -> tuple[int, int, int]:
        db = self.answering._reader()
        store = self.answering.store
        if db is None:
            return asyncio.run_coroutine_threadsafe(store.versions(guild_id), self.loop).result()
        return store.versions_on(db, guild_id)

    def passages(self, ids: list[int], guild_id: int | None) -> Mapping[int, Mapping]:
        """The layouts to keep go to the loop."""
        db = self.answering._reader()
        store = self.answering.store
        if db is None:
            return asyncio.run_coroutine_threadsafe(
                store.passages_by_id(ids, guild_id), self.loop
            ).result()
        rows, unlaid = store.passages_by_id_on(db, ids, guild_id)
        if unlaid:
            self.loop.call_soon_threadsafe(store.keep_layouts, unlaid)
        return rows
