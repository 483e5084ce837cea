"""assist cues suggest: phrases typical of difficult calls, ranked by log-odds with an informative prior."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assist.cli import main
from assist.cue_mining import log_odds, ngrams


def test_the_log_odds_z_score_is_zero_for_equal_use_and_grows_with_evidence() -> None:
    z = log_odds({"refund": 10, "livid": 10, "hello": 80}, {"refund": 10, "livid": 1, "hello": 89})
    assert abs(z["refund"]) < 0.05
    assert z["livid"] > 2 > z["refund"]
    more = log_odds({"livid": 40, "hello": 320}, {"livid": 4, "hello": 356})
    assert more["livid"] > z["livid"]  # the same ratio seen four times as often is surer


def test_ngrams_are_words_in_latin_text_and_characters_in_han_text() -> None:
    assert {"i'm", "i'm livid", "livid"} <= ngrams("i'm livid")
    grams = ngrams("气死我了 ok")
    assert {"气死", "气死我", "气死我了", "ok"} <= grams
    assert "了 ok" not in grams and "死" not in grams


def call(cid: str, *customer: str) -> list[dict[str, object]]:
    events: list[dict[str, object]] = [{"type": "call.start", "call_id": cid, "lang": "en", "t_ms": 0}]
    for i, text in enumerate(customer):
        events.append({"type": "utterance", "call_id": cid, "speaker": "customer", "text": text,
                       "start_ms": i * 4000, "end_ms": i * 4000 + 3000})
        events.append({"type": "utterance", "call_id": cid, "speaker": "agent", "text": "Right, I see. Anything else?",
                       "start_ms": i * 4000 + 3100, "end_ms": i * 4000 + 3900})
    events.append({"type": "call.end", "call_id": cid, "t_ms": len(customer) * 4000})
    return events


@pytest.fixture()
def corpus(tmp_path: Path) -> tuple[Path, Path]:
    events: list[dict[str, object]] = []
    labels: dict[str, dict[str, bool]] = {}
    for i in range(12):
        events += call(f"d{i}", "My router is broken again.", "Honestly I am absolutely livid about it.")
        labels[f"d{i}"] = {"difficult": True}
    for i in range(30):
        events += call(f"f{i}", "My router is broken.", "Could you book an engineer for Tuesday?")
        labels[f"f{i}"] = {"difficult": False}
    calls = tmp_path / "calls.jsonl"
    calls.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(labels), encoding="utf-8")
    return calls, path


def test_the_phrase_only_difficult_callers_use_comes_first_with_counts_and_its_cue(
        corpus: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    calls, labels = corpus
    assert main(["cues", "suggest", str(calls), "--labels", str(labels), "--json", "--top", "5"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert (res["difficult_calls"], res["fine_calls"]) == (12, 30)
    first = res["suggestions"][0]
    # "livid" and "absolutely" only ever come inside the longer phrase: one suggestion, not three
    assert "absolutely livid" in first["phrase"]
    assert (first["difficult"], first["fine"]) == (12, 0)
    assert first["covered_by"] == ["anger"]  # the lexicon already has "livid"
    phrases = [s["phrase"] for s in res["suggestions"]]
    assert "livid" not in phrases and "router" not in phrases  # used by both sides alike
    assert all(s["phrase"] != "engineer" for s in res["suggestions"])  # fine callers' words never come up


def test_the_table_names_the_columns_a_person_decides_on(
        corpus: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    calls, labels = corpus
    assert main(["cues", "suggest", str(calls), "--labels", str(labels), "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "12 difficult and 30 fine calls" in out
    assert "resembles" in out and "covered by" in out and "absolutely livid" in out
