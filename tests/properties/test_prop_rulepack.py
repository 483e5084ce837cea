"""The rule-pack loader and compiler on arbitrary YAML and on mutated copies of the real playbook.

Either the pack loads and compiles, or RulePackError lists problems that each start with file:line.
Also: compiled rulesets never hand a regex to durable_rules (README "durable_rules, contained": its regex
dialect silently never matches \\d or (?i), and a wide CJK range segfaults the process).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from assist.core.compiled import CompiledRules
from assist.errors import RulePackError
from assist.rulepack.compile import compile_packs
from assist.rulepack.load import _Loader, load_pack, load_packs

from ._guard import isolated
from ._strategies import FRAGMENTS, JSON_VALUES, PROPS, deep_json, hostile_bytes, mixed_text

PACK = Path(__file__).resolve().parents[2] / "rules" / "playbook"
# pack.yaml, both lexicons and three rules of different kinds: loading all 20 rules (PyYAML in pure
# Python) costs ~2 s an example, which would leave room for only a handful of examples.
RULE_FILES = ("rules/tip-angry.yaml", "rules/no-blame.yaml", "rules/summarize-next-steps.yaml")
FILES = ["pack.yaml", *sorted(str(p.relative_to(PACK)) for p in PACK.glob("lexicon/*.yaml")), *RULE_FILES]
SLOW = settings(PROPS, max_examples=10, deadline=timedelta(seconds=15))
ORIGINAL = {name: yaml.load((PACK / name).read_text(encoding="utf-8"), Loader=_Loader)
            for name in FILES}
PROBLEM = re.compile(r"^playbook/(pack\.yaml|lexicon/[^:]+\.yaml|rules/[^:]+\.yaml):\d+: \S")


@contextmanager
def _pack_copy() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "playbook"
        (root / "rules").mkdir(parents=True)
        shutil.copytree(PACK / "lexicon", root / "lexicon")
        for name in ("pack.yaml", *RULE_FILES):
            shutil.copyfile(PACK / name, root / name)
        yield root


def _load_and_compile(root: Path) -> CompiledRules | None:
    try:
        return compile_packs([load_pack(root)])
    except RulePackError as exc:
        assert exc.problems, "RulePackError with no problems"
        for problem in exc.problems:
            assert PROBLEM.match(problem), problem
        return None


def _no_engine_regex(compiled: CompiledRules) -> None:
    blob = json.dumps(compiled.ruleset, ensure_ascii=False)
    assert "$mt" not in blob and "$imt" not in blob


def test_real_packs_hand_no_regex_to_durable_rules() -> None:
    compiled = compile_packs(load_packs(PACK.parent))
    _no_engine_regex(compiled)
    regexes = [rx for m in compiled.matchers.values() for rx in m.regex_patterns]
    assert regexes, "the lexicons do use regexes: they must stay in Python's re"


yaml_text = st.one_of(
    mixed_text(max_pieces=40), deep_json(), st.text(),
    st.lists(st.sampled_from([*FRAGMENTS, "id: x", "cues:", "  a:", "    phrases: [x]", "\n", "  ", "1" * 5000]),
             max_size=30).map("".join),
)


@isolated(timeout=60)
@SLOW
@given(st.sampled_from(FILES), st.one_of(yaml_text.map(lambda s: s.encode("utf-8", "surrogatepass")),
                                        hostile_bytes(100_000)))
@example("pack.yaml", b"[" * 10_000)                    # RecursionError in PyYAML's composer (fixed);
@example("pack.yaml", b"{" * 100_000)                   # and its scanner is quadratic in nesting (fixed)
@example("pack.yaml", b"id: " + b"1" * 5000)             # ValueError: int past 4,300 digits (fixed)
@example("pack.yaml", b"a: &a [*a]\n")                   # recursive alias: RecursionError (fixed)
@example("lexicon/en.yaml", b"a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
         b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n"
         b"e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n")    # billion laughs (fixed)
@example("rules/tip-angry.yaml", b"\x00")
@example("rules/no-blame.yaml", b"")
def test_loader_on_any_yaml(name: str, data: bytes) -> None:
    with _pack_copy() as root:
        (root / name).write_bytes(data)
        compiled = _load_and_compile(root)
    if compiled is not None:
        _no_engine_regex(compiled)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield from _paths(value, (*path, key))


def _mutate(doc: Any, path: tuple[Any, ...], op: str, value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if op == "delete":
        del parent[last]
    elif op == "rename" and isinstance(parent, dict):
        parent[str(value)[:20]] = parent.pop(last)
    else:
        parent[last] = value
    return doc


weird_values = st.one_of(
    JSON_VALUES,
    st.sampled_from(["", " ", "{", "{}", "{heard!x}", "{heard:{}}", "{0}", "{heard", "[一-龥]", "\\d+", "(?i)x",
                     "a{99999999999}", "(" * 2000 + ")" * 2000, "(a*)*$", "on", "type", "urgent", "zh-Hant", "$mt",
                     "ſ", "\u202e", "👩‍👩‍👧"]),
)


@isolated(timeout=60)
@SLOW
@given(st.data())
def test_loader_on_mutated_real_pack(data: st.DataObject) -> None:
    with _pack_copy() as root:
        for _ in range(data.draw(st.integers(1, 3), label="files")):
            name = data.draw(st.sampled_from(FILES), label="file")
            doc = yaml.load((root / name).read_text(encoding="utf-8"), Loader=_Loader)
            for _ in range(data.draw(st.integers(1, 3), label="mutations")):
                path = data.draw(st.sampled_from(list(_paths(doc))), label="path")
                op = data.draw(st.sampled_from(["delete", "replace", "rename"]) if path else st.just("replace"))
                doc = _mutate(doc, path, op, data.draw(weird_values, label="value"))
            (root / name).write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
        compiled = _load_and_compile(root)
    if compiled is not None:
        _no_engine_regex(compiled)


def test_originals_round_trip() -> None:
    """The mutation test writes files back with safe_dump; unmutated, that must still load and compile."""
    with _pack_copy() as root:
        for name, doc in ORIGINAL.items():
            (root / name).write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
        assert _load_and_compile(root) is not None
