"""`assist bench --only scale` measures on real processes: a small takeover, so the figure's code runs in CI."""

from __future__ import annotations

from assist.bench.scale import PARTITIONS, takeover


def test_takeover_figure_moves_every_partition_of_the_killed_worker() -> None:
    got = takeover(calls=20, lease_ms=1000)
    assert 0 < got["takeover_partitions"] < PARTITIONS  # the killed one held a share, not all or none
    assert got["takeover_s"] >= got["takeover_leases_s"] > 0
    assert got["takeover_open_calls"] == 20 and got["takeover_lease_ms"] == 1000
