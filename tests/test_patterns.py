"""Patterns compiled on first use answer as compiled ones, and an ask's imports compile none."""

import re
import subprocess
import sys

from retrieval.patterns import lazy


def test_a_lazy_pattern_answers_as_the_compiled_one():
    source, flags = r"\b(\d+)\s*(km|miles?)\b", re.I
    pattern, compiled = lazy(source, flags), re.compile(source, flags)
    for text in ("ran 42 KM today", "5 miles", "no distance", "12km and 3 mile"):
        found, expected = pattern.search(text), compiled.search(text)
        assert (found and found.groups()) == (expected and expected.groups())
        assert [m.span() for m in pattern.finditer(text)] == [
            m.span() for m in compiled.finditer(text)
        ]
        assert pattern.sub("#", text) == compiled.sub("#", text)
    assert pattern.pattern == source and pattern.flags == compiled.flags


def test_importing_the_ask_path_compiles_no_answer_kind_pattern():
    # The answer-kind patterns took tens of milliseconds to compile at import: every
    # `citebot ask` process paid for all of them. Now none is compiled until a question uses it.
    code = (
        "import retrieval.knowledge, retrieval.answer_types as a\n"
        "from retrieval.patterns import Lazy\n"
        "lazies = [v for v in vars(a).values() if isinstance(v, Lazy)]\n"
        "print(len(lazies), sum(v._compiled is not None for v in lazies))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    total, compiled = map(int, out.stdout.split())
    assert total >= 10
    assert compiled == 0
