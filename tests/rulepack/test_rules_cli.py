"""`assist rules lint` and `assist rules test`, on the bundled packs and on packs written here."""

from __future__ import annotations

import subprocess
import sys

from assist.cli import main

RULE = "rules/ack-first.yaml"


def test_lint_passes_on_the_bundled_packs(capsys):
    assert main(["rules", "lint"]) == 0
    assert "0 problem(s)" in capsys.readouterr().out


def test_lint_passes_on_a_valid_pack_with_enough_cases(write_pack, capsys):
    assert main(["rules", "lint", str(write_pack().root), "--min-cases", "1"]) == 0
    assert "1 pack(s), 1 rule(s): 0 problem(s)" in capsys.readouterr().out


def test_lint_reports_too_few_cases(write_pack, capsys):
    assert main(["rules", "lint", str(write_pack().root)]) == 1
    out = capsys.readouterr().out
    assert "rule 'ack-first': field 'cases': expected at least 5 'fire' cases in en, got 1" in out


def test_lint_prints_each_load_problem_and_exits_1(write_pack, capsys):
    pack = write_pack({RULE: ("severity: warn", "severity: critical")},
                      extra={"lexicon/en.yaml": "lang: en\ncues:\n  anger: {phrases: [angry], regex: ['(']}\n"})
    assert main(["rules", "lint", str(pack.root)]) == 1
    out, err = capsys.readouterr()
    assert f"mini/{RULE}:{pack.line(RULE, 'severity')}: rule 'ack-first': field 'severity'" in out
    assert "problem(s)" in err


def test_lint_prints_cross_reference_problems(write_pack, capsys):
    pack = write_pack({RULE: ("all: [apology]", "all: [apology, rage]"),
                       "lexicon/en.yaml": ("anger: {phrases: [angry, ridiculous]}",
                                           "anger: {phrases: [angry, ridiculous], regex: ['fur(ious']}")})
    assert main(["rules", "lint", str(pack.root), "--min-cases", "1"]) == 1
    out = capsys.readouterr().out
    assert f"mini/{RULE}:{pack.line(RULE, 'rage')}: rule 'ack-first': field 'when.all[1]': unknown cue 'rage'" in out
    assert "field 'cues.anger.regex[0]': invalid regular expression" in out


def test_rules_test_passes_on_the_bundled_packs(capsys):
    assert main(["rules", "test"]) == 0
    out = capsys.readouterr().out
    assert "PASS  acknowledge-before-apology" in out
    assert "FAIL" not in out


def test_rules_test_runs_one_rule(capsys):
    assert main(["rules", "test", "--rule", "no-blame"]) == 0
    out = capsys.readouterr().out
    assert "no-blame" in out
    assert "in 1 rule(s)" in out


def test_a_failing_case_fails_the_run_and_is_printed(write_pack, capsys):
    rule = write_pack().files[RULE]
    failing = "  - lang: en\n    expect: fire\n    turns:\n      - customer: Hello.\n      - agent: Sorry, who is it?\n"
    pack = write_pack(extra={RULE: rule + failing})
    assert main(["rules", "test", str(pack.root)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  ack-first" in out
    assert "4/5 cases" in out
    line = len(rule.splitlines()) + 1
    assert (f"mini/{RULE}:{line}: case 5 (en) expected to fire on the last turn, did not fire: "
            "customer: Hello. / agent: Sorry, who is it?") in out


def test_a_quiet_case_that_fires_is_printed_with_the_turn(write_pack, capsys):
    pack = write_pack({RULE: ("      - agent: I can hear how annoying this is. Sorry.", "      - agent: Sorry.")})
    assert main(["rules", "test", str(pack.root)]) == 1
    assert "case 2 (en) expected to stay quiet, fired on turn(s) [2]" in capsys.readouterr().out


def test_exit_codes_from_the_installed_command(write_pack):
    bad = write_pack({RULE: ("severity: warn", "severity: critical")})
    run = subprocess.run([sys.executable, "-m", "assist.cli", "rules", "lint", str(bad.root)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "field 'severity'" in run.stdout
