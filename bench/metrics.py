"""nDCG@k and Recall@k, computed here rather than with pytrec_eval.

Both are a few lines, and owning them avoids a C extension in the bench extra. The definitions
follow trec_eval / pytrec_eval (which BEIR and the published figures use): graded gains equal to
the qrel score, a log2(rank + 1) discount, the ideal ranking built from the qrels alone, and for
recall every qrel with score > 0 counts as relevant.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def ndcg_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k of one ranking. Gains are the qrel scores (linear gain, as trec_eval's ndcg_cut)."""
    dcg = sum(qrels.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]))
    ideal = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 2) for rank, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 100) -> float:
    """Share of the relevant documents (score > 0) found in the top k."""
    relevant = {doc for doc, g in qrels.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")
