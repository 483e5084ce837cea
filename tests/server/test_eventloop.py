"""The server's event loop: uvloop by default where installed, asyncio's own when configured off."""

from __future__ import annotations

import pytest

from assist.server import eventloop
from assist.server.config import ServerConfig


async def which() -> str:
    return eventloop.loop_name()


def test_uvloop_by_default_and_asyncio_when_switched_off() -> None:
    pytest.importorskip("uvloop")
    assert eventloop.run(which(), use_uvloop=ServerConfig().uvloop) == "uvloop"
    assert eventloop.run(which(), use_uvloop=False) == "asyncio"


def test_the_switch_is_a_setting_like_any_other(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSIST_UVLOOP", "false")
    assert ServerConfig().uvloop is False
