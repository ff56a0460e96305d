"""One answer from both readers: the segmenter's readings rescored by the sequence reader.

The segmenter (``segment``) gives its best reading and the best readings with one or
two digits more or fewer, each with its path score (a log probability: the digit
model's and the shape priors'). The sequence reader (``ctc``) gives, for any string,
log P(string | image) summed over every alignment. The answer is

    argmax over the segmenter's readings r of   score(r) + SEQUENCE_WEIGHT * log P_ctc(text(r))

so the segmenter keeps what it is good at (boxes, confidences, ignored marks, the
``digits=N`` hint: only readings of that count compete) and the sequence reader settles
the joins it cannot see (how many digits two touching strokes hold). When the sequence
reader is sure of a string that none of the segmenter's readings spell (digits fused so
that no cut finds them), and the segmenter itself is unsure, its string is taken, with
boxes from the segmenter's reading of that length or else from the CTC frames.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# Tuned on UNIPEN validation writers (benchmarks/tune_combine.py: 1,000 numbers, seed 1, apart counted 3x).
SEQUENCE_WEIGHT = 0.25  # the CTC log probability against the segmenter's path score (both in nats)
TAKE_SEQUENCE_MARGIN = 3.0  # nats: the CTC must prefer its own string over every segmenter reading by this
SEQUENCE_SURE = math.log(0.15)  # and give it at least this log probability
SEGMENTER_SURE = 0.99  # a segmenter reading whose weakest digit is this sure is never overruled


@dataclass(frozen=True)
class Choice:
    """The reading that wins: ``index`` into the segmenter's readings, or None for the sequence reader's string."""

    index: int | None
    text: str
    combined: float


def choose(
    readings: Sequence[tuple[str, float]],
    sequence_log_p: Callable[[str], float],
    greedy: str,
    weakest: float,
    digits: int | None = None,
) -> Choice:
    """Pick among the segmenter's ``readings`` (text, path score; the first is its own answer).

    ``weakest`` is the lowest digit confidence of the segmenter's own answer; ``digits``
    the count asked for, if any (readings of other counts do not compete).
    """
    allowed = [k for k, (text, _) in enumerate(readings) if text and (digits is None or len(text) == digits)]
    if not allowed:
        allowed = [0]
    ctc = {readings[k][0]: sequence_log_p(readings[k][0]) for k in allowed}
    combined = {k: readings[k][1] + SEQUENCE_WEIGHT * ctc[readings[k][0]] for k in allowed}
    best = max(allowed, key=lambda k: (combined[k], -k))  # ties: the segmenter's own answer
    if greedy and greedy not in ctc and (digits is None or len(greedy) == digits) and weakest < SEGMENTER_SURE:
        own = sequence_log_p(greedy)
        if own >= SEQUENCE_SURE and own - max(ctc.values()) > TAKE_SEQUENCE_MARGIN:
            return Choice(None, greedy, own)
    return Choice(best, readings[best][0], combined[best])
