"""citebot's benchmarks in one command: `python bench/run.py [--quick] [--data DIR] [--only ...]`.

Prints the tables and writes each part's results to bench/results/<part>-<timestamp>.json, and
all of them together to bench/results/latest.json. See bench/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

# `python bench/run.py` puts bench/ on sys.path, not the repository: the benchmark must measure
# the retrieval/ package of this checkout, so the checkout goes first.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import bot_load, folder, qa, quality, scale, startup, summaries
from bench.common import DEFAULT_DATA, RESULTS, ROOT, machine_info

PARTS = ("quality", "qa", "summaries", "scale", "startup", "bot", "folder")


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(
            int(s.replace("_", "").replace("k", "000").replace("M", "000000"))
            for s in text.split(",")
            if s
        )
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"sizes are numbers like 1000,10000: {text}") from e
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes must be positive")
    return sizes


def _parts(text: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown part(s) {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}"
        )
    return parts


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="sizes 1k and 10k, fewer queries: under a minute in all",
    )
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help=f"benchmark data folder (default {DEFAULT_DATA} when it exists)",
    )
    p.add_argument(
        "--only",
        type=_parts,
        default=PARTS,
        help="comma-separated parts to run: " + ",".join(PARTS),
    )
    p.add_argument(
        "--sizes",
        type=_sizes,
        default=None,
        help="scale sizes, e.g. 1000,10000,100000,1000000 (or 1k,100k,1M)",
    )
    p.add_argument(
        "--engines",
        type=_engines,
        default=None,
        help="scale: only these engines (e.g. citebot,tantivy: a 1M run without the slow "
        "peers), and no citebot database start (its build alone takes minutes at 1M)",
    )
    return p.parse_args(argv)


def _engines(text: str) -> tuple[str, ...]:
    from bench.engines import ENGINES

    chosen = tuple(e.strip() for e in text.split(",") if e.strip())
    unknown = set(chosen) - set(ENGINES)
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose engines from {', '.join(ENGINES)}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = args.data if args.data is not None else (DEFAULT_DATA if DEFAULT_DATA.is_dir() else None)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    info = machine_info()
    print(
        f"citebot bench {'--quick ' if args.quick else ''}{info['date']}  |  {info['platform']}, "
        f"{info['cpu_count']} CPUs, Python {info['python']}, numpy {info['numpy']}, "
        f"SQLite {info.get('sqlite')}, bm25s {info.get('bm25s')}",
        flush=True,
    )
    runners = {
        "quality": (lambda: quality.run(data, args.quick), quality.render),
        "qa": (lambda: qa.run(data, args.quick), qa.render),
        "summaries": (lambda: summaries.run(data, args.quick), summaries.render),
        "scale": (lambda: scale.run(data, args.quick, args.sizes, args.engines), scale.render),
        "startup": (lambda: startup.run(data, args.quick), startup.render),
        "bot": (lambda: bot_load.run_sync(args.quick), bot_load.render),
        "folder": (lambda: folder.run(data, args.quick), folder.render),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    everything: dict[str, object] = {"machine": info, "quick": args.quick, "parts": {}}
    started = time.perf_counter()
    for part in PARTS:
        if part not in args.only:
            continue
        t0 = time.perf_counter()
        measure, render = runners[part]
        result = measure()
        result["elapsed_s"] = round(time.perf_counter() - t0, 2)
        print()
        print(render(result))
        print(f"  ({part}: {result['elapsed_s']:.1f} s)", flush=True)
        record = {"machine": info, "quick": args.quick, "part": part, "result": result}
        _write(RESULTS / f"{part}-{stamp}.json", record)
        everything["parts"][part] = result  # type: ignore[index]
    everything["elapsed_s"] = round(time.perf_counter() - started, 2)
    _write(RESULTS / "latest.json", everything)
    shown = RESULTS.relative_to(ROOT)
    print(f"\ntotal {everything['elapsed_s']:.1f} s; results in {shown}/")
    return 0


def _write(path: Path, data: object) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


if __name__ == "__main__":
    sys.exit(main())
