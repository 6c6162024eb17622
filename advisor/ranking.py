"""The ranking formula: one source for the exact solver (advisor.solve.rank) and the vectorised screen
(advisor.screen). Works on floats and on numpy arrays alike (`log10` is passed in).

Score by preference (quality is a T-score less the quantization's loss, see advisor.solve.quality_base):
- quality: quality + 2 x log10(decode tokens/s): a tenfold speed is worth 0.2 of a standard deviation;
- speed:   20 x log10(tokens/s) + 0.2 x quality;
- memory:  -10 x GB that must fit + 0.2 x quality.
A language the card does not list, covered only by a broad claim ("140+ languages"), costs CLAIM_PENALTY per
language: a listed language outranks a claim at equal quality. A file the user must make (convert and quantize)
costs MAKE_PENALTY: a published artifact outranks one to be made at equal quality. These weights are choices of
this project (no data fits them), stated here once.
"""

from __future__ import annotations

import math

CLAIM_PENALTY = 2.0  # T-score points per requested language the card only claims (0.2 SD)
MAKE_PENALTY = 0.5   # T-score points for an artifact that must be made (about a quantization step's loss)


def score(quality, tps, memory_gb, prefer: str, claimed_only=0, log10=math.log10, maximum=max, to_be_made=False):
    """The ranking score of one stack (floats) or of many (numpy arrays with log10=np.log10,
    maximum=np.maximum)."""
    q = quality - CLAIM_PENALTY * claimed_only - MAKE_PENALTY * to_be_made
    if prefer == "quality":
        return q + 2 * log10(maximum(tps, 0.1))
    if prefer == "speed":
        return 20 * log10(maximum(tps, 0.1)) + 0.2 * q
    return -10 * memory_gb + 0.2 * q


def pareto_front(points: list[tuple[float | None, float]], lower_x_better: bool) -> list[bool]:
    """Which (x, quality) points no other point beats on both: higher quality and lower x (memory) or
    higher x (speed). A point without x is on no front."""
    sign = 1 if lower_x_better else -1
    order = sorted((i for i, (x, _) in enumerate(points) if x is not None),
                   key=lambda i: (sign * points[i][0], -points[i][1]))
    out = [False] * len(points)
    best = -math.inf
    for i in order:
        if points[i][1] > best:
            out[i] = True
            best = points[i][1]
    return out
