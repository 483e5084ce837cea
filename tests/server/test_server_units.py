"""The hub's live clock (with an injected wall clock) and the config loader."""

from __future__ import annotations

from pathlib import Path

import pytest
from serverkit import rules, say, start

from assist.core.engine import Engine
from assist.server.config import ConfigError, load_config, parse_agent_tokens
from assist.server.hub import Hub
from assist.server.metrics import Metrics


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_ticks_carry_event_time_forward_by_wall_time_since_the_last_event() -> None:
    clock = FakeClock()
    engine = Engine(rules())
    hub = Hub(engine, max_calls=10, queue_size=8, metrics=Metrics(), clock=clock)
    expire = engine.rules.rules["no-blame"].expire_ms
    assert expire is not None
    assert hub.ingest(start("c1"))["type"] == "ack"
    assert hub.ingest(say("c1", "customer", "Hello, it's about my bill.", 2000))["type"] == "ack"
    assert hub.ingest(say("c1", "agent", "Calm down.", 4000))["type"] == "ack"
    (prompt,) = [p for p in hub.calls["c1"].call.prompts if p.rule == "no-blame"]
    arrived = clock.now
    clock.now += (expire - 1) / 1000  # live time 4000 + expire - 1: not yet
    hub.tick(idle_timeout_s=600)
    assert prompt in hub.calls["c1"].call.prompts
    clock.now += 2.5  # live time 4000 + expire + 2499: the prompt's time is up
    hub.tick(idle_timeout_s=600)
    view = engine.view("c1")
    assert view is not None and view.t_ms == 4000 + int((clock.now - arrived) * 1000) >= 4000 + expire
    assert prompt not in view.prompts
    assert hub.calls["c1"].call == view  # the hub keeps the view the tick returned
    clock.now += 601
    hub.tick(idle_timeout_s=600)
    assert engine.view("c1") is None and "c1" in hub.ended
    engine.close()


def test_config_from_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "assist.yaml"
    path.write_text("port: 9000\ntokens:\n  cti: from-file\n  agents: {a1: t1}\nlimits:\n  max_calls: 50\n")
    monkeypatch.setenv("ASSIST_SUPERVISOR_TOKEN", "sup")
    monkeypatch.setenv("ASSIST_AGENT_TOKENS", "a7=tok1, a8=tok2")
    config = load_config(path)
    assert config.port == 9000 and config.limits.max_calls == 50
    assert config.tokens.cti == "from-file" and config.tokens.supervisor == "sup"
    assert config.tokens.agents == {"a1": "t1", "a7": "tok1", "a8": "tok2"}
    assert load_config(path, port=1234).port == 1234


def test_config_problems_name_the_field_and_never_echo_tokens(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"limits": {"max_calls": 0}, "colour": "blue"}')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "limits.max_calls" in str(info.value) and "colour" in str(info.value)
    with pytest.raises(ConfigError) as info:
        parse_agent_tokens("a7=secret,broken")
    assert "secret" not in str(info.value)
    monkeypatch.setenv("ASSIST_CTI_TOKEN", "same")
    monkeypatch.setenv("ASSIST_SUPERVISOR_TOKEN", "same")
    with pytest.raises(ConfigError, match="repeats the token"):
        load_config(None)
