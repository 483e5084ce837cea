"""What the hub remembers about calls and prompts after the fact, bounded so no client can grow it.

- `EndedCalls`: the seqs and utterance ids of recently ended calls (a resent event is a duplicate, not
  an error), bounded by the number of ids held, not only by calls: one call with 100,000 seqs weighs what
  it costs. Utterance ids are kept as hashes, so a long id costs no more than a short one.
- `PromptLedger`: which call, generation and agent raised each prompt, and the agent's rating of it:
  feedback reaches only the call that raised the prompt (a reused call id starts a new generation), and
  an agent has one rating per prompt (the last one wins).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

REMEMBER_ENDED_IDS = 1_000_000  # seqs and utterance ids of ended calls, about 60 MB at most
REMEMBER_PROMPTS = 100_000      # prompt ids remembered for feedback
RATINGS = frozenset({"helpful", "not_helpful"})
_generations = itertools.count(1)


def uid_key(uid: str) -> int:
    """An utterance id as the hub keeps it: its hash (SipHash with a per-process key, so a client cannot
    choose collisions); the call log keeps the id itself."""
    return hash(uid)


def new_generation() -> int:
    """A number no other call of this process has: tells a reused call id from the call it reuses."""
    return next(_generations)


class EndedCalls:
    """Seqs and utterance-id keys of ended calls, oldest forgotten first once `max_ids` are held."""

    def __init__(self, max_calls: int = 10_000, max_ids: int = REMEMBER_ENDED_IDS):
        self.max_calls = max_calls
        self.max_ids = max_ids
        self.ids = 0
        self._calls: OrderedDict[str, tuple[set[int], set[int]]] = OrderedDict()

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._calls

    def __len__(self) -> int:
        return len(self._calls)

    def __iter__(self) -> Iterator[str]:
        """The call ids held, oldest first (a copy: forgetting while iterating is fine)."""
        return iter(list(self._calls))

    def get(self, call_id: str) -> tuple[set[int], set[int]] | None:
        return self._calls.get(call_id)

    def remember(self, call_id: str, seqs: set[int], uids: set[int]) -> None:
        self.forget(call_id)
        self._calls[call_id] = (seqs, uids)
        self.ids += len(seqs) + len(uids)
        while self._calls and (len(self._calls) > self.max_calls or self.ids > self.max_ids):
            _, (old_seqs, old_uids) = self._calls.popitem(last=False)
            self.ids -= len(old_seqs) + len(old_uids)

    def forget(self, call_id: str) -> None:
        gone = self._calls.pop(call_id, None)
        if gone is not None:
            self.ids -= len(gone[0]) + len(gone[1])


@dataclass(slots=True)
class PromptOwner:
    call_id: str
    rule: str
    agent_id: str | None
    generation: int
    rating: str | None = None   # helpful | not_helpful: the agent's last rating
    closed: str | None = None   # ack | dismiss, once given

    def take(self, action: str) -> bool:
        """Record an action; False when it changes nothing (the same rating again, a second close)."""
        if action in RATINGS:
            if self.rating == action:
                return False
            self.rating = action  # the last rating wins
            return True
        if self.closed is not None:
            return False
        self.closed = action
        return True


class PromptLedger:
    """Prompt id → its owner, the newest `size` prompts."""

    def __init__(self, size: int = REMEMBER_PROMPTS):
        self.size = size
        self._owners: OrderedDict[str, PromptOwner] = OrderedDict()

    def note(self, prompt_id: str, owner: PromptOwner) -> None:
        self._owners[prompt_id] = owner
        self._owners.move_to_end(prompt_id)
        while len(self._owners) > self.size:
            self._owners.popitem(last=False)

    def get(self, prompt_id: str) -> PromptOwner | None:
        return self._owners.get(prompt_id)

    def __len__(self) -> int:
        return len(self._owners)
