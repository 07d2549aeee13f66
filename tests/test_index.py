"""The inverted-file BM25 index gives exact BM25 scores, only faster: with rank-bm25's idf and
parameters, rank-bm25's BM25Okapi scores; with its defaults (Lucene's idf), the textbook formula."""

import concurrent.futures
import importlib
import itertools
import json
import math
import random
import sqlite3
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from retrieval.index import K1, B, Bm25Index
from retrieval.store import PassageRow


def _corpus(seed: int, n: int, vocabulary: int = 400) -> list[list[str]]:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(vocabulary)]
    weights = [1 / (i + 1) ** 1.1 for i in range(vocabulary)]  # Zipfian, as text is
    return [rng.choices(words, weights, k=rng.randint(3, 80)) for _ in range(n)]


def _index(
    corpus: list[list[str]], scopes: list[int | None] | None = None, **parameters
) -> Bm25Index:
    scopes = scopes or [None] * len(corpus)
    rows = [PassageRow(i + 100, i, scopes[i], " ".join(doc)) for i, doc in enumerate(corpus)]
    return Bm25Index(rows, version=1, **parameters)


# rank-bm25's BM25Okapi: its idf (negative values floored), k1 1.5, b 0.75.
OKAPI = {"k1": 1.5, "b": 0.75, "idf_kind": "robertson"}


def _lucene_scores(corpus: list[list[str]], query: list[str], k1: float, b: float) -> list[float]:
    """BM25 with Lucene's idf, term by term, the way the formula is written."""
    n = len(corpus)
    avgdl = sum(map(len, corpus)) / n
    out = []
    for doc in corpus:
        score = 0.0
        for term in dict.fromkeys(query):
            df = sum(term in d for d in corpus)
            tf = doc.count(term)
            if not tf:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(doc) / avgdl))
        out.append(score)
    return out


@pytest.mark.parametrize("seed", range(3))
def test_default_scores_are_bm25_with_lucenes_idf(seed: int) -> None:
    corpus = _corpus(seed, 120)
    ours = _index(corpus)
    rng = random.Random(seed)
    vocabulary = sorted({w for doc in corpus for w in doc})
    for _ in range(10):
        query = rng.sample(vocabulary, rng.randint(1, 6))
        expected = _lucene_scores(corpus, query, K1, B)
        assert np.allclose(ours.scores(query), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_scores_match_rank_bm25_okapi(seed: int) -> None:
    corpus = _corpus(seed, 300)
    ours, reference = _index(corpus, **OKAPI), BM25Okapi(corpus)
    rng = random.Random(seed)
    vocabulary = [*sorted({w for doc in corpus for w in doc}), "unknown"]
    for _ in range(40):
        query = rng.sample(vocabulary, rng.randint(1, 12))
        expected = reference.get_scores(query)
        assert np.allclose(ours.scores(query), expected, rtol=1e-12, atol=1e-12)
        result = ours.search(query, 10, None)
        top = np.argsort(-expected, kind="stable")[:10]
        top = [int(i) + 100 for i in top if expected[i] > 0]
        assert [h.passage_id for h in result.hits] == top
        assert np.allclose(
            [h.score for h in result.hits], sorted(expected, reverse=True)[: len(top)]
        )


def test_a_term_in_exactly_half_the_passages_and_in_most_of_them() -> None:
    corpus = [["half", "a"], ["half", "b"], ["c"], ["d"], ["most", "e"], ["most"], ["most"]]
    corpus[2].append("most")
    ours, reference = _index(corpus, **OKAPI), BM25Okapi(corpus)
    for query in (["half"], ["most"], ["half", "most", "e"]):
        assert np.allclose(ours.scores(query), reference.get_scores(query))


def test_visibility_per_server_and_empty_cases() -> None:
    corpus = [["shared", "x"], ["mine", "x"], ["theirs", "x"]] + [["filler"]] * 5
    index = _index(corpus, [None, 1, 2] + [None] * 5)
    assert {h.passage_id for h in index.search(["x"], 10, 1).hits} == {100, 101}
    assert {h.passage_id for h in index.search(["x"], 10, None).hits} == {100}
    assert index.search(["theirs"], 10, 1).hits == []
    assert index.search(["nothing"], 10, None).hits == []
    empty = Bm25Index([], version=0)
    assert empty.search(["x"], 3, None).hits == [] and len(empty) == 0


def test_a_servers_scores_are_those_of_an_index_of_only_what_it_sees(tmp_path) -> None:
    # Exact statistics per server: searching as server 1 in an index that also holds server
    # 2's passages scores exactly as an index of the global and server-1 passages alone.
    corpus = _corpus(11, 300)
    scopes = [None, 1, 2, None, 2, 2][:6] * 50
    mixed = _index(corpus, scopes)
    visible = [i for i, scope in enumerate(scopes) if scope in (None, 1)]
    alone = Bm25Index(
        [PassageRow(i + 100, i, None, " ".join(corpus[i])) for i in visible], version=1
    )
    for query in (["w1"], ["w3", "w40"], ["w0", "w7", "w120", "w399"]):
        ours = {h.passage_id: h.score for h in mixed.search(query, 300, 1).hits}
        reference = {h.passage_id: h.score for h in alone.search(query, 300, None).hits}
        assert ours.keys() == reference.keys()
        assert all(math.isclose(ours[p], reference[p], rel_tol=1e-9) for p in ours)
        assert mixed.idf(query[-1], 1) == pytest.approx(alone.idf(query[-1]))
        assert mixed.weight(query[-1], 1) == pytest.approx(alone.weight(query[-1]))
    # The CLI (no server) sees the global scope with the global scope's statistics.
    global_only = Bm25Index(
        [
            PassageRow(i + 100, i, None, " ".join(corpus[i]))
            for i, s in enumerate(scopes)
            if s is None
        ],
        version=1,
    )
    ours = {h.passage_id: h.score for h in mixed.search(["w3"], 300, None).hits}
    reference = {h.passage_id: h.score for h in global_only.search(["w3"], 300, None).hits}
    assert ours == pytest.approx(reference)
    # ... and a saved copy gives the same scores.
    mixed.save(tmp_path / "i.index", "db")
    loaded = Bm25Index.load(tmp_path / "i.index", "db", version=1)
    assert loaded is not None
    again = {h.passage_id: h.score for h in loaded.search(["w3", "w40"], 300, 1).hits}
    assert again == {h.passage_id: h.score for h in mixed.search(["w3", "w40"], 300, 1).hits}


def test_a_saved_index_is_the_same_index(tmp_path) -> None:
    corpus = _corpus(7, 200)
    built = _index(corpus, [None, 5] * 100)
    path = tmp_path / "citebot.db.segments"
    built.save(path, "db-1")
    loaded = Bm25Index.load(path, "db-1", version=1)
    assert loaded is not None and len(loaded) == 200
    # Opened memory-mapped: the postings are not read into memory.
    assert all(isinstance(s.docs.low.base, np.memmap) for s in loaded.segments)
    for query in (["w1", "w7"], ["w3", "w50", "w200", "nothing"]):
        assert np.array_equal(loaded.scores(query), built.scores(query))
        assert loaded.search(query, 5, 5) == built.search(query, 5, 5)
    assert Bm25Index.load(path, "db-2", version=1) is None  # another database's index
    assert Bm25Index.load(path, "db-1", version=2) is None  # the corpus changed since
    (path / "manifest.json").write_bytes(b"not an index")
    assert Bm25Index.load(path, "db-1", version=1) is None


async def test_a_reopened_knowledge_base_uses_the_saved_index(tmp_path) -> None:
    from retrieval.knowledge import KnowledgeBase

    db = tmp_path / "kb.db"
    async with await KnowledgeBase.open(db) as kb:
        first = await kb.ask("H800 export restrictions")
    saved = tmp_path / "kb.db.segments"
    (bundled,) = json.loads((saved / "manifest.json").read_text())["segments"]
    stamp = (saved / bundled["name"] / "docs.npy").stat().st_mtime_ns
    async with await KnowledgeBase.open(db) as kb:
        again = await kb.ask("H800 export restrictions")
        assert [h.passage_id for h in again.hits] == [h.passage_id for h in first.hits]
        await kb.add_text("Ferncliff robots pick parcels with suction grippers all day long.")
        assert (await kb.ask("Ferncliff suction grippers")).answered
    # The new source is a segment of its own; the bundled corpus's was not rebuilt.
    names = [e["name"] for e in json.loads((saved / "manifest.json").read_text())["segments"]]
    assert len(names) == 2 and bundled["name"] in names
    assert (saved / bundled["name"] / "docs.npy").stat().st_mtime_ns == stamp


# -- a damaged saved index is rebuilt, never trusted -------------------------------------------


def _reverse_every_term(arrays: dict[str, np.ndarray]) -> None:
    starts, docs = arrays["starts"], arrays["docs"]
    for begin, end in itertools.pairwise(starts.tolist()):
        docs[begin:end] = docs[begin:end][::-1].copy()


def _words(change):
    def damage(arrays: dict[str, np.ndarray]) -> None:
        words = change(arrays["vocabulary"].decode().split("\n")[:-1])
        arrays["vocabulary"] = "".join(f"{w}\n" for w in words).encode()

    return damage


def _replace(name: str, make):
    def damage(arrays: dict[str, np.ndarray]) -> None:
        arrays[name] = make(arrays[name])

    return damage


# Each damage touches every term (or the whole file), so an index that trusted it would fail
# or misrank every question; segments carry no checksum (opening must not read them whole), so
# the structural checks on open must catch each one.
DAMAGES = {
    "frequencies truncated": _replace("tf", lambda a: a[: len(a) // 2]),
    "ids truncated": _replace("ids", lambda a: a[: len(a) // 2]),
    "offsets shifted": _replace("starts", lambda a: np.concatenate(([0], a[1:-1] + 1, a[-1:]))),
    "offsets past the postings": _replace("starts", lambda a: a + np.arange(len(a))),
    "documents out of range": _replace("docs", lambda a: a + a.max() + 1),
    "documents in another window": _replace("run_windows", lambda a: a + 1),
    "runs out of order": _replace("run_starts", lambda a: np.concatenate((a, a))),
    "postings out of order": _reverse_every_term,
    "vocabulary one word short": _words(lambda words: words[1:]),
    "vocabulary with a repeated word": _words(lambda words: [words[1], *words[1:]]),
    "frequencies NaN": _replace("tf", lambda a: np.full_like(a, np.nan)),
    "frequencies infinite": _replace("tf", lambda a: np.full_like(a, np.inf)),
    # Lengths are unsigned: negative ones can only come in a signed array, refused by dtype.
    "lengths negative": _replace("lengths", lambda a: -1 - a.astype(np.int32)),
    "lengths as floats": _replace("lengths", lambda a: a.astype(np.float32)),
    "docs as floats": _replace("docs", lambda a: a.astype(np.float64)),
    "ids as a column": _replace("ids", lambda a: a.reshape(-1, 1)),
    "a file cut short": None,
}


def _damage(folder: Path, name: str) -> None:
    """Damage the largest segment of a saved index."""
    manifest = json.loads((folder / "manifest.json").read_text())
    segment = max(
        (folder / e["name"] for e in manifest["segments"]),
        key=lambda p: (p / "docs.npy").stat().st_size,
    )
    change = DAMAGES[name]
    if change is None:
        data = (segment / "docs.npy").read_bytes()
        (segment / "docs.npy").write_bytes(data[: len(data) // 2])
        return
    arrays = {p.stem: np.load(p) for p in segment.glob("*.npy")}
    arrays["vocabulary"] = (segment / "vocabulary.bin").read_bytes()
    change(arrays)
    for key, value in arrays.items():
        if key == "vocabulary":
            (segment / "vocabulary.bin").write_bytes(value)
        else:
            np.save(segment / f"{key}.npy", value)


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_saved_index_is_not_loaded(tmp_path, damage: str) -> None:
    path = tmp_path / "citebot.db.segments"
    _index(_corpus(3, 120), [None, 5, 6] * 40).save(path, "db-1")
    assert Bm25Index.load(path, "db-1", version=1) is not None
    _damage(path, damage)
    assert Bm25Index.load(path, "db-1", version=1) is None


@pytest.mark.parametrize("damage", DAMAGES)
async def test_a_knowledge_base_rebuilds_a_damaged_saved_index(tmp_path, damage: str) -> None:
    from retrieval.knowledge import KnowledgeBase

    db, saved = tmp_path / "kb.db", tmp_path / "kb.db.segments"
    async with await KnowledgeBase.open(db) as kb:
        first = await kb.ask("H800 export restrictions")
    _damage(saved, damage)
    async with await KnowledgeBase.open(db) as kb:
        again = await kb.ask("H800 export restrictions")
    assert again.answered and again.hits == first.hits
    with sqlite3.connect(db) as connection:
        database_id, version, state = connection.execute(
            "SELECT (SELECT value FROM meta WHERE key = 'database_id'), "
            "(SELECT value FROM meta WHERE key = 'corpus_version'), "
            "(SELECT value FROM meta WHERE key = 'corpus_state')"
        ).fetchone()
    identity = f"{database_id} {state}"
    assert Bm25Index.load(saved, identity, int(version)) is not None  # saved again, whole


async def test_a_restored_database_never_uses_a_stale_index(tmp_path) -> None:
    # A backup is taken; the live database goes on (one source removed, one added) and saves
    # its index. The backup is restored and, with other changes, reaches the same change
    # count with other documents: the saved index (of the live corpus) must not be used.
    from retrieval.knowledge import KnowledgeBase

    def copy(source: Path, target: Path) -> None:  # SQLite's online backup, WAL included
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)

    db = tmp_path / "kb.db"
    async with await KnowledgeBase.open(db, seed=False) as kb:
        await kb.add_text("The Ardle ferry crosses the firth twice a day.", title="Ardle ferry")
        copy(db, tmp_path / "backup.db")
        await kb.add_text("The Corran lighthouse was built in 1794 by Ann Wren.", title="Corran")
        live = await kb.ask("who built the corran lighthouse", 3)
        assert live.answered and "Ann Wren" in live.hits[0].text
    with sqlite3.connect(db) as connection:
        (live_version,) = connection.execute(
            "SELECT value FROM meta WHERE key = 'corpus_version'"
        ).fetchone()
    # Restored over the live file (the live database's saved index stays beside it).
    copy(tmp_path / "backup.db", db)
    async with await KnowledgeBase.open(db, seed=False) as kb:
        await kb.add_text("The Kestrel mill grinds barley for the Ardle bakers.", title="Mill")
        with sqlite3.connect(db) as connection:
            (version,) = connection.execute(
                "SELECT value FROM meta WHERE key = 'corpus_version'"
            ).fetchone()
        assert version == live_version  # the same count of changes...
        restored = await kb.ask("who built the corran lighthouse", 3)
        assert not restored.answered and not restored.hits  # ... and no trace of the other
        mill = await kb.ask("what does the kestrel mill grind", 3)
        assert mill.answered and "barley" in mill.hits[0].text


def test_a_server_knows_only_the_terms_it_may_see(tmp_path) -> None:
    corpus = [["shared", "x"], ["mine", "x"], ["theirs", "x"]] + [["filler"]] * 5
    scopes = [None, 1, 2] + [None] * 5
    built = _index(corpus, scopes)
    built.save(tmp_path / "i", "db")
    loaded = Bm25Index.load(tmp_path / "i", "db", version=1)
    for index in (built, loaded):
        assert index.knows("shared", None) and index.knows("shared", 1)
        assert index.knows("x", 2) and index.knows("mine", 1)
        assert not index.knows("mine", 2) and not index.knows("mine", None)
        assert not index.knows("nothing", 1)
        # A typo is never corrected to a word of another server's passages.
        assert index.corrections(["theirz"], 1) == {}
        assert index.corrections(["theirz"], 2) == {"theirz": ("theirs",)}


# -- segments: a change is indexed on its own, removals are marks, fragmented scopes merge -----


async def test_a_removed_source_leaves_the_index_without_a_rebuild(tmp_path) -> None:
    from retrieval.knowledge import KnowledgeBase
    from retrieval.models import Caller

    async with await KnowledgeBase.open(tmp_path / "kb.db", seed=False) as kb:
        kept = await kb.add_text("The Ardle ferry crosses the firth twice a day.", title="Ferry")
        gone = await kb.add_text(
            "The Corran lighthouse was built in 1794 by Ann Wren.", title="Corran", guild_id=7
        )
        asker = Caller(guild_id=7)
        assert (await kb.ask("who built the corran lighthouse", 3, asker)).answered
        before = await kb._current_index(7)
        await kb.remove_source(gone.source.doc_id, asker)
        answer = await kb.ask("who built the corran lighthouse", 3, asker)
        assert not answer.answered and not answer.hits
        index = await kb._current_index(7)
        # Not a rebuild: the global segment is the same one; server 7's, empty now, is dropped.
        (global_segment,) = [s.name for s in before.segments if s.scope == 0]
        assert [s.name for s in index.segments] == [global_segment]
        assert len(index) == len(before) - 1
        assert index.idf("ferri", 7) == index.idf("ferri", None)  # server 7 has no passages now
        ferry = await kb.ask("what crosses the firth", 3, asker)
        assert ferry.answered and ferry.hits[0].doc_id == kept.source.doc_id


async def test_a_fragmented_scope_is_merged_in_the_background(tmp_path) -> None:
    from retrieval.index import MAX_SEGMENTS
    from retrieval.knowledge import KnowledgeBase
    from retrieval.models import Caller

    async with await KnowledgeBase.open(tmp_path / "kb.db", seed=False) as kb:
        asker = Caller(guild_id=7)
        for i in range(MAX_SEGMENTS + 1):
            await kb.add_text(
                f"Memo {i}: the Ferncliff dock {i} crane lifts {10 + i} tonnes.",
                title=f"Dock {i}",
                guild_id=7,
            )
            before = await kb.ask("which crane lifts 13 tonnes", 3, asker)
        index = await kb._current_index(7)
        assert len([s for s in index.segments if s.scope == 7]) == MAX_SEGMENTS + 1
        await kb._live._merging  # the merge it scheduled
        merged = await kb._current_index(7)
        assert len([s for s in merged.segments if s.scope == 7]) == 1
        after = await kb.ask("which crane lifts 13 tonnes", 3, asker)
        assert [(h.passage_id, round(h.score, 9)) for h in after.hits] == [
            (h.passage_id, round(h.score, 9)) for h in before.hits
        ]
        assert "13 tonnes" in after.hits[0].text
    # Reopened: the merged segment is what was saved.
    async with await KnowledgeBase.open(tmp_path / "kb.db", seed=False) as kb:
        index = await kb._current_index(7)
        assert len([s for s in index.segments if s.scope == 7]) == 1


async def test_a_merge_takes_the_small_segments_and_leaves_the_large_one(tmp_path) -> None:
    # One source added to a large corpus must not rebuild the corpus: when a scope grows too
    # many segments, the small ones are merged and the large one stays as it was.
    from retrieval.index import MAX_SEGMENTS
    from retrieval.knowledge import KnowledgeBase
    from retrieval.models import Caller

    async with await KnowledgeBase.open(tmp_path / "kb.db", seed=False) as kb:
        asker = Caller(guild_id=7)
        for i in range(12):
            await kb.add_text(
                f"Ledger {i}: the Saltmarsh mill {i} grinds {100 + i} sacks of barley a week.",
                title=f"Mill {i}",
                guild_id=7,
            )
        await kb.ask("how much barley does the mill grind", 3, asker)
        large = [s.name for s in (await kb._current_index(7)).segments if s.scope == 7]
        assert len(large) == 1
        for i in range(MAX_SEGMENTS):
            await kb.add_text(
                f"Memo {i}: the Ferncliff dock {i} crane lifts {10 + i} tonnes.",
                title=f"Dock {i}",
                guild_id=7,
            )
            before = await kb.ask("which crane lifts 13 tonnes", 3, asker)
        await kb._live._merging  # the merge it scheduled
        merged = [s for s in (await kb._current_index(7)).segments if s.scope == 7]
        assert len(merged) == 2 and large[0] in {s.name for s in merged}
        assert sorted(s.size for s in merged) == [MAX_SEGMENTS, 12]
        after = await kb.ask("which crane lifts 13 tonnes", 3, asker)
        assert [(h.passage_id, round(h.score, 9)) for h in after.hits] == [
            (h.passage_id, round(h.score, 9)) for h in before.hits
        ]
        assert "13 tonnes" in after.hits[0].text


def _reference_top(
    counts: list[Counter],
    visible: list[int],
    live: set[int],
    query: list[str],
    boosts: dict[str, float],
    k: int,
) -> list[tuple[int, float]]:
    """The k best (passage id, score) by BM25 written out term by term (`counts`: each
    passage's term counts): N and the average length over the live passages a server sees,
    document frequencies over every passage of its segments (a deleted one's leave only when
    its scope is merged); ties in id order."""
    n = len(live)
    avgdl = sum(counts[i].total() for i in live) / n
    df = {term: sum(term in counts[j] for j in visible) for term in query}
    scored = []
    for i in sorted(live):
        score = 0.0
        length = counts[i].total()
        for term in dict.fromkeys(query):
            tf = counts[i][term]
            if not tf:
                continue
            idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5)) * boosts.get(term, 1.0)
            score += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / avgdl))
        if score > 0:
            scored.append((-score, i + 100))
    return [(i, -s) for s, i in sorted(scored)[:k]]


# Each way a segment can be scored, forced by the thresholds that choose between them.
PATHS = {
    "every posting, merged": {"FEW_POSTINGS": 10**9},
    "every posting, one slot per passage": {"FEW_POSTINGS": 0, "DENSE_SHARE": 10**9},
    "MaxScore, passages looked up in postings": {
        "FEW_POSTINGS": 0,
        "DENSE_SHARE": 0,
        "LOOKUP_SHARE": 10**9,
    },
    "MaxScore, postings looked up among passages": {
        "FEW_POSTINGS": 0,
        "DENSE_SHARE": 0,
        "LOOKUP_SHARE": 0,
    },
    # The compiled search (retrieval.compiled), which long-lived processes switch to.
    "compiled": {"_compiled": "retrieval.compiled"},
}


@pytest.mark.parametrize("segments", [3, 1])
@pytest.mark.parametrize("window_bits", [16, 3])
@pytest.mark.parametrize("seed", [0, 1])
def test_every_way_of_scoring_finds_the_reference_best_passages(
    seed: int, window_bits: int, segments: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A global scope of three segments and a server's own, with removed sources, searched
    # with boosts: whichever way a segment is scored (pruned or not), the k best passages and
    # their scores are those of BM25 written out, ties in passage order, and the scores are
    # the same floats whichever way computed them. With windows of 8 passages (3 bits) instead
    # of 65,536, every term's postings span many windows, as a common word's do at 1M. With
    # one segment per scope (a merged corpus), the global view has one segment: the compiled
    # search's path for one segment, with its terms' weights remembered by the view.
    import retrieval.index as index_module
    import retrieval.segments as segments_module
    from retrieval.segments import Segment

    monkeypatch.setattr(segments_module, "WINDOW_BITS", window_bits)

    corpus = _corpus(seed, 900, vocabulary=600)
    counts = [Counter(doc) for doc in corpus]
    rng = random.Random(seed)
    scopes = [rng.choice([None, None, 4]) for _ in corpus]
    parts = [range(0, 500), range(500, 700), range(700, 900)] if segments == 3 else [range(900)]

    def rows(part: range) -> list[PassageRow]:
        return [PassageRow(i + 100, i, scopes[i], " ".join(corpus[i])) for i in part]

    index = Bm25Index(rows(parts[0]), version=1)
    for version, part in enumerate(parts[1:], start=2):
        added = [
            Segment.build(f"seg-{seed}-{version}-{scope}", scope or 0, chunk, 0.0)
            for scope in (None, 4)
            if (chunk := [r for r in rows(part) if r.guild_id == scope])
        ]
        index = index.changed(added, [], version)
    removed = set(rng.sample(range(900), 60))
    index = index.changed([], removed, 4)
    assert len([s for s in index.segments if s.scope == 0]) == segments
    queries = [rng.sample([f"w{i}" for i in range(600)], rng.randint(1, 14)) for _ in range(30)]
    # The commonest words: in more passages than are left, so their idf is below 0.
    queries += [["w0", "w1", "w2", "w3", "w4"], ["w0", "w599"], ["w1", "nothing"]]
    for query in queries:
        boosts = {query[-1]: 0.8} if len(query) > 1 else {}
        for guild, k in ((None, 10), (4, 10), (4, 3), (None, 200)):
            visible = [i for i in range(900) if scopes[i] in (None, guild)]
            live = set(visible) - removed
            expected = _reference_top(counts, visible, live, query, boosts, k)
            ids, scores, _ = index._scored(query, index._view(guild), boosts)
            every = dict(zip(ids, scores, strict=True))
            for path, settings in PATHS.items():
                with monkeypatch.context() as patched:
                    for name, value in settings.items():
                        if name == "_compiled":
                            value = importlib.import_module(value)
                        patched.setattr(index_module, name, value)
                    hits = index.search(query, k, guild, boosts).hits
                assert [h.passage_id for h in hits] == [i for i, _ in expected], (path, query)
                assert [h.score for h in hits] == pytest.approx(
                    [score for _, score in expected], rel=1e-12
                )
                # The same floats as the reference path that reads every posting.
                assert all(every[h.passage_id] == h.score for h in hits), (path, query)


def test_searches_in_several_threads_at_once_find_what_one_finds_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The compiled search sums into one set of slots per segment; a search that finds them
    # taken (another thread's) sums into its own. Either way: the same passages and floats,
    # and the slots are left clean (the next search alone still agrees).
    import retrieval.compiled
    import retrieval.index as index_module

    corpus = _corpus(7, 600, vocabulary=300)
    index = Bm25Index(
        [PassageRow(i + 1, i, None, " ".join(doc)) for i, doc in enumerate(corpus)], version=1
    )
    rng = random.Random(7)
    queries = [rng.sample([f"w{i}" for i in range(300)], rng.randint(1, 8)) for _ in range(40)]
    alone = [index.search(q, 10, None).hits for q in queries]  # numpy
    monkeypatch.setattr(index_module, "_compiled", retrieval.compiled)
    barrier = threading.Barrier(4)

    def run(offset: int) -> list:
        barrier.wait()
        return [index.search(queries[(i + offset) % 40], 10, None).hits for i in range(40)]

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, range(4)))
    for offset, found in enumerate(results):
        assert found == [alone[(i + offset) % 40] for i in range(40)]
    assert [index.search(q, 10, None).hits for q in queries] == alone


async def test_a_process_that_expects_many_questions_searches_compiled(tmp_path) -> None:
    # The bot and `ask --batch` ask for the compiled search; it loads, and answers as before.
    from retrieval.knowledge import KnowledgeBase

    async with await KnowledgeBase.open(str(tmp_path / "kb.db")) as kb:
        before = await kb.ask("How much did DeepSeek spend on training V3?")
        assert await kb.expect_many_questions(wait=600)  # a hang guard only
        after = await kb.ask("How much did DeepSeek spend on training V3?")
    assert [(h.passage_id, h.score) for h in after.hits] == [
        (h.passage_id, h.score) for h in before.hits
    ]
    assert "$5.6 million" in after.hits[0].text
