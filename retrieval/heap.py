"""A long-running process's heap set aside from the cyclic garbage collector's full collections.

Both the bot's process and its engine processes hold a large heap from their start (modules,
discord.py's state of its servers, the index, numba's objects) that is never garbage. A full
collection walks every object the process holds, and runs whenever enough short-lived objects
(an ask's, in flight across a few young collections) reached the oldest generation: at 50 users
every 3-4 s, 68 ms of CPU in the bot and 70 ms in each engine process, during which no ask
moves. With the startup heap set aside (`gc.freeze`): 17-20 ms (bench/README.md, "Issue 10,
eighth session").
"""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Set aside what the process holds now. Objects set aside are still freed when nothing
    refers to them; only a cycle among them would stay. So what was set aside before is put
    back and collected first: call it again after dropping state that holds cycles (the bot
    after a reconnect, when discord.py drops its state of the servers), and only when nothing
    of a request in flight is held that will soon be garbage."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
