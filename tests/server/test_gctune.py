"""The server's garbage-collector settings (server/gctune.py)."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from assist.server.gctune import YOUNG_EVERY_S, QuietGC


class Node:
    """A cycle: only the collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.mark.parametrize("freeze_every_s", [0.0, YOUNG_EVERY_S])  # the young timer; the freezing steps
def test_young_garbage_is_collected_on_the_timer_while_allocations_stand_still(freeze_every_s: float) -> None:
    asyncio.run(young_garbage(freeze_every_s))


async def young_garbage(freeze_every_s: float) -> None:
    quiet = QuietGC(full_every_s=3600, freeze_every_s=freeze_every_s)
    quiet.start()
    try:
        gone = weakref.ref(Node())  # young garbage; far fewer allocations follow than the threshold
        for _ in range(int(20 * 1.0 / YOUNG_EVERY_S)):  # bounded: 20 timer periods at most
            if gone() is None:
                break
            await asyncio.sleep(YOUNG_EVERY_S / 2)
        assert gone() is None
    finally:
        quiet.stop()
    assert gc.get_threshold()[1] < 1_000  # the settings before the server are back
