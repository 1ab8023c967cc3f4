"""Ranking: the one place where scores become a batch of indices.

Every strategy scores the pool and hands the scores here. Ties are broken by
pool index (the lower index first), so a query is deterministic; the cost is
O(N) with ``argpartition`` plus O(B log B) to order the batch.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..utils.validation import check_n_instances, check_scores

__all__ = ["TiedScoresWarning", "select_highest", "select_lowest"]


class TiedScoresWarning(UserWarning):
    """More pool points tie at the batch's last score than the batch holds: picks in pool order."""


def select_lowest(
    scores: np.ndarray, n_instances: int = 1, *, warn_ties: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``n_instances`` smallest scores, smallest first.

    Parameters
    ----------
    scores : ndarray of shape (n_pool,)
    n_instances : int, default=1
    warn_ties : bool, default=False
        Warn (:class:`TiedScoresWarning`) when more points tie at the batch's last
        score than the batch has room for: the scores then do not decide the
        batch, pool order does.

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
    tied = np.flatnonzero(scores == threshold)  # [t]
    room = n_instances - below.size
    if warn_ties and tied.size > room:
        warnings.warn(
            f"{tied.size} pool points tie at the batch's last score ({threshold:.6g}) but only "
            f"{room} fit in the batch, so they were taken in pool order (the lowest indices). "
            "The scores do not separate these points; a saturated score (e.g. a reading that "
            "vanishes on confident points) often does this.",
            TiedScoresWarning, stacklevel=3,
        )
    at_threshold = tied[:room]
    chosen = np.concatenate([below, at_threshold])
    chosen = chosen[np.lexsort((chosen, scores[chosen]))]
    return chosen, scores[chosen]


def select_highest(
    scores: np.ndarray, n_instances: int = 1, *, warn_ties: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``n_instances`` largest scores, largest first (see :func:`select_lowest`)."""
    indices, negated = select_lowest(-np.asarray(scores, dtype=np.float64), n_instances,
                                     warn_ties=warn_ties)
    return indices, -negated
