"""Ranking: the one place where scores become a batch of indices.

Every strategy scores the pool and hands the scores here. Ties are broken by
pool index (the lower index first), so a query is deterministic; the cost is
O(N) with ``argpartition`` plus O(B log B) to order the batch.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_n_instances, check_scores


def select_lowest(scores: np.ndarray, n_instances: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``n_instances`` smallest scores, smallest first.

    Parameters
    ----------
    scores : ndarray of shape (n_pool,)
    n_instances : int, default=1

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
    query_scores : ndarray of shape (n_instances,)
    """
    scores = check_scores(np.asarray(scores, dtype=np.float64).ravel(), "query")
    n_instances = check_n_instances(n_instances, scores.shape[0])
    candidates = np.argpartition(scores, n_instances - 1)[:n_instances]
    threshold = scores[candidates].max()
    below = np.flatnonzero(scores < threshold)
    at_threshold = np.flatnonzero(scores == threshold)[: n_instances - below.size]
    chosen = np.concatenate([below, at_threshold])
    chosen = chosen[np.lexsort((chosen, scores[chosen]))]
    return chosen, scores[chosen]


def select_highest(scores: np.ndarray, n_instances: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``n_instances`` largest scores, largest first."""
    indices, negated = select_lowest(-np.asarray(scores, dtype=np.float64), n_instances)
    return indices, -negated
