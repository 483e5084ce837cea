"""The pure parts of scale-out: stable partitioning, shares of partitions, lease plans."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from assist.scale.keys import next_id, parse_id, partition_of
from assist.scale.lease import live, plan, rotation, share


def test_partition_is_the_same_in_another_process() -> None:
    """Python's own hash() is salted per process; a gateway and a worker must agree on every call."""
    ids = [f"call-{i}" for i in range(50)] + ["通话-1", ""]
    code = ("from assist.scale.keys import partition_of; import sys; "
            "print(','.join(str(partition_of(c, 64)) for c in sys.argv[1:]))")
    other = subprocess.run([sys.executable, "-c", code, *ids], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == ",".join(str(partition_of(c, 64)) for c in ids)


def test_partitions_spread_calls_evenly() -> None:
    counts = Counter(partition_of(f"c{i}", 16) for i in range(16_000))
    assert len(counts) == 16
    assert max(counts.values()) < 1.2 * 1000 and min(counts.values()) > 0.8 * 1000


@given(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=20, unique=True), st.integers(1, 256))
def test_shares_add_up_and_differ_by_one_at_most(workers: list[str], partitions: int) -> None:
    shares = [share(workers, w, partitions) for w in workers]
    assert sum(shares) == partitions
    assert max(shares) - min(shares) <= 1


def test_a_new_worker_counts_itself() -> None:
    assert share(["w1"], "w2", 64) == 32
    assert share([], "w1", 64) == 64


def test_plan_takes_free_partitions_up_to_the_share_and_releases_beyond_it() -> None:
    assert plan({0, 1}, [5, 6, 7], 4) == ([5, 6], [])
    assert plan({0, 1, 2, 3}, [5], 2) == ([], [3, 2])
    assert plan({0, 1}, [1, 2], 2) == ([], [])
    assert plan(set(), [], 3) == ([], [])


def test_rotation_visits_every_partition_once_from_a_worker_specific_start() -> None:
    a, b = rotation("worker-a", 64), rotation("worker-b", 64)
    assert sorted(a) == sorted(b) == list(range(64))
    assert a[0] != b[0]


def test_a_worker_without_heartbeat_for_a_lease_is_not_live() -> None:
    assert live({"w1": 1_000.0, "w2": 5_000.0}, now_ms=11_500.0, lease_ms=10_000) == ["w2"]


def test_entry_ids_compare_by_time_then_sequence() -> None:
    assert parse_id("1700-3") < parse_id("1700-10") < parse_id("1701-0")
    assert next_id("1700-3") == "1700-4"
