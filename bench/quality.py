"""Retrieval quality: nDCG@10 and Recall@100 on BEIR-format collections, next to published BM25.

Each document's title + " " + text becomes ONE passage analysed with citebot's own analyzer, the
analyzer users get, so the figure is what a user sees, not what a tuned tokenizer could reach.
bm25s is run on the very same tokens, so a gap between the two is the scoring, not the analysis.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.cache import analyzed
from bench.common import table
from bench.metrics import mean, ndcg_at_k, recall_at_k

K = 100
BM25S_METHODS = ("lucene", "robertson")  # both at k1=1.5, b=0.75, BM25Okapi's defaults
TOLERANCE = 0.01  # the target: within 0.01 of the published figure, or better


@dataclass(frozen=True)
class Reference:
    """A published (or internally measured) BM25 figure and where it comes from."""

    label: str
    ndcg10: float | None
    recall100: float | None
    source: str


# Read from ../shared/bench-data/README.md §4; "target" marks the figure PASS/FAIL compares with.
REFERENCES: dict[str, list[Reference]] = {
    "scifact": [
        Reference(
            "BEIR paper BM25 (Elasticsearch, multifield) [target]",
            0.665,
            0.908,
            "Thakur et al. 2021, arXiv:2104.08663 (README §4b)",
        ),
        Reference(
            "Anserini BM25 multifield k1=0.9 b=0.4",
            0.6647,
            0.9076,
            "castorini/anserini regressions-beir-v1.0.0-scifact.multifield (README §4a)",
        ),
        Reference(
            "Anserini BM25 flat k1=0.9 b=0.4",
            0.6789,
            0.9253,
            "castorini/anserini regressions-beir-v1.0.0-scifact.flat (README §4a)",
        ),
        Reference(
            "bm25s table, lowest (Lucene k1=0.9 b=0.4)",
            0.676,
            None,
            "Lù 2024 arXiv:2407.03618, xhluca/bm25-benchmarks (README §4c)",
        ),
        Reference(
            "bm25s table, Elasticsearch k1=1.5 b=0.75 [aim]",
            0.690,
            None,
            "Lù 2024 arXiv:2407.03618, xhluca/bm25-benchmarks (README §4c)",
        ),
        Reference(
            "rank_bm25 BM25Okapi k1=1.5 b=0.75 (bm25s tokenizer)",
            0.6839,
            0.9127,
            "bench-data README §4d (internal measurement)",
        ),
    ],
    "cranfield": [
        Reference(
            "rank_bm25 BM25Okapi k1=1.5 b=0.75, text only [target]",
            0.3578,
            0.7377,
            "bench-data README §4d (internal baseline; no canonical published figure)",
        ),
        Reference(
            "bm25s lucene k1=1.5 b=0.75, text only",
            0.3648,
            0.7347,
            "bench-data README §4d (internal baseline)",
        ),
        Reference(
            "bm25s lucene k1=1.2 b=0.75, title + text",
            0.3692,
            None,
            "bench-data README §4d (internal baseline)",
        ),
    ],
}
AIM = {"scifact": 0.69}


@dataclass
class Collection:
    name: str
    path: Path
    doc_ids: list[str]
    doc_texts: list[str]
    queries: dict[str, str]  # judged test queries only
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)
    doc_titles: list[str] = field(default_factory=list)
    doc_bodies: list[str] = field(default_factory=list)


def find_collections(data_dir: Path) -> list[Path]:
    """Every folder under data_dir that looks like a BEIR collection."""
    return sorted(
        p.parent
        for p in data_dir.glob("*/corpus.jsonl")
        if (p.parent / "queries.jsonl").is_file() and (p.parent / "qrels" / "test.tsv").is_file()
    )


def load_collection(path: Path) -> Collection:
    doc_ids: list[str] = []
    doc_texts: list[str] = []
    titles: list[str] = []
    bodies: list[str] = []
    with open(path / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            doc_ids.append(str(d["_id"]))
            doc_texts.append(f"{d.get('title') or ''} {d.get('text') or ''}".strip())
            titles.append(d.get("title") or "")
            bodies.append(d.get("text") or "")
    qrels: dict[str, dict[str, int]] = {}
    with open(path / "qrels" / "test.tsv", encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        next(reader)  # header: query-id, corpus-id, score
        for qid, did, score in reader:
            qrels.setdefault(qid, {})[did] = int(score)
    queries: dict[str, str] = {}
    with open(path / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            if str(q["_id"]) in qrels:
                queries[str(q["_id"])] = q["text"]
    return Collection(path.name, path, doc_ids, doc_texts, queries, qrels, titles, bodies)


def _run_citebot(
    docs: Sequence[list[str]], queries: Sequence[list[str]], titles: Sequence[str] = ()
) -> tuple[list, dict]:
    """Rankings (document indexes) from citebot's Bm25Index, with build and query timings.
    With `titles`, each document's title is the title field, as citebot indexes an article."""
    from retrieval.index import Bm25Index
    from retrieval.store import PassageRow

    rows = [
        PassageRow(i + 1, i + 1, None, " ".join(t), titles[i] if titles else "")
        for i, t in enumerate(docs)
    ]
    t0 = time.perf_counter()
    index = Bm25Index(rows, 1)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    rankings = [[h.passage_id - 1 for h in index.search(q, K, None).hits] for q in queries]
    elapsed = time.perf_counter() - t0
    return rankings, {"build_s": build, "qps": len(queries) / elapsed if elapsed else None}


def _run_bm25s(
    docs: Sequence[list[str]], queries: Sequence[list[str]], method: str
) -> tuple[list, dict]:
    """Rankings from bm25s on the same tokens; zero-score padding is dropped (not retrieved)."""
    import bm25s

    t0 = time.perf_counter()
    model = bm25s.BM25(k1=1.5, b=0.75, method=method)
    model.index(list(docs), show_progress=False)
    build = time.perf_counter() - t0
    known = model.vocab_dict
    rankings: list[list[int]] = []
    t0 = time.perf_counter()
    for q in queries:
        terms = [t for t in q if t in known]
        if not terms:
            rankings.append([])
            continue
        ids, scores = model.retrieve([terms], k=min(K, len(docs)), show_progress=False)
        rankings.append([int(i) for i, s in zip(ids[0], scores[0], strict=True) if s > 0])
    elapsed = time.perf_counter() - t0
    return rankings, {"build_s": build, "qps": len(queries) / elapsed if elapsed else None}


def evaluate(col: Collection) -> dict[str, object]:
    """All runs on one collection: metrics, timings, references and the PASS/FAIL verdict."""
    docs = analyzed(f"quality-{col.name}", col.path / "corpus.jsonl", col.doc_texts)
    bodies = analyzed(f"quality-{col.name}-body", col.path / "corpus.jsonl", col.doc_bodies)
    qids = list(col.queries)
    from retrieval.analyzer import analyze

    queries = [analyze(col.queries[q]) for q in qids]
    runs: dict[str, tuple[list, dict]] = {
        "citebot": _run_citebot(bodies, queries, col.doc_titles),
        "citebot, title + text in one field": _run_citebot(docs, queries),
    }
    try:
        for method in BM25S_METHODS:
            runs[f"bm25s {method} k1=1.5 b=0.75"] = _run_bm25s(docs, queries, method)
    except ImportError:
        runs_note = "bm25s not installed (pip install '.[bench]')"
    else:
        runs_note = ""
    refs = REFERENCES.get(col.name, [])
    target = next((r for r in refs if "[target]" in r.label), None)
    results = []
    for name, (rankings, timing) in runs.items():
        ndcgs, recalls = [], []
        for qid, ranked in zip(qids, rankings, strict=True):
            names = [col.doc_ids[i] for i in ranked]
            ndcgs.append(ndcg_at_k(names, col.qrels[qid], 10))
            recalls.append(recall_at_k(names, col.qrels[qid], K))
        ndcg, recall = mean(ndcgs), mean(recalls)
        verdict = None
        if target is not None and target.ndcg10 is not None:
            verdict = "PASS" if ndcg >= target.ndcg10 - TOLERANCE else "FAIL"
        results.append(
            {"run": name, "ndcg10": ndcg, "recall100": recall, **timing, "verdict": verdict}
        )
    return {
        "collection": col.name,
        "docs": len(col.doc_ids),
        "queries": len(qids),
        "runs": results,
        "target": None if target is None else target.__dict__,
        "aim_ndcg10": AIM.get(col.name),
        "references": [r.__dict__ for r in refs],
        "note": runs_note,
    }


def run(data_dir: Path | None, quick: bool = False) -> dict[str, object]:
    """Evaluate every collection under data_dir. quick changes nothing: all of it takes seconds."""
    del quick
    if data_dir is None or not data_dir.is_dir():
        return {"skipped": f"no benchmark data at {data_dir} (give --data DIR)"}
    paths = find_collections(data_dir)
    if not paths:
        return {"skipped": f"no BEIR collections (*/corpus.jsonl + qrels/test.tsv) in {data_dir}"}
    return {"data": str(data_dir), "collections": [evaluate(load_collection(p)) for p in paths]}


def render(result: dict) -> str:
    """One table per collection: our runs, then the published figures they are compared with."""
    if "skipped" in result:
        return f"quality: skipped ({result['skipped']})"
    out = []
    for col in result["collections"]:
        target = col["target"]
        rows: list[list[object]] = []
        for r in col["runs"]:
            delta = None
            if target and target["ndcg10"] is not None:
                delta = f"{r['ndcg10'] - target['ndcg10']:+.4f}"
            rows.append(
                [
                    r["run"],
                    _f4(r["ndcg10"]),
                    _f4(r["recall100"]),
                    delta,
                    r["verdict"] or "-",
                    "measured here",
                ]
            )
        for ref in col["references"]:
            rows.append(
                [ref["label"], _f4(ref["ndcg10"]), _f4(ref["recall100"]), "", "", ref["source"]]
            )
        title = (
            f"Quality: {col['collection']} ({col['docs']:,} docs, {col['queries']} judged test "
            f"queries; citebot: title field + text, bm25s: title + text; citebot analyzer; "
            f"top {K})"
        )
        if target:
            title += f"; PASS = nDCG@10 >= {target['ndcg10']} - {TOLERANCE}"
        if col["aim_ndcg10"]:
            title += f", aim {col['aim_ndcg10']}"
        out.append(
            table(["run", "nDCG@10", "R@100", "vs target", "PASS/FAIL", "source"], rows, title)
        )
        if col["aim_ndcg10"]:
            cb = col["runs"][0]
            out[-1] += (
                f"\n  aim {col['aim_ndcg10']} (Elasticsearch BM25): citebot {cb['ndcg10']:.4f}, "
                f"{cb['ndcg10'] - col['aim_ndcg10']:+.4f}"
            )
        speed = ", ".join(
            f"{r['run'].split(' k1')[0]}: build {r['build_s']:.2f} s, {r['qps']:.0f} q/s"
            for r in col["runs"]
            if r.get("qps")
        )
        out.append(f"  speed at k={K}: {speed}")
        if col["note"]:
            out.append(f"  note: {col['note']}")
    return "\n\n".join(out)


def _f4(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"
