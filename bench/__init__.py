"""citebot benchmarks: run `python bench/run.py` (see bench/README.md)."""
