"""One engine, one corpus size, in a process of its own: build time, memory, disk, latencies.

A fresh process per (engine, size) is the only honest memory figure: in one process the
allocator keeps what an earlier engine freed, and numpy and SQLite allocate outside tracemalloc.
Run by bench/scale.py as `python -m bench.scale_worker ...`; prints one JSON object.

Two phases, each a process of its own:
- `build`: the index built from the term strings and written into `--folder`; the queries timed;
  then the input strings dropped and the process's resident memory read.
- `reopen`: a fresh process opens what `build` wrote (as a restarted server would) and answers the
  same queries; its resident memory then is the index's cost at run time.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import resource
import sys
import time
from pathlib import Path

from bench.cache import read_lines
from bench.common import peak_rss_mb, percentile
from bench.engines import build, disk_bytes, open_saved

WARMUP = 3
AGREEMENT = 20  # short queries whose rankings are returned, to compare the engines' answers


def memory_mb() -> dict[str, float]:
    """Resident memory now (VmRSS), split into anonymous memory (the heap: what the process
    itself allocated) and file pages mapped in (memory-mapped index files it touched), in MB."""
    out = {"rss": 0.0, "anon": 0.0, "file": 0.0}
    keys = {"VmRSS:": "rss", "RssAnon:": "anon", "RssFile:": "file"}
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            key = keys.get(line.split(":")[0] + ":")
            if key:
                out[key] = int(line.split()[1]) / 1024
    return out


def _release_free_memory() -> None:
    """Hand freed heap back to the system (glibc keeps it otherwise), for every engine alike,
    so resident memory is what the process still holds, not what it once held."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _latencies(engine, queries: list[list[str]], budget_s: float) -> dict[str, object]:
    """p50/p95 in ms over the queries, stopping early (and saying so) past the time budget."""
    for q in queries[:WARMUP]:
        engine.search(q)
    times: list[float] = []
    cpu: list[float] = []  # this thread's CPU time: on a loaded machine, wall time counts waits
    hits = 0
    started = time.perf_counter()
    for q in queries:
        t0, c0 = time.perf_counter(), time.thread_time()
        hits += len(engine.search(q))
        cpu.append((time.thread_time() - c0) * 1000)
        times.append((time.perf_counter() - t0) * 1000)
        if time.perf_counter() - started > budget_s and len(times) >= 10:
            break
    return {
        "p50_ms": percentile(times, 50),
        "p95_ms": percentile(times, 95),
        "p50_cpu_ms": percentile(cpu, 50),
        "p95_cpu_ms": percentile(cpu, 95),
        "mean_ms": sum(times) / len(times),
        "queries": len(times),
        "of": len(queries),
        "mean_hits": hits / len(times),
    }


def _import(engine: str) -> None:
    import numpy  # noqa: F401  - in the baseline for every engine, as citebot needs it anyway

    if engine == "bm25s":
        import bm25s  # noqa: F401
    elif engine == "citebot":
        import retrieval.index

        # As the bot and `ask --batch` do: the compiled search, loaded (numba's import and
        # the compiled code are in the baseline, as tantivy's library is for tantivy).
        if not retrieval.index.use_compiled(wait=600):
            raise RuntimeError("the compiled search did not load")
        # And the compiled build, which the compiled search starts loading in a thread of its
        # own: left to finish whenever, its code landed in the baseline in some runs and in
        # "resident after build" in others (citebot 38-58 MB run to run at 100k).
        import retrieval.building

        if not retrieval.building.ready(600):
            raise RuntimeError("the compiled build did not load")
    elif engine == "tantivy":
        import tantivy  # noqa: F401


def _build(args: argparse.Namespace, queries: dict) -> dict[str, object]:
    baseline = memory_mb()["rss"]  # interpreter and imports
    passages = read_lines(args.passages, args.size)
    size = len(passages)
    gc.collect()
    input_mb = peak_rss_mb()
    t0, cpu0 = time.perf_counter(), time.process_time()
    try:
        engine = build(args.engine, passages, args.folder)
    except MemoryError:
        return {"skipped": f"out of memory under a {args.max_gb:g} GB ceiling"}
    build_s = time.perf_counter() - t0
    build_cpu_s = time.process_time() - cpu0  # every thread's: tantivy indexes on several
    peak_mb = peak_rss_mb()
    result = {
        "engine": args.engine,
        "size": size,
        "build_s": build_s,
        "build_cpu_s": build_cpu_s,
        "baseline_mb": baseline,
        "input_mb": input_mb,
        "peak_mb": peak_mb,
        "build_extra_mb": peak_mb - input_mb,
        "disk_mb": disk_bytes(args.folder) / 1e6,
        "short": _latencies(engine, queries["short"], args.budget),
        "long": _latencies(engine, queries["long"], args.budget),
        "top_short": [engine.search(q) for q in queries["short"][:AGREEMENT]],
    }
    del passages
    _release_free_memory()
    now = memory_mb()
    result["resident_mb"] = now["rss"] - baseline
    result["resident_anon_mb"] = now["anon"]
    result["resident_file_mb"] = now["file"]
    return result


def _reopen(args: argparse.Namespace, queries: dict) -> dict[str, object]:
    """Open the saved index in this fresh process, answer every query once, then read RSS."""
    gc.collect()
    baseline = memory_mb()["rss"]
    t0 = time.perf_counter()
    engine = open_saved(args.engine, args.folder)
    open_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine.search(queries["short"][0])
    first_ms = (time.perf_counter() - t0) * 1000
    for q in queries["short"] + queries["long"]:
        engine.search(q)
    _release_free_memory()
    now = memory_mb()
    return {
        "open_s": open_s,
        "first_query_ms": first_ms,
        "resident_mb": now["rss"] - baseline,
        "resident_anon_mb": now["anon"],
        "resident_file_mb": now["file"],
        "peak_mb": peak_rss_mb(),
        "add_s": _add_one_source(engine, args.folder, args.size),
    }


# One new source: a few passages sharing a word no passage holds yet.
NEW_WORD = "zzqnewsourcezz"
NEW_SOURCE = [f"{NEW_WORD} passage {i} of the added source" for i in range(5)]


def _add_one_source(engine, folder: Path, size: int) -> float | str:
    """Seconds from adding one source (saved to disk) to a search that finds it, or why not
    measured (an engine without incremental adds)."""
    t0 = time.perf_counter()
    try:
        engine.add(NEW_SOURCE, size, folder)
    except NotImplementedError as e:
        return str(e)
    found = engine.search([NEW_WORD])
    took = time.perf_counter() - t0
    if sorted(found) != list(range(size, size + len(NEW_SOURCE))):
        return f"not found after the add: {found}"
    return took


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--engine", required=True)
    p.add_argument("--phase", choices=("build", "reopen"), default="build")
    p.add_argument("--folder", type=Path, required=True, help="where the index is written")
    p.add_argument("--passages", help="terms file, one passage per line (build)")
    p.add_argument("--size", type=int, default=0, help="passages in the corpus")
    p.add_argument("--queries", required=True, help='JSON {"short": [[...]], "long": [[...]]}')
    p.add_argument("--budget", type=float, default=30.0, help="seconds of querying per kind")
    p.add_argument("--max-gb", type=float, default=0, help="address-space ceiling; 0: none")
    args = p.parse_args(argv)
    if args.max_gb:
        # A runaway build fails with MemoryError instead of pushing the machine into swap.
        limit = int(args.max_gb * 1024**3)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    _import(args.engine)
    with open(args.queries, encoding="utf-8") as f:
        queries = json.load(f)
    if args.phase == "build":
        args.folder.mkdir(parents=True, exist_ok=True)
        result = _build(args, queries)
    else:
        result = _reopen(args, queries)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
