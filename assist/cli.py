"""The `assist` command: a thin layer over library calls."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from assist import DEFAULT_RULES
from assist.errors import AssistError, RulePackError


def _rules_lint(args: argparse.Namespace) -> int:
    from assist.rulepack.compile import check, coverage
    from assist.rulepack.load import load_packs

    try:
        packs = load_packs(Path(args.dir))
    except RulePackError as exc:
        for p in exc.problems:
            print(p)
        print(f"{len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    problems = check(packs) + coverage(packs, args.min_cases)
    for p in problems:
        print(p)
    rules = sum(len(p.rules) for p in packs)
    print(f"{len(packs)} pack(s), {rules} rule(s): {len(problems)} problem(s)",
          file=sys.stderr if problems else sys.stdout)
    return 1 if problems else 0


def _rules_test(args: argparse.Namespace) -> int:
    from assist.rulepack.cases import run_cases
    from assist.rulepack.compile import compile_packs
    from assist.rulepack.load import load_packs

    packs = load_packs(Path(args.dir))
    results = run_cases(packs, compile_packs(packs), set(args.rule) if args.rule else None)
    by_rule: dict[str, list[bool]] = {}
    for r in results:
        by_rule.setdefault(r.rule, []).append(r.passed)
    for rule, passed in by_rule.items():
        ok = all(passed)
        print(f"{'PASS' if ok else 'FAIL'}  {rule:28} {sum(passed)}/{len(passed)} cases")
    failed = [r for r in results if not r.passed]
    for r in failed:
        print("  " + r.describe())
    print(f"{len(results) - len(failed)}/{len(results)} cases passed in {len(by_rule)} rule(s)")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assist", description="Rule-based real-time call assist.")
    sub = parser.add_subparsers(dest="command", required=True)

    rules = sub.add_parser("rules", help="check and test rule packs")
    rsub = rules.add_subparsers(dest="rules_command", required=True)
    lint = rsub.add_parser("lint", help="validate packs; print every problem with file:line, rule and field")
    lint.add_argument("dir", nargs="?", default=str(DEFAULT_RULES))
    lint.add_argument("--min-cases", type=int, default=5, help="firing and quiet cases required per language")
    lint.set_defaults(func=_rules_lint)
    test = rsub.add_parser("test", help="run the cases stored beside each rule")
    test.add_argument("dir", nargs="?", default=str(DEFAULT_RULES))
    test.add_argument("--rule", action="append", help="only this rule (repeatable)")
    test.set_defaults(func=_rules_test)

    from assist.server.cli import register as register_server

    register_server(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except AssistError as exc:
        print(f"assist: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
