"""The inverted-file BM25 index gives rank-bm25's BM25Okapi scores, only faster."""

import random

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from retrieval.index import Bm25Index
from retrieval.store import PassageRow


def _corpus(seed: int, n: int, vocabulary: int = 400) -> list[list[str]]:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(vocabulary)]
    weights = [1 / (i + 1) ** 1.1 for i in range(vocabulary)]  # Zipfian, as text is
    return [rng.choices(words, weights, k=rng.randint(3, 80)) for _ in range(n)]


def _index(corpus: list[list[str]], scopes: list[int | None] | None = None) -> Bm25Index:
    scopes = scopes or [None] * len(corpus)
    rows = [PassageRow(i + 100, i, scopes[i], " ".join(doc)) for i, doc in enumerate(corpus)]
    return Bm25Index(rows, version=1)


@pytest.mark.parametrize("seed", range(5))
def test_scores_match_rank_bm25_okapi(seed: int) -> None:
    corpus = _corpus(seed, 300)
    ours, reference = _index(corpus), BM25Okapi(corpus)
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
    ours, reference = _index(corpus), BM25Okapi(corpus)
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


def test_a_saved_index_is_the_same_index(tmp_path) -> None:
    corpus = _corpus(7, 200)
    built = _index(corpus, [None, 5] * 100)
    path = tmp_path / "citebot.db.index"
    built.save(path, "db-1")
    loaded = Bm25Index.load(path, "db-1", version=1)
    assert loaded is not None and len(loaded) == 200
    for query in (["w1", "w7"], ["w3", "w50", "w200", "nothing"]):
        assert np.array_equal(loaded.scores(query), built.scores(query))
        assert loaded.search(query, 5, 5) == built.search(query, 5, 5)
    assert Bm25Index.load(path, "db-2", version=1) is None  # another database's index
    assert Bm25Index.load(path, "db-1", version=2) is None  # the corpus changed since
    path.write_bytes(b"not an index")
    assert Bm25Index.load(path, "db-1", version=1) is None


async def test_a_reopened_knowledge_base_uses_the_saved_index(tmp_path) -> None:
    from retrieval.knowledge import KnowledgeBase

    db = tmp_path / "kb.db"
    async with await KnowledgeBase.open(db) as kb:
        first = await kb.ask("H800 export restrictions")
    saved = tmp_path / "kb.db.index"
    assert saved.exists()
    stamp = saved.stat().st_mtime_ns
    async with await KnowledgeBase.open(db) as kb:
        again = await kb.ask("H800 export restrictions")
        assert [h.passage_id for h in again.hits] == [h.passage_id for h in first.hits]
        await kb.add_text("Ferncliff robots pick parcels with suction grippers all day long.")
        assert (await kb.ask("Ferncliff suction grippers")).answered
    assert saved.stat().st_mtime_ns != stamp  # rebuilt and saved for the new corpus version
