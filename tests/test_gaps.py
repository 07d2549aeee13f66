"""Gaps to close: unanswered and not-helpful questions in clusters of what they ask about."""

from __future__ import annotations

import json

from retrieval.gaps import find_gaps


def test_questions_about_the_same_thing_cluster_and_others_stay_apart():
    rows = [
        (1, "How do I bake sourdough bread?", False, 0),
        (2, "baking sourdough bread at home", False, 0),
        (3, "sourdough bread starter", False, 0),
        (4, "Who won the 1998 chess olympiad?", False, 0),
        (5, "How much did DeepSeek spend?", True, 1),  # answered, voted not helpful
        (6, "What is DeepSeek?", True, 0),  # answered and no complaint: no gap
        (7, "How do I bake sourdough bread?", False, 0),
    ]
    gaps = find_gaps(rows)
    assert [g.count for g in gaps] == [4, 1, 1]
    bread = gaps[0]
    assert set(bread.terms) >= {"sourdough", "bread"} and bread.unanswered == 4
    assert bread.wordings[0] == "How do I bake sourdough bread?"  # the most asked first
    assert bread.query_ids == (7, 3, 2, 1)
    spend = next(g for g in gaps if 5 in g.query_ids)
    assert (spend.unanswered, spend.not_helpful) == (0, 1)
    assert all(6 not in g.query_ids for g in gaps)


def test_cli_lists_gaps(cli):
    for question in ("How do I bake sourdough bread?", "sourdough bread recipe", "chess openings"):
        cli("ask", question)
    shown = cli("logs", "gaps")
    assert shown.out.startswith("1. ")
    assert "2 questions (2 unanswered, 0 not helpful)" in shown.out
    listed = json.loads(cli("logs", "gaps", "--json").out)
    assert [g["count"] for g in listed] == [2, 1]


def test_the_gaps_card_fits_discord_with_long_questions():
    from bot import render

    rows = [(i, f"{'why ' * 60} topic{i // 3} {'word' * 30}{i // 3}", False, 0) for i in range(60)]
    embed = render.gaps_embed(find_gaps(rows))
    assert len(embed) <= render.EMBED_TOTAL_LIMIT and len(embed.fields) == render.GAPS_SHOWN


def test_clusters_are_those_of_comparing_every_pair():
    """Prefix filtering finds the clusters comparing every pair of questions would: on
    questions that all share one common term, and others."""
    import random

    from retrieval.gaps import SIMILAR_PERCENT
    from retrieval.question_groups import question_key

    words = (
        "deepseek alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
        "november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu"
    ).split()
    rng = random.Random(7)
    rows = []
    for n in range(400):
        picked = rng.sample(words[1:], rng.randint(0, 4))
        common = ["deepseek"] if n % 5 else []
        rows.append((n + 1, " ".join(common + picked) or "what is it", False, 0))

    def brute() -> set[frozenset[int]]:
        keys = [frozenset(question_key(q).split()) for _, q, _, _ in rows]
        parent = list(range(len(rows)))

        def root(i: int) -> int:
            while parent[i] != i:
                i = parent[i]
            return i

        for i in range(len(rows)):
            for j in range(i):
                a, b = keys[i], keys[j]
                if (a and b and 100 * len(a & b) >= SIMILAR_PERCENT * len(a | b)) or (
                    not a and not b and question_key(rows[i][1]) == question_key(rows[j][1])
                ):
                    parent[root(i)] = root(j)
        groups: dict[int, set[int]] = {}
        for i in range(len(rows)):
            groups.setdefault(root(i), set()).add(rows[i][0])
        return {frozenset(g) for g in groups.values()}

    found = {frozenset(g.query_ids) for g in find_gaps(rows)}
    assert found == brute() and len(found) > 3


def test_two_questions_exactly_at_the_threshold_join():
    """A question of 150 terms and one of 51 of them are 34% alike, exactly the threshold:
    one cluster (in floating point, 0.34 * 150 rounds up to 52 and the pair was missed)."""
    from itertools import product

    from retrieval.question_groups import question_key

    syllables = ("".join(p) for p in product("bcdfgkpvz", "aeiou", "lmnrstx"))
    words = [w for w in syllables if question_key(w) == w][:150]  # no stop words, no stems
    long_one = " ".join(words)
    assert len(question_key(long_one).split()) == 150  # every word its own term
    rows = [(1, long_one, False, 0), (2, " ".join(words[:51]), False, 0)]
    assert [g.count for g in find_gaps(rows)] == [2]
    rows = [(1, long_one, False, 0), (2, " ".join(words[:50]), False, 0)]  # 33%: apart
    assert [g.count for g in find_gaps(rows)] == [1, 1]
