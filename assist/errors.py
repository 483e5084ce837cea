"""One root error, narrow subclasses; messages say where, what was expected and what came."""

from __future__ import annotations


class AssistError(Exception):
    """Root of every error assist raises on purpose."""


class EventError(AssistError):
    """An inbound event is malformed: wrong type, missing field, unknown call."""

    def __init__(self, message: str, *, where: str = "", field: str = "", expected: str = "", got: str = ""):
        self.where = where
        self.field = field
        self.expected = expected
        self.got = got
        prefix = f"{where}: " if where else ""
        super().__init__(prefix + message)


class FormatError(AssistError):
    """A transcript file (or a vendor message) cannot be read in the format it claims or was forced to.
    `field`, `expected` and `got` say what was wrong when one field was (a live error frame carries them)."""

    def __init__(self, message: str, *, field: str = "", expected: str = "", got: str = ""):
        self.field = field
        self.expected = expected
        self.got = got
        super().__init__(message)


class RulePackError(AssistError):
    """A rule pack is invalid. `problems` lists every problem found, each with file:line, rule and field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        head = f"{len(problems)} problem(s) in rule packs:\n  " if len(problems) > 1 else ""
        super().__init__(head + "\n  ".join(problems))


class CapacityError(AssistError):
    """The engine cannot open another call (its configured limit is reached)."""
