"""Questions grouped by what they ask, not how they are typed: "What is DeepSeek?", "what's
deepseek" and "What is DeepSeek ?" are one question asked three times.

The key is the question's index terms (`retrieval.analyzer.analyze`: case folded, punctuation
and stop words dropped, contractions and word forms reduced to their stems), as a set: the
words a search would use. A question of stop words alone ("what is it?") keys on its folded
words instead, so it is not lumped with every other such question. Each group is shown by its
most common wording (the latest of equally common ones).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from retrieval.analyzer import analyze
from retrieval.models import TopQuery

_WORDS = re.compile(r"\w+")


def question_key(text: str) -> str:
    """What a question asks, as a key: its terms, sorted and deduplicated."""
    terms = sorted(set(analyze(text)))
    if terms:
        return " ".join(terms)
    return "= " + " ".join(_WORDS.findall(text.casefold()))


def group_questions(rows: Iterable[tuple[str, bool, str]]) -> list[TopQuery]:
    """(question, answered, asked_at) rows as groups of the same question: most asked first
    (then the most recently asked), each with its most common wording."""
    counts: dict[str, int] = {}
    answered: dict[str, int] = {}
    last: dict[str, str] = {}
    wordings: dict[str, Counter[str]] = {}
    latest_wording: dict[tuple[str, str], str] = {}
    for query, was_answered, asked_at in rows:
        key = question_key(query)
        counts[key] = counts.get(key, 0) + 1
        answered[key] = answered.get(key, 0) + bool(was_answered)
        if asked_at > last.get(key, ""):
            last[key] = asked_at
        shown = " ".join(query.split())
        wordings.setdefault(key, Counter())[shown] += 1
        if asked_at > latest_wording.get((key, shown), ""):
            latest_wording[(key, shown)] = asked_at
    groups = []
    for key, count in counts.items():
        best = max(wordings[key].items(), key=lambda w: (w[1], latest_wording[(key, w[0])]))
        groups.append(TopQuery(best[0], count, answered[key], last[key]))
    groups.sort(key=lambda g: (g.count, g.last_asked), reverse=True)
    return groups
