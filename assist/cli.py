"""The `assist` command: a thin layer over library calls."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from assist.bundle import DEFAULT_RULES
from assist.errors import AssistError, RulePackError
from assist.formats import NAMES as FORMAT_NAMES


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


def _replay(args: argparse.Namespace) -> int:
    import json
    import time

    from assist import load_rules
    from assist.core.events import event_time
    from assist.replay import Problem, Step, replay
    from assist.timeline import Timeline

    rules = load_rules(args.rules)
    timeline = None if args.json else Timeline()
    problems = 0
    previous_t: int | None = None
    recorded: list[Step | Problem] | None = [] if args.html else None  # for --html, written at the end

    def write_html_out() -> None:
        if args.html and recorded is not None:
            from assist.html_report import write_html

            write_html(args.html, recorded, title="assist replay: " + ", ".join(map(str, args.paths)))
            print(f"wrote {args.html}", file=sys.stderr)

    for item in replay(args.paths, rules, fmt=args.format, lang=args.lang, agent_channel=args.agent_channel,
                       agent_speaker=args.agent_speaker, show_progress=not sys.stdout.isatty()):
        if recorded is not None:
            recorded.append(item)
        if isinstance(item, Problem):
            problems += 1
            print(f"error: {item}", file=sys.stderr)  # where (file:line) and what
            if args.strict:
                print("stopped at the first error (--strict)", file=sys.stderr)
                write_html_out()
                return 1
            continue
        if args.speed > 0:
            t = event_time(item.event)
            if previous_t is not None and t > previous_t:
                time.sleep(min(t - previous_t, MAX_REPLAY_PAUSE_MS) / 1000 / args.speed)
            previous_t = t
        if timeline is not None:
            timeline.step(item)
        else:
            for out in item.outputs:
                print(json.dumps(out.to_dict(), ensure_ascii=False))
        if args.speed > 0:
            sys.stdout.flush()
    write_html_out()
    if problems:
        print(f"{problems} problem(s) in the input; every other event was replayed", file=sys.stderr)
    return 1 if problems else 0


def _report(args: argparse.Namespace) -> int:
    import json
    from collections.abc import Iterator

    from assist import load_rules
    from assist.core.outputs import Output
    from assist.replay import Problem, replay
    from assist.report import aggregate, csv_text, table

    problems: list[Problem] = []

    def outputs() -> Iterator[Output]:
        for item in replay(args.paths, load_rules(args.rules), fmt=args.format, lang=args.lang,
                           show_progress=True):
            if isinstance(item, Problem):
                problems.append(item)
                print(f"error: {item}", file=sys.stderr)
            else:
                yield from item.outputs

    report = aggregate(outputs())
    if args.csv:
        sys.stdout.write(csv_text(report))
    else:
        print(json.dumps(report.to_dict(), ensure_ascii=False) if args.json else table(report))
    if problems:
        print(f"{len(problems)} problem(s) in the input; every other event was counted", file=sys.stderr)
    return 1 if problems else 0


def _eval(args: argparse.Namespace) -> int:
    import json

    from assist import load_rules
    from assist.core.engine import Engine
    from assist.evaluation import check_noticed, default_noticed, evaluate, outcomes, read_labels, table
    from assist.replay import Problem, replay

    rules = load_rules(args.rules)
    labels = read_labels(args.labels, score=args.score, difficult_at_most=args.difficult_at_most,
                         fine_above=args.fine_above)
    noticed_by = default_noticed()
    if args.noticed:
        noticed_by = frozenset(n.strip() for item in args.noticed for n in item.split(",") if n.strip())
        unknown = check_noticed(noticed_by, rules.types, rules.rules)
        if unknown:
            print(f"assist eval: --noticed: expected customer types or rule ids of the loaded packs, got "
                  f"{', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
    engine = Engine(rules, lang=args.lang)
    problems = 0
    calls = []
    steps = replay(args.paths, rules, fmt=args.format, lang=args.lang, engine=engine, show_progress=True)
    for item in outcomes(steps, engine):
        if isinstance(item, Problem):
            problems += 1
            print(f"error: {item}", file=sys.stderr)
        else:
            calls.append(item)
    result = evaluate(calls, labels, noticed_by)
    print(json.dumps(result.to_dict(), ensure_ascii=False) if args.json else table(result))
    if problems:
        print(f"{problems} problem(s) in the input; every other event was replayed", file=sys.stderr)
    return 1 if problems else 0


def _cues_suggest(args: argparse.Namespace) -> int:
    import json

    from assist.cue_mining import collect, suggest, table
    from assist.evaluation import read_labels
    from assist.rulepack.compile import compile_packs
    from assist.rulepack.load import load_packs

    packs = load_packs(Path(args.rules))
    rules = compile_packs(packs)
    labels = read_labels(args.labels, score=args.score, difficult_at_most=args.difficult_at_most,
                         fine_above=args.fine_above)
    families: dict[str, list[str]] = {}
    for pack in packs:
        for lang, lex in pack.lexicons.items():
            if args.lang and lang != args.lang:
                continue
            for cue, entry in lex.cues.items():
                if pack.manifest.cues[cue].speaker in (args.speaker, "any"):
                    families.setdefault(cue, []).extend(s.casefold() for s in (*entry.phrases, *entry.strong,
                                                                                *entry.weak))
    mined = suggest(collect(args.paths, args.speaker, args.format), labels, rules, families,
                    speaker=args.speaker, lang=args.lang, top=args.top, min_calls=args.min_calls)
    print(json.dumps(mined.to_dict(), ensure_ascii=False) if args.json else table(mined))
    return 0


def _label_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--labels", required=True, metavar="LABELS.json",
                   help='call id → {"difficult": true|false} (or a score, with --score)')
    p.add_argument("--score", metavar="FIELD",
                   help="labels give a number under FIELD instead of 'difficult' (e.g. a satisfaction score)")
    p.add_argument("--difficult-at-most", type=float, default=-1.0, metavar="X",
                   help="with --score: difficult when the score is at most X (default -1)")
    p.add_argument("--fine-above", type=float, default=0.0, metavar="Y",
                   help="with --score: fine when the score is above Y (default 0); calls between are left out")


def _bench(args: argparse.Namespace) -> int:
    import json

    from assist import bench

    only = set(args.only or bench.STAGES)
    if args.skip_live:
        only = {"engine"}
    result = bench.run(Path(args.rules), calls=args.calls, only=only)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(result))
    else:
        print(bench.table(result))
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("assist")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


MAX_REPLAY_PAUSE_MS = 60_000  # a gap in the recording never stalls a real-time replay for longer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assist", description="Rule-based real-time call assist.")
    parser.add_argument("--version", action="version", version=f"assist {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    rp = sub.add_parser("replay", help="run recorded transcripts through the engine and show what it raises")
    rp.add_argument("paths", nargs="+", metavar="FILE|DIR")
    rp.add_argument("--json", action="store_true", help="print output objects as JSON Lines")
    rp.add_argument("--speed", type=float, default=0.0,
                    help="1 replays in real time, 2 twice as fast; 0 (default) as fast as possible")
    rp.add_argument("--rules", default=str(DEFAULT_RULES), help="rule packs directory")
    rp.add_argument("--lang", help="language of every call (en, zh, zh-TW…), overriding detection")
    rp.add_argument("--format", choices=FORMAT_NAMES, metavar="FORMAT",
                    help=f"input format, overriding detection: {', '.join(FORMAT_NAMES)}")
    rp.add_argument("--agent-channel", metavar="CH",
                    help="which audio channel is the agent (ch_0 or 0), for formats that do not say")
    rp.add_argument("--agent-speaker", metavar="SPK",
                    help="which diarized speaker is the agent (spk_1 or 1, or a caption voice name)")
    rp.add_argument("--strict", action="store_true", help="stop at the first bad line")
    rp.add_argument("--html", metavar="OUT", help="also write the run as a self-contained HTML page to OUT")
    rp.set_defaults(func=_replay)

    rep = sub.add_parser("report", help="replay calls and show, per rule, how often prompts were raised, "
                         "resolved, expired and rated by agents")
    rep.add_argument("paths", nargs="+", metavar="FILE|DIR")
    rep_out = rep.add_mutually_exclusive_group()
    rep_out.add_argument("--json", action="store_true", help="print one JSON object")
    rep_out.add_argument("--csv", action="store_true", help="print one CSV row per rule (for a spreadsheet)")
    rep.add_argument("--rules", default=str(DEFAULT_RULES), help="rule packs directory")
    rep.add_argument("--format", choices=FORMAT_NAMES, metavar="FORMAT",
                    help="input format, overriding detection (as for replay)")
    rep.add_argument("--lang", help="language of every call, overriding detection")
    rep.set_defaults(func=_report)

    ev = sub.add_parser("eval", help="replay labelled calls and measure how many difficult customers the "
                        "rules notice, and how many fine ones they flag")
    ev.add_argument("paths", nargs="+", metavar="FILE|DIR")
    _label_options(ev)
    ev.add_argument("--rules", default=str(DEFAULT_RULES), help="rule packs directory")
    ev.add_argument("--json", action="store_true", help="print one JSON object (every call id included)")
    ev.add_argument("--noticed", action="append", metavar="NAMES",
                    help="customer types and rule ids that count as noticing the customer, comma-separated "
                    "(default: the negative types, their tip- rules, acknowledge-emotion, acknowledge-before-apology)")
    ev.add_argument("--format", choices=FORMAT_NAMES, metavar="FORMAT",
                    help="input format, overriding detection (as for replay)")
    ev.add_argument("--lang", help="language of every call, overriding detection")
    ev.set_defaults(func=_eval)

    bp = sub.add_parser("bench", help="measure throughput, memory, replay speed and live latency")
    bp.add_argument("--json", action="store_true", help="print one JSON object")
    bp.add_argument("--out", help="also write the JSON to this file")
    bp.add_argument("--calls", type=int, default=1000)
    bp.add_argument("--rules", default=str(DEFAULT_RULES))
    bp.add_argument("--only", action="append", choices=("engine", "live", "durability", "scale"),
                    help="run only this stage (repeatable): engine throughput, memory and replay; live "
                    "latency against a relay; durability (call ladder, log on vs off, recovery); scale (gateway + "
                    "workers on a redis-server it starts: ladder, 1 vs 2 workers, takeover)")
    bp.add_argument("--skip-live", action="store_true", help="the engine stage only (same as --only engine)")
    bp.set_defaults(func=_bench)

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

    cues = sub.add_parser("cues", help="work on cue lexicons")
    csub = cues.add_subparsers(dest="cues_command", required=True)
    sg = csub.add_parser("suggest", help="mine phrases over-represented in difficult calls against fine ones "
                         "(log-odds ratio with an informative Dirichlet prior): candidates for the lexicons")
    sg.add_argument("paths", nargs="+", metavar="FILE|DIR")
    _label_options(sg)
    sg.add_argument("--lang", help="only calls in this language (en, zh, bg…)")
    sg.add_argument("--speaker", choices=["customer", "agent"], default="customer", help="whose turns to mine")
    sg.add_argument("--top", type=int, default=50, help="how many phrases to list (default 50)")
    sg.add_argument("--min-calls", type=int, default=5, help="a phrase must occur in this many difficult calls")
    sg.add_argument("--rules", default=str(DEFAULT_RULES), help="rule packs directory (for resembles / covered by)")
    sg.add_argument("--format", choices=FORMAT_NAMES, metavar="FORMAT",
                    help="input format, overriding detection (as for replay)")
    sg.add_argument("--json", action="store_true", help="print one JSON object")
    sg.set_defaults(func=_cues_suggest)

    from assist.server.cli import register as register_server

    register_server(sub)
    from assist.scale.cli import register as register_scale

    register_scale(sub)  # after the server's: it adds --redis to serve and export
    _show_defaults(parser)
    return parser


class _HelpWithDefaults(argparse.HelpFormatter):
    """Adds "(default: X)" to an option's help unless it has no meaningful default or already says it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (not action.option_strings or action.default in (None, False, argparse.SUPPRESS)
                or "default" in text or isinstance(action, argparse._VersionAction)):
            return text
        return f"{text} (default: %(default)s)"


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = _HelpWithDefaults
    for action in parser._actions:
        if action.help is None and action.option_strings and action.default not in (None, False):
            action.help = "(default: %(default)s)"
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _show_defaults(child)


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
