"""Resolution by simulation: the facts were delivered and no policy was violated; pass^k."""

from __future__ import annotations

from math import comb

from supportloop.eval.harness import Conversation


def resolved(conversation: Conversation, violated: bool) -> bool:
    """Every fact delivered, no error, and no safety check fired (`violated`)."""
    return conversation.end != "error" and all(conversation.delivered) and not violated


def pass_hat_k(successes: list[int], trials: int, k: int) -> float:
    """tau-bench's pass^k: mean over scenarios of C(c, k) / C(n, k), c successes in n trials.

    The chance that k independent trials of a scenario all succeed; it falls with k for a
    model that succeeds only sometimes, which is what reliability in production means.
    """
    if not successes or k > trials:
        return float("nan")
    return sum(comb(c, k) / comb(trials, k) for c in successes) / len(successes)
