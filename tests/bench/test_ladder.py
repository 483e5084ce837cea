"""The call ladder's stop rule: a level passes only when every measured prompt arrived within the
budget, nothing was refused, and the load generator delivered the load it was to deliver."""

from __future__ import annotations

from typing import Any

import pytest

from assist.bench.durability import level_failure
from assist.bench.loadgen import Latencies


def level(**changes: Any) -> Latencies:
    figures: dict[str, Any] = {"samples": [1.0] * 99 + [40.0], "measured_from": 0.0, "until": 13.5, "deadline": 13.0,
                               "events": 1000, "events_sent": 1000, "send_late_max_ms": 1.0, "lost": 0,
                               "refused": 0, "dropped": 0, "cpu_s": 0.5, "machine_cpu_s": 5.0}
    return Latencies.of(figures | changes)


def test_a_level_within_budget_with_every_prompt_passes() -> None:
    assert level_failure(level()) == ""


@pytest.mark.parametrize(("changes", "reason"), [
    ({"samples": [1.0] * 98 + [60.0, 60.0]}, "p99 60.0 ms over 50 ms"),
    ({"samples": []}, "no prompt arrived"),
    ({"lost": 1}, "1 of the measured prompts never arrived"),  # fast prompts do not hide one that never came
    ({"refused": 3}, "3 events refused"),
    ({"events_sent": 900}, "the load generator wrote 900 of the 1000 events due in the window"),
])
def test_a_level_fails_saying_why(changes: dict[str, Any], reason: str) -> None:
    assert level_failure(level(**changes)) == reason
