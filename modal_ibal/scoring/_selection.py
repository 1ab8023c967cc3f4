r"""Ranking: the one place where scores become a batch of indices.

Every strategy scores the pool and hands the scores here. Scores are compared
at ``RANKING_BITS`` (24) significant bits, float32's precision: two scores that
agree there are a tie, and ties go to the lower pool index. Rounding noise of
float64 arithmetic depends on how a BLAS blocks a product, on the chunk a row falls
in and on the CPU; ranked on their last bits, identical rows could come out in any
order. Ranked this way they tie, unless the noise straddles one of the rounding
steps, :math:`2^{-24}` relative apart: noise of :math:`10^{-14}` relative does so
for about one pair in :math:`10^{7}`. The cost is :math:`O(N)` with
``argpartition`` plus :math:`O(B \log B)` to order the batch.
"""

from __future__ import annotations

import numpy as np

from .._utils.attribution import warn_caller
from .._utils.validation import check_n_instances, check_scores

__all__ = ["RANKING_BITS", "TiedScoresWarning", "ranking_keys", "select_highest",
           "select_lowest"]

RANKING_BITS = 24  # significant bits at which scores are compared (float32's precision)


class TiedScoresWarning(UserWarning):
    """More pool points tie at the batch's last score than the batch holds: picks in pool order."""


def ranking_keys(scores: np.ndarray) -> np.ndarray:
    r"""The values by which ``scores`` are ranked: each rounded to ``RANKING_BITS`` bits.

    Parameters
    ----------
    scores : ndarray of shape (n,), float64, finite

    Returns
    -------
    ndarray of shape (n,), float64

    Notes
    -----
    With :math:`s = m\, 2^{e}`, :math:`\tfrac12 \le |m| < 1` (``frexp``), the key
    is :math:`\operatorname{round}(m\, 2^{b})\, 2^{e - b}` for :math:`b` =
    ``RANKING_BITS``: relative error at most :math:`2^{-b}`, the same order as
    the scores, any magnitude (no overflow or flush to zero, unlike a cast to
    float32).
    """
    mantissa, exponent = np.frexp(scores)
    return np.ldexp(np.round(np.ldexp(mantissa, RANKING_BITS)), exponent - RANKING_BITS)


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
        Ranked by :func:`ranking_keys` of the scores, ties to the lower index.
    query_scores : ndarray of shape (n_instances,)
        The scores as given (not rounded).
    """
    scores = check_scores(np.asarray(scores, dtype=np.float64).ravel(), "query")
    n_instances = check_n_instances(n_instances, scores.shape[0])
    keys = ranking_keys(scores)  # [N]
    candidates = np.argpartition(keys, n_instances - 1)[:n_instances]
    threshold = keys[candidates].max()
    below = np.flatnonzero(keys < threshold)
    tied = np.flatnonzero(keys == threshold)  # [t]
    room = n_instances - below.size
    if warn_ties and tied.size > room:
        warn_caller(
            f"{tied.size} pool points tie at the batch's last score ({threshold:.6g}) but only "
            f"{room} fit in the batch, so they were taken in pool order (the lowest indices). "
            "The scores do not separate these points; a saturated score (e.g. a reading that "
            "vanishes on confident points) often does this.",
            TiedScoresWarning)
    chosen = np.concatenate([below, tied[:room]])
    chosen = chosen[np.lexsort((chosen, keys[chosen]))]
    return chosen, scores[chosen]


def select_highest(
    scores: np.ndarray, n_instances: int = 1, *, warn_ties: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``n_instances`` largest scores, largest first (see :func:`select_lowest`)."""
    indices, negated = select_lowest(-np.asarray(scores, dtype=np.float64), n_instances,
                                     warn_ties=warn_ties)
    return indices, -negated
