"""Partition leases: the arithmetic (pure) and the Redis side (atomic scripts).

A worker owns a partition while the key `lease(p)` holds its id; the owner renews it every
`lease_ms / 3`, so a worker that stops (crash, pause, lost network) loses every partition within
`lease_ms`. Live workers heartbeat into a sorted set; each one aims at an equal share of the
partitions (`share`), takes free ones up to it and hands back what it holds beyond it.
"""

from __future__ import annotations

from collections.abc import Sequence


def share(workers: Sequence[str], me: str, partitions: int) -> int:
    """How many partitions `me` should own among the live `workers`: an equal split, the remainder to
    the first workers in id order, so every worker computes the same targets."""
    ordered = sorted(set(workers) | {me})
    base, extra = divmod(partitions, len(ordered))
    return base + (1 if ordered.index(me) < extra else 0)


def plan(owned: set[int], free: Sequence[int], target: int) -> tuple[list[int], list[int]]:
    """(partitions to acquire, partitions to release) to move from `owned` towards `target`: take
    free ones in the given order while under the target, release the highest-numbered ones when over."""
    if len(owned) > target:
        return [], sorted(owned, reverse=True)[: len(owned) - target]
    return [p for p in free if p not in owned][: target - len(owned)], []


def rotation(me: str, partitions: int) -> list[int]:
    """The order in which `me` tries free partitions: starting at a point that depends on its id, so
    workers starting together do not all race for partition 0."""
    from assist.scale.keys import partition_of

    start = partition_of(me, partitions)
    return [(start + i) % partitions for i in range(partitions)]


def live(heartbeats: dict[str, float], now_ms: float, lease_ms: int) -> list[str]:
    """Workers whose last heartbeat is younger than a lease."""
    return sorted(w for w, at in heartbeats.items() if now_ms - at < lease_ms)


# KEYS[1] lease key; ARGV[1] worker id, ARGV[2] lease ms
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
# KEYS[1] lease key; ARGV[1] worker id
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
