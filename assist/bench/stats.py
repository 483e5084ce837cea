"""The statistics every benchmark stage shares: one percentile definition, process memory, machine load."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence

from assist.progress import shown


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least a share `q` of all samples at or
    below it (q=0.99 of 1,000 samples is the 990th smallest); NaN when there are no samples."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def median(samples: Sequence[float]) -> float:
    """The middle sample by the same nearest-rank definition (of rounds, of runs)."""
    return percentile(samples, 0.5)


def rss_bytes() -> int:
    """Resident memory of this process (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def load_1m() -> float:
    """The machine's one-minute load average: figures on a shared machine mean little without it."""
    return round(os.getloadavg()[0], 2)


def progress(message: str) -> None:
    """One line per stage on stderr when it is a terminal, so a long run is not silent; nothing when
    stderr is piped or redirected (logs stay clean; stdout stays machine-readable either way)."""
    if shown():
        print(f"bench: {message} (load {load_1m()})", file=sys.stderr, flush=True)
