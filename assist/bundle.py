"""What ships inside the package: the bundled playbook and the example calls.

In the repository, `assist/bundled/rules` and `assist/bundled/examples` are symbolic links to the top-level
`rules/` and `examples/` (the editable source); a wheel or sdist holds copies of them as package data.
A user's own packs live anywhere: `--rules DIR` on every command, `load_rules(DIR)` in code.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from assist.errors import AssistError


def bundled(name: str) -> Path:
    """The directory `name` (rules, examples) shipped with the package, as a real filesystem path."""
    ref = files("assist") / "bundled" / name
    if not isinstance(ref, Path):  # e.g. imported from a zip: rule packs are read as files
        raise AssistError(f"assist's bundled {name} must be installed as files; got {ref!r}")
    return ref.resolve()  # in a checkout: the top-level directory itself, so messages name rules/…


DEFAULT_RULES = bundled("rules")
EXAMPLES = bundled("examples")

DEMO_LANGS = ("en", "zh", "bg")  # a bundled demo call per language: examples/demo_<lang>.jsonl


def demo_call(lang: str = "en") -> Path:
    """The bundled demo call in `lang` (one of DEMO_LANGS)."""
    return EXAMPLES / f"demo_{lang}.jsonl"


DEFAULT_CALL = demo_call("en")
