"""Read rule packs from disk: YAML with line numbers, validated into schema models.

Every problem is reported as ``file:line: rule 'id': field 'path': what was expected, what came``.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from assist.errors import RulePackError
from assist.rulepack.schema import Lexicon, Manifest, Rule

Path_ = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Source:
    """Where a model came from: its file and the line of every key path in it."""

    file: str
    lines: dict[Path_, int] = field(default_factory=dict)

    def line(self, path: Path_) -> int:
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.lines:
                return self.lines[path[:cut]]
        return 1

    def at(self, path: Path_) -> str:
        return f"{self.file}:{self.line(path)}"


@dataclass(frozen=True)
class RulePack:
    root: Path
    manifest: Manifest
    manifest_source: Source
    lexicons: dict[str, Lexicon]
    lexicon_sources: dict[str, Source]
    rules: list[Rule]
    rule_sources: dict[str, Source]

    @property
    def id(self) -> str:
        return self.manifest.id


_SafeBase: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: ~10x faster


class _Loader(_SafeBase):  # type: ignore[misc]
    """Safe loader with YAML 1.2 booleans: only true/false, so `on:` and `no` stay strings."""


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


def _walk(root: yaml.Node, base: Path_, out: dict[Path_, int]) -> None:
    """The line of every key path; iterative, so 5,000 nested mappings cost no recursion."""
    stack: list[tuple[yaml.Node, Path_]] = [(root, base)]
    while stack:
        node, path = stack.pop()
        out.setdefault(path, node.start_mark.line + 1)  # a key's own line, not where its block value starts
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else str(key.start_mark.line)
                out[(*path, name)] = key.start_mark.line + 1
                stack.append((value, (*path, name)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*path, i)) for i, item in enumerate(node.value))


def read_yaml(path: Path, display: str) -> tuple[Any, Source]:
    """Parse a YAML file; return its data and a Source with the line of every key path."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulePackError([f"{display}:1: cannot read file: {exc}"]) from None
    deep = _too_deep(text)
    if deep:  # PyYAML's scanner is quadratic in flow nesting: 10,000 '[' take seconds, 1 MB of them hours
        raise RulePackError([f"{display}:{deep}: invalid YAML: [ ] / {{ }} nested more than {_MAX_FLOW_DEPTH} "
                             "levels deep"])
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise RulePackError([f"{display}:{line}: invalid YAML: {getattr(exc, 'problem', exc)}"]) from None
    except RecursionError:  # PyYAML composes recursively
        raise RulePackError([f"{display}:1: invalid YAML: nested too deeply"]) from None
    if node is None:
        loader.dispose()
        return None, Source(display, {})
    alias = _first_alias(node)
    if alias is not None:  # an alias can contain itself or expand exponentially ("billion laughs")
        raise RulePackError([f"{display}:{alias.start_mark.line + 1}: invalid YAML: anchors and aliases "
                             "(&name / *name) are not supported in rule packs; write the value out"])
    try:
        data = loader.construct_document(node)  # a safe loader: plain data only
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: an integer past Python's 4,300-digit limit
        line = next((n.start_mark.line + 1 for n in _nodes(node) if isinstance(n, yaml.ScalarNode)
                     and n.tag == "tag:yaml.org,2002:int" and len(n.value) > 4000), 1)
        raise RulePackError([f"{display}:{line}: invalid YAML: {str(exc).split(';')[0]}"]) from None
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    _walk(node, (), lines)
    return data, Source(display, lines)


_MAX_FLOW_DEPTH = 100
_FLOW_TOKEN = re.compile(r"""[\[\]{}\n'"]|\\.""")


def _too_deep(text: str) -> int:
    """The line where flow collections first nest past the limit, or 0. Approximate (it skips quoted
    strings, not comments or plain scalars): a miss only leaves the input to PyYAML as before, and a
    false alarm needs over 100 unclosed brackets outside quotes."""
    if text.count("[") + text.count("{") <= _MAX_FLOW_DEPTH:
        return 0
    depth, line, quote = 0, 1, ""
    for m in _FLOW_TOKEN.finditer(text):
        tok = m.group()
        if tok == "\n":
            line += 1
        elif quote:
            if tok == quote:
                quote = ""
        elif tok in "'\"":
            if m.start() == 0 or text[m.start() - 1] in " \t\n[{,:-":  # opens a scalar, not "can't"
                quote = tok
        elif tok in "[{":
            depth += 1
            if depth > _MAX_FLOW_DEPTH:
                return line
        elif tok in "]}":
            depth = max(0, depth - 1)
    return 0


def _nodes(root: yaml.Node) -> Iterator[yaml.Node]:
    """Every node, depth first, without recursion (an alias is visited again each time it is used)."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, yaml.MappingNode):
            stack.extend(n for pair in reversed(node.value) for n in reversed(pair))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))


def _first_alias(root: yaml.Node) -> yaml.Node | None:
    """A node reached twice: PyYAML composes `*name` as the anchored node itself."""
    seen: set[int] = set()
    for node in _nodes(root):
        if id(node) in seen:
            return node
        seen.add(id(node))
    return None


def _shown(value: Any) -> str:
    try:
        return repr(value)[:60]
    except RecursionError:  # 5,000 nested mappings: show the top levels only
        return reprlib.repr(value)[:60]


def validation_problems(exc: ValidationError, source: Source, base: Path_, who: str) -> Iterator[str]:
    for err in exc.errors():
        loc: Path_ = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        fieldname = ".".join(str(p) for p in loc) or "(top level)"
        got = "nothing (missing)" if err["type"] == "missing" else _shown(err.get("input"))
        yield f"{source.at((*base, *loc))}: {who}field '{fieldname}': {err['msg']}; got {got}"


def _model(
    cls: type[M], data: Any, source: Source, base: Path_, who: str, problems: list[str]
) -> M | None:
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        problems.extend(validation_problems(exc, source, base, who))
        return None


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent)) if root.parent != path else str(path)
    except ValueError:
        return str(path)


def load_pack(root: Path) -> RulePack:
    """Load one pack directory (pack.yaml, lexicon/<lang>.yaml, rules/*.yaml); raise RulePackError."""
    problems: list[str] = []
    manifest_path = root / "pack.yaml"
    data, msource = read_yaml(manifest_path, _display(manifest_path, root))
    manifest = _model(Manifest, data, msource, (), "", problems)

    lexicons: dict[str, Lexicon] = {}
    lsources: dict[str, Source] = {}
    for path in sorted((root / "lexicon").glob("*.yaml")):
        try:
            data, source = read_yaml(path, _display(path, root))
        except RulePackError as exc:
            problems.extend(exc.problems)
            continue
        lex = _model(Lexicon, data, source, (), "", problems)
        if lex is not None:
            if lex.lang in lexicons:
                problems.append(f"{source.at(('lang',))}: field 'lang': lexicon '{lex.lang}' defined twice")
            lexicons[lex.lang] = lex
            lsources[lex.lang] = source

    rules: list[Rule] = []
    rsources: dict[str, Source] = {}
    for path in sorted((root / "rules").glob("*.yaml")):
        try:
            data, source = read_yaml(path, _display(path, root))
        except RulePackError as exc:
            problems.extend(exc.problems)
            continue
        items = data if isinstance(data, list) else [data]
        for i, item in enumerate(items):
            base: Path_ = (i,) if isinstance(data, list) else ()
            rid = item.get("id") if isinstance(item, dict) else None
            who = f"rule '{rid}': " if rid else f"rule #{i + 1}: "
            rule = _model(Rule, item, source, base, who, problems)
            if rule is None:
                continue
            if rule.id in rsources:
                problems.append(f"{source.at(base)}: rule '{rule.id}': field 'id': duplicate of "
                                f"{rsources[rule.id].file}")
                continue
            rules.append(rule)
            rsources[rule.id] = Source(source.file, {k[len(base):]: v for k, v in source.lines.items()
                                                     if k[:len(base)] == base})
    if problems or manifest is None:
        raise RulePackError(problems)
    return RulePack(root, manifest, msource, lexicons, lsources, rules, rsources)


def find_packs(root: Path) -> list[Path]:
    """A pack directory itself, or every directory under `root` holding a pack.yaml."""
    if (root / "pack.yaml").is_file():
        return [root]
    found = sorted(p.parent for p in root.glob("*/pack.yaml"))
    if not found:
        raise RulePackError([f"{root}: expected a pack directory (with pack.yaml) or a directory of packs, "
                             "found neither"])
    return found


def load_packs(root: Path | str) -> list[RulePack]:
    problems: list[str] = []
    packs: list[RulePack] = []
    for path in find_packs(Path(root)):
        try:
            packs.append(load_pack(path))
        except RulePackError as exc:
            problems.extend(exc.problems)
    if problems:
        raise RulePackError(problems)
    return packs
