"""One root error, narrow subclasses; messages say where, what was expected and what came."""

from __future__ import annotations

from dataclasses import dataclass


def problem_text(where: str, message: str) -> str:
    """The one way a problem is printed: "where: message" (just the message when nothing says where)."""
    return f"{where}: {message}" if where else message


class AssistError(Exception):
    """Root of every error assist raises on purpose.

    Where it happened and what was wrong are data, not text to search: `where` (file:line, message n,
    a field path), `field`, `expected`, `got`; `message` is the bare sentence. ``str(exc)`` is
    :func:`problem_text` of `where` and `message`.
    """

    def __init__(self, message: str = "", *, where: str = "", field: str = "", expected: str = "", got: str = ""):
        self.message = message
        self.where = where
        self.field = field
        self.expected = expected
        self.got = got
        super().__init__(problem_text(where, message))


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong in the input, and where: the one shape replay, reports and the CLI pass around."""

    where: str
    message: str
    field: str = ""
    expected: str = ""
    got: str = ""

    def __str__(self) -> str:
        return problem_text(self.where, self.message)

    @classmethod
    def of(cls, exc: AssistError, where: str = "") -> Problem:
        """The problem `exc` describes; `where` is used when the error itself does not say."""
        return cls(exc.where or where, exc.message, exc.field, exc.expected, exc.got)


class EventError(AssistError):
    """An inbound event is malformed: wrong type, missing field, unknown call."""


class UnknownCall(EventError):
    """An event for a call that was never started (or that this process has forgotten)."""


class CallEnded(EventError):
    """An event for a call that has already ended."""


class FormatError(AssistError):
    """A transcript file (or a vendor message) cannot be read in the format it claims or was forced to."""


class RulePackError(AssistError):
    """A rule pack is invalid. `problems` lists every problem found, each with file:line, rule and field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        head = f"{len(problems)} problem(s) in rule packs:\n  " if len(problems) > 1 else ""
        super().__init__(head + "\n  ".join(problems))


class CapacityError(AssistError):
    """The engine cannot open another call (its configured limit is reached)."""
