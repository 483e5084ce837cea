"""The lock files pin a version inside every range pyproject.toml declares, for every dependency."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def pins(lock: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (ROOT / lock).read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, _, version = line.partition("==")
            out[canonicalize_name(name.strip())] = version.split()[0].rstrip("\\")
    return out


@pytest.mark.parametrize(("lock", "requirements"), [
    ("requirements.lock", PROJECT["dependencies"]),
    ("requirements-dev.lock", PROJECT["dependencies"] + PROJECT["optional-dependencies"]["test"]),
])
def test_lock_pins_every_declared_dependency_inside_its_range(lock: str, requirements: list[str]) -> None:
    pinned = pins(lock)
    for text in requirements:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in pinned, f"{lock} pins no {req.name}: run ./dev lock"
        assert req.specifier.contains(pinned[name], prereleases=True), \
            f"{lock} pins {req.name}=={pinned[name]} outside pyproject's {req.specifier}: run ./dev lock"


def test_declared_ranges_are_ranges_not_pins() -> None:
    exact = [r for r in PROJECT["dependencies"] if "==" in r]
    assert not exact, f"a library others embed declares ranges; exact pins belong in the lock: {exact}"
