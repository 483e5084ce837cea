"""assist report: the figures per rule over real replays of examples/, the pure aggregation and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assist import load_rules
from assist.cli import main
from assist.core.compiled import CompiledRules
from assist.core.outputs import Evidence, Expired, Output, Prompt, Resolved, Summary
from assist.replay import Problem, Step, replay, transcript_files
from assist.report import aggregate, percentile, table

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def rules() -> CompiledRules:
    return load_rules()


def outputs_of(rules: CompiledRules, *names: str) -> list[Output]:
    outs: list[Output] = []
    for item in replay([EXAMPLES / n for n in names], rules):
        assert not isinstance(item, Problem), item
        assert isinstance(item, Step)
        outs.extend(item.outputs)
    return outs


# -- on real replays ---------------------------------------------------------------------------------
def test_a_rule_resolved_in_one_call_and_not_the_other_has_rate_one_half(rules: CompiledRules) -> None:
    # angry_refund_en: straight to the order number at 00:09 (prompt at the turn's end, 12.77 s) while the
    # customer is angry, acknowledged at 18-24.305 s. impatient_delivery_zh: "请提供…订单号", never acknowledged.
    report = aggregate(outputs_of(rules, "angry_refund_en.txt", "impatient_delivery_zh.txt"))
    s = report.rules["acknowledge-emotion"]
    assert (s.raised, s.calls, s.resolved) == (2, 2, 1)
    assert s.resolved_rate == 0.5
    assert s.resolve_ms == [24_305 - 12_770]
    d = s.to_dict()
    assert d["median_resolve_ms"] == d["p90_resolve_ms"] == 11_535
    assert d["not_done"] == 1 and d["expired"] == {"timeout": 0, "superseded": 0}
    assert report.calls == 2
    assert report.prompts_per_call == [5, 4]
    assert report.top_types == {"angry": 1, "impatient": 1}


def test_feedback_is_counted_from_the_logged_sidebar_events(rules: CompiledRules) -> None:
    report = aggregate(outputs_of(rules, "feedback_en.jsonl"))
    fb = {r: dict(s.feedback) for r, s in report.rules.items()}
    assert fb == {
        "acknowledge-before-apology": {"helpful": 1},
        "acknowledge-emotion": {"dismiss": 1},
        "avoid-policy": {"helpful": 1},  # rated not helpful, then helpful: one rating per prompt, the last wins
        "tip-angry": {"ack": 1},
    }
    assert report.rules["acknowledge-before-apology"].helpful_ratio == 1.0
    assert report.rules["avoid-policy"].helpful_ratio == 1.0
    assert report.rules["tip-angry"].helpful_ratio is None  # an ack is not a vote
    # dismissed and acked prompts leave the sidebar, so the agent's later turn does not count as resolving them
    assert report.rules["acknowledge-emotion"].resolved == 0
    assert report.rules["tip-angry"].resolved == 0
    assert report.rules["acknowledge-before-apology"].resolve_ms == [25_900 - 12_300]
    assert report.rules["avoid-policy"].resolve_ms == [45_800 - 33_200]


def test_a_superseded_prompt_is_counted_as_expired(rules: CompiledRules) -> None:
    report = aggregate(outputs_of(rules, "know_it_all_zh.txt"))
    s = report.rules["tip-know-it-all"]
    assert (s.raised, s.resolved, s.expired_superseded, s.expired_timeout, s.not_done) == (1, 0, 1, 0, 0)
    assert report.rules["one-concession-at-a-time"].not_done == 1  # still open when the call ended


def test_checklist_rates_leave_out_calls_where_an_item_did_not_apply(rules: CompiledRules) -> None:
    # no emotion in indecisive_talkative_en, so acknowledged_emotion is n/a there
    report = aggregate(outputs_of(rules, "angry_refund_en.txt", "indecisive_talkative_en.txt"))
    assert report.checklist["acknowledged_emotion"] == (1, 1)
    assert report.checklist["paraphrased"] == (1, 2)
    assert report.to_dict()["checklist"]["paraphrased"] == {"done": 1, "applicable": 2, "rate": 0.5}


def test_the_whole_examples_directory(rules: CompiledRules) -> None:
    top = [p.name for p in transcript_files([EXAMPLES]) if p.parent == EXAMPLES]  # formats/ needs options
    outs = outputs_of(rules, *top)
    report = aggregate(outs)
    summaries = [o for o in outs if isinstance(o, Summary)]
    assert report.calls == len(summaries) == len(top)  # one call a file there
    assert report.prompts == sum(isinstance(o, Prompt) for o in outs)
    assert sum(s.raised for s in report.rules.values()) == report.prompts
    for s in report.rules.values():  # every prompt has exactly one fate
        assert s.resolved + s.expired_timeout + s.expired_superseded + s.not_done == s.raised
    assert sum(report.top_types.values()) == report.calls


# -- pure, no files -------------------------------------------------------------------------------------
def _prompt(call: str, n: int, rule: str, t: int) -> Prompt:
    return Prompt(call_id=call, t_ms=t, id=f"{call}:{n}", rule=rule, severity="warn", say="s", why="w",
                  evidence=())


def _summary(call: str, prompts: dict[str, int], top: str | None = None,
             feedback: dict[str, dict[str, int]] | None = None) -> Summary:
    return Summary(call_id=call, t_ms=0, types={}, top=top, prompts=prompts, resolved={},
                   checklist={"paraphrased": None}, utterances=0, feedback=feedback or {})


def test_resolution_times_pair_by_prompt_id_across_interleaved_calls() -> None:
    by = Evidence("agent", "ok", 0)
    outs: list[Output] = [
        _prompt("a", 1, "r", 1000), _prompt("b", 1, "r", 1500),
        Resolved(call_id="b", t_ms=2500, id="b:1", rule="r", by=by),
        Resolved(call_id="a", t_ms=5000, id="a:1", rule="r", by=by),
        _prompt("a", 2, "r", 6000), Expired(call_id="a", t_ms=9000, id="a:2", rule="r", reason="timeout"),
        _summary("a", {"r": 2}, top="angry", feedback={"r": {"helpful": 3, "not_helpful": 1}}),
        _summary("b", {"r": 1}),
    ]
    report = aggregate(outs)
    s = report.rules["r"]
    assert sorted(s.resolve_ms) == [1000, 4000]
    assert (s.raised, s.calls, s.resolved, s.expired_timeout) == (3, 2, 2, 1)
    assert s.helpful_ratio == 0.75
    assert report.top_types == {"angry": 1, "none": 1}
    assert report.checklist == {"paraphrased": (0, 0)}
    assert report.to_dict()["checklist"]["paraphrased"]["rate"] is None


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([], 50) is None
    assert percentile([7], 90) == 7
    assert percentile(list(range(1, 11)), 50) == 5.5
    assert percentile(list(range(1, 11)), 90) == pytest.approx(9.1)
    assert percentile([10, 0], 50) == 5  # order of arrival does not matter


def test_an_empty_report_still_renders() -> None:
    text = table(aggregate([]))
    assert "0 call(s), 0 prompt(s)" in text and "no prompts raised" in text
    assert aggregate([]).to_dict()["prompts_per_call"] == {"mean": None, "median": None, "max": None}


# -- the command ---------------------------------------------------------------------------------------
def test_cli_table(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", str(EXAMPLES / "angry_refund_en.txt"), str(EXAMPLES / "impatient_delivery_zh.txt")])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("2 call(s), 9 prompt(s)")
    row = next(line for line in out.splitlines() if line.startswith("acknowledge-emotion"))
    assert row.split()[1:5] == ["2", "2", "1", "50%"]
    assert "11.5s" in row
    assert "customer types (top type per call): angry 1, impatient 1" in out


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--json", str(EXAMPLES / "feedback_en.jsonl")]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["calls"] == 1 and d["prompts"] == 4
    policy = next(r for r in d["rules"] if r["rule"] == "avoid-policy")
    assert policy["feedback"] == {"helpful": 1, "not_helpful": 0, "dismiss": 0, "ack": 0}  # the last rating wins
    assert policy["helpful_ratio"] == 1.0
    assert policy["median_resolve_ms"] == 12_600
    assert d["customer_types"] == {"angry": 1}


def test_cli_bad_lines_are_reported_and_the_rest_counted(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    lines = (EXAMPLES / "demo_en.jsonl").read_text(encoding="utf-8").splitlines()
    lines.insert(3, '{"type": "utterance", "call_id": "demo-en-1"}')
    (tmp_path / "broken.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["report", "--json", str(tmp_path / "broken.jsonl")]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["calls"] == 1
    assert "broken.jsonl:4" in captured.err and "1 problem(s)" in captured.err
