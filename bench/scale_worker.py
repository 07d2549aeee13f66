"""One engine, one corpus size, in a process of its own: build time, peak memory, latencies.

A fresh process per (engine, size) is the only honest peak-memory figure: in one process the
allocator keeps what an earlier engine freed, and numpy and SQLite allocate outside tracemalloc.
Run by bench/scale.py as `python -m bench.scale_worker ...`; prints one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time

from bench.cache import read_lines
from bench.common import peak_rss_mb, percentile
from bench.engines import build

WARMUP = 3
AGREEMENT = 20  # short queries whose rankings are returned, to compare the engines' answers


def _latencies(engine, queries: list[list[str]], budget_s: float) -> dict[str, object]:
    """p50/p95 in ms over the queries, stopping early (and saying so) past the time budget."""
    for q in queries[:WARMUP]:
        engine.search(q)
    times: list[float] = []
    hits = 0
    started = time.perf_counter()
    for q in queries:
        t0 = time.perf_counter()
        hits += len(engine.search(q))
        times.append((time.perf_counter() - t0) * 1000)
        if time.perf_counter() - started > budget_s and len(times) >= 10:
            break
    return {
        "p50_ms": percentile(times, 50),
        "p95_ms": percentile(times, 95),
        "mean_ms": sum(times) / len(times),
        "queries": len(times),
        "of": len(queries),
        "mean_hits": hits / len(times),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--engine", required=True)
    p.add_argument("--passages", required=True, help="terms file, one passage per line")
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--queries", required=True, help='JSON {"short": [[...]], "long": [[...]]}')
    p.add_argument("--budget", type=float, default=30.0, help="seconds of querying per kind")
    p.add_argument("--max-gb", type=float, default=0, help="address-space ceiling; 0: none")
    args = p.parse_args(argv)
    if args.max_gb:
        # A runaway build fails with MemoryError instead of pushing the machine into swap.
        limit = int(args.max_gb * 1024**3)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    import numpy  # noqa: F401  - in the baseline for every engine, as citebot needs it anyway

    if args.engine == "bm25s":
        import bm25s  # noqa: F401
    elif args.engine == "citebot":
        import retrieval.index  # noqa: F401
    elif args.engine == "tantivy":
        import tantivy  # noqa: F401
    passages = read_lines(args.passages, args.size)
    with open(args.queries, encoding="utf-8") as f:
        queries = json.load(f)
    gc.collect()
    base_mb = peak_rss_mb()
    t0 = time.perf_counter()
    try:
        engine = build(args.engine, passages)
    except MemoryError:
        print(json.dumps({"skipped": f"out of memory under a {args.max_gb:g} GB ceiling"}))
        return 0
    build_s = time.perf_counter() - t0
    peak_mb = peak_rss_mb()
    result = {
        "engine": args.engine,
        "size": len(passages),
        "build_s": build_s,
        "input_mb": base_mb,
        "peak_mb": peak_mb,
        "build_extra_mb": peak_mb - base_mb,
        "short": _latencies(engine, queries["short"], args.budget),
        "long": _latencies(engine, queries["long"], args.budget),
        "top_short": [engine.search(q) for q in queries["short"][:AGREEMENT]],
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
