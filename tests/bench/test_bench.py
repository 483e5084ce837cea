"""`assist bench`'s building blocks on a tiny workload: the figures other tools read keep their keys,
and the one percentile definition is the nearest rank. (No speed is asserted: that is the bench's job.)"""

from __future__ import annotations

import subprocess
import sys

import pytest

from assist import load_rules
from assist.bench.engine import throughput
from assist.bench.stats import median, percentile
from assist.bench.workload import example_scripts


def test_throughput_reports_engine_and_both_baselines_under_stable_keys() -> None:
    figures = throughput(load_rules(), example_scripts(), calls=5, rounds=1)
    assert set(figures) == {"engine_events_per_s", "raw_events_per_s", "engine_vs_raw",
                            "durable_facts_per_s", "engine_vs_durable_facts", "raw_warm_events_per_s",
                            "engine_vs_raw_warm", "raw_one_session_events_per_s", "engine_vs_raw_one_session"}
    assert all(v > 0 for v in figures.values())


@pytest.mark.parametrize(("q", "expected"), [(0.5, 50.0), (0.99, 99.0), (1.0, 100.0), (0.0, 1.0)])
def test_percentile_is_the_nearest_rank(q: float, expected: float) -> None:
    samples = [float(x) for x in range(100, 0, -1)]
    assert percentile(samples, q) == expected


def test_median_of_three_rounds_is_the_middle_one() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0


def test_unknown_stage_is_refused_with_the_choices() -> None:
    proc = subprocess.run([sys.executable, "-m", "assist.cli", "bench", "--only", "gpu"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "engine" in proc.stderr and "durability" in proc.stderr


def test_vendor_live_vs_native_runs_the_deepgram_call_both_ways() -> None:
    from assist.bench.vendor import vendor_live_vs_native

    got = vendor_live_vs_native(calls=3, rounds=1)
    assert set(got) == {"native_events_per_s", "deepgram_events_per_s", "vendor_live_vs_native"}
    assert got["native_events_per_s"] > 0 and got["deepgram_events_per_s"] > 0


def test_a_backlog_on_one_connection_is_answered_in_full_and_never_refused() -> None:
    from assist.bench.durability import ingest_burst

    got = ingest_burst(rounds=1)
    assert got["ingest_burst_refused"] == 0 and got["ingest_burst_unanswered"] == 0, got
    assert got["ingest_burst_events_per_s"] > 0 and got["ingest_burst_events_per_s_log_off"] > 0
    assert got["ingest_burst_log_on_vs_off"] > 0


def test_stage_progress_is_shown_on_a_terminal_only(capsys: pytest.CaptureFixture[str]) -> None:
    from assist.bench.stats import progress

    progress("engine: a stage")  # stderr is captured here, not a terminal
    assert capsys.readouterr().err == ""


def test_live_run_reports_latency_stalls_and_the_full_collection_pause_under_stable_keys() -> None:
    from assist.bench.live import run_e2e_bench

    got = run_e2e_bench(calls=20, seconds=6)
    assert {"e2e_p50_ms", "e2e_p99_ms", "relay_p99_ms", "loop_stall_max_ms", "server_cpu_us_per_event",
            "e2e_lost_prompts", "gc_full_ms", "gc_walk_all_ms"} <= set(got)
    assert got["e2e_samples"] > 0 and got["e2e_lost_prompts"] == 0  # every measured prompt arrived
    assert got["gc_full_ms"] > 0  # a full collection ran with the calls open, and its pause is reported
