"""Regular expressions compiled when first used, not when their module is imported.

The answer-kind patterns (dates, amounts, units, question forms) are large alternations that
take tens of milliseconds to compile; compiled at import they made every `citebot ask`
process pay for all of them, though most questions use a few. A `Lazy` pattern compiles on its
first use and then answers exactly as the compiled pattern does (its methods are the compiled
pattern's own, stored on first look-up, so later calls cost nothing extra).

Compiling is still most of what a first answer costs (about 80M instructions for one question,
a fifth of importing numpy), so a pattern may also say which words it `needs`: words one of
which every match contains. When none of them is in the text (case-folded by `fold`), it cannot
match, and is neither compiled nor run (`may_match`).
"""

from __future__ import annotations

import re
from typing import Any


class Lazy:
    """`re.compile(pattern, flags)`, deferred to the first use of any of its attributes."""

    __slots__ = ("__dict__", "_compiled", "_flags", "_pattern", "needs")

    def __init__(self, pattern: str, flags: int = 0, needs: tuple[str, ...] = ()) -> None:
        self._pattern = pattern
        self._flags = flags
        self._compiled: re.Pattern[str] | None = None
        self.needs = needs

    def may_match(self, folded: str) -> bool:
        """False when the pattern cannot match text that case-folds (`fold`) to `folded`: it
        needs a word none of which is in it. True when it may (or it names no needed word)."""
        if not self.needs:
            return True
        for word in self.needs:  # noqa: SIM110 - a loop costs a third of any() over a generator
            if word in folded:
                return True
        return False

    def compiled(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self._pattern, self._flags)
        return self._compiled

    def __getattr__(self, name: str) -> Any:
        # Only reached for names not yet stored: a method of the compiled pattern, kept on
        # this object so the next look-up finds it directly.
        value = getattr(self.compiled(), name)
        self.__dict__[name] = value
        return value

    def __repr__(self) -> str:
        return f"Lazy({self._pattern[:40]!r}{'...' if len(self._pattern) > 40 else ''})"


def lazy(pattern: str, flags: int = 0, needs: tuple[str, ...] = ()) -> Lazy:
    """A pattern compiled on first use, which cannot match without one of the (lower-case)
    words `needs` (see the module's docstring)."""
    return Lazy(pattern, flags, needs)


def fold(text: str) -> str:
    """`text` as `Lazy.may_match` reads it: case-folded, so that whatever a pattern matches,
    with or without re.IGNORECASE, holds its needed word. Case-folding keeps a needed word
    except where `re` matches a letter that folds to another: "ı" and "İ" match "i"."""
    folded = text.casefold()
    if not folded.isascii():
        folded = folded.replace("ı", "i").replace("i\u0307", "i")  # "İ" folds to "i" + dot
    return folded
