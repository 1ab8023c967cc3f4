r"""ProbCover's engine: greedy maximum coverage of balls.

The greedy max coverage of :math:`\delta`-balls on a ball graph (the
top-hat case of generalised coverage).
"""

from __future__ import annotations

import numpy as np

from ..scoring import select_highest

__all__ = ["greedy_max_coverage"]


def greedy_max_coverage(
    graph, n_labelled: int, n_instances: int, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy max coverage on a symmetric ball graph over labelled + pool (labelled first).

    Points in a labelled point's ball start covered. Each pick is the pool point
    whose ball covers the most uncovered points (lowest index on ties); once
    everything is covered, picks are uniform among the unpicked pool points.
    """
    graph = graph.tocsr()
    covered = np.zeros(graph.shape[0], dtype=bool)
    if n_labelled:
        covered[graph[:n_labelled].indices] = True
    pool_graph = graph[n_labelled:]  # [N, n + N]
    picked = np.zeros(pool_graph.shape[0], dtype=bool)
    picks, gains = [], []
    for _ in range(n_instances):
        gain = pool_graph @ (~covered).astype(np.float64)  # [N]
        gain[picked] = -1.0
        (pick,), (value,) = select_highest(gain, 1)
        if value <= 0:
            rest = np.flatnonzero(~picked)
            pick, value = int(rest[rng.randint(len(rest))]), 0.0
        picks.append(int(pick))
        gains.append(value)
        picked[pick] = True
        covered[pool_graph[pick].indices] = True
    return np.asarray(picks, dtype=np.int64), np.asarray(gains)
