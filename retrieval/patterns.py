"""Regular expressions compiled when first used, not when their module is imported.

The answer-kind patterns (dates, amounts, units, question forms) are large alternations that
take tens of milliseconds to compile; compiled at import they made every `citebot ask`
process pay for all of them, though most questions use a few. A `Lazy` pattern compiles on its
first use and then answers exactly as the compiled pattern does (its methods are the compiled
pattern's own, stored on first look-up, so later calls cost nothing extra).
"""

from __future__ import annotations

import re
from typing import Any


class Lazy:
    """`re.compile(pattern, flags)`, deferred to the first use of any of its attributes."""

    __slots__ = ("__dict__", "_compiled", "_flags", "_pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._pattern = pattern
        self._flags = flags
        self._compiled: re.Pattern[str] | None = None

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


def lazy(pattern: str, flags: int = 0) -> Lazy:
    """A pattern compiled on first use (see the module's docstring)."""
    return Lazy(pattern, flags)
