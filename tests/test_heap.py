"""A process's heap set aside from full garbage collections (retrieval.heap)."""

from __future__ import annotations

import gc
import weakref

from retrieval.heap import settle_heap


class _Node:
    """An object in a reference cycle (with itself): only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_what_is_set_aside_is_collected_once_dropped_and_set_aside_again() -> None:
    try:
        held = _Node()
        seen = weakref.ref(held)
        settle_heap()
        assert gc.get_freeze_count() > 0
        del held
        gc.collect()
        assert seen() is not None  # set aside: full collections no longer walk it
        settle_heap()  # as on a later on_ready: put back, collected, the rest set aside again
        assert seen() is None
        later = _Node()  # made after: collected as usual
        later_seen = weakref.ref(later)
        del later
        gc.collect()
        assert later_seen() is None
    finally:
        gc.unfreeze()
