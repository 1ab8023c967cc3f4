r"""The recall of an approximate neighbour search, measured on a sample of points.

An approximate search is only as good as its recall, and its recall depends on
the data: an inverted-file search finds nearly every neighbour of clustered codes
but few of structureless high-dimensional ones. :func:`sampled_recall` measures
it on ``n_sample`` rows drawn from a fixed seed, against an exact search of those
rows alone: :math:`O(s M d)` for :math:`s` sampled rows, a small fraction of the
search itself (:math:`O(M \cdot n_{\text{candidates}} \cdot d)`).

A found neighbour counts as a true one when its distance is at most the
:math:`k`-th smallest exact distance of its row, so ties at the :math:`k`-th
place do not count against the search.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._utils.validation import check_fraction
from ._knn_partitioned import query_rows, ranking_rows

__all__ = [
    "DEFAULT_RECALL_SAMPLE",
    "WIDENING",
    "WIDENING_GAIN",
    "WIDEST_SHARE",
    "SearchOutcome",
    "SearchRecallWarning",
    "check_recall_target",
    "found_squared",
    "kth_smallest",
    "recall_of",
    "recall_on_sample",
    "sample_rows",
    "sampled_recall",
    "shortfall",
    "tolerance",
    "widened_search",
    "within_radius",
]

DEFAULT_RECALL_SAMPLE = 256
_DISTANCE_ELEMENTS = 1 << 21  # screening products held at once: 16 MiB in float64
_TIE_TOLERANCE = 1e-9  # relative to the radius: float64 rounding of a squared difference
_SCREEN_SLACK = 1e-3  # relative margin of the screening products, far above float32's rounding
WIDENING = 4  # candidates are multiplied by this while the recall is below target
WIDEST_SHARE = 16  # ... while they stay at most this fraction of the points (1/16)
WIDENING_GAIN = 2.0  # ... and the recall times this reaches the target: a fourfold widening was
# measured to at most double the recall (0.155 -> 0.291 and 0.331 -> 0.559 on structureless codes)


class SearchRecallWarning(UserWarning):
    """An approximate neighbour search found fewer of the true neighbours than its target.

    Raised with the measured recall, and what was done about it: the exact search
    ran instead (slower, exact), or the approximate result was kept.
    """


@dataclass(frozen=True)
class SearchOutcome:
    """What a neighbour search did.

    Attributes
    ----------
    method : {'brute', 'partitioned'}
        The search whose result was returned.
    n_candidates : int or None
        The partitioned search's widest candidates (None when it did not run).
    recall : float or None
        The last partitioned search's recall on the sampled points (None when not measured).
    met : bool
        Whether the returned result met the recall target (an exact one always does).
    """

    method: str
    n_candidates: int | None = None
    recall: float | None = None
    met: bool = True


def check_recall_target(recall_target) -> float | None:
    """None (no check), or a real number in (0, 1], else an error naming ``recall_target``."""
    return check_fraction(recall_target, "recall_target", allow_none=True)


def sample_rows(n_points: int, n_sample: int) -> np.ndarray:
    """``min(n_sample, n_points)`` distinct rows, ascending, drawn from seed 0."""
    rng = np.random.default_rng(0)
    return np.sort(rng.choice(n_points, min(n_sample, n_points), replace=False))


def within_radius(queries: np.ndarray, points: np.ndarray, radius: np.ndarray,
                  tie: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""The squared distances from each query to the ``points`` within its squared ``radius``.

    A point counts when its squared distance, computed directly in float64, is at
    most ``radius + tie``. The points are screened first in their own precision,
    one product per block of points (the partitioned search's
    :func:`~modal_ibal.search._knn_partitioned.query_rows` against the queries'
    :func:`~modal_ibal.search._knn_partitioned.ranking_rows`, never :math:`s \times M` at once), with a
    margin far above float32's rounding (:data:`_SCREEN_SLACK`), so only the few
    points near the radius are computed again. A function of each point alone: the
    results on blocks of points concatenate to the result on all of them.

    Parameters
    ----------
    queries : ndarray of shape (s, d), float64
    points : ndarray of shape (m, d)
    radius, tie : ndarray of shape (s,)
        Squared radii, and the tolerance added to them (:func:`tolerance`).

    Returns
    -------
    rows : ndarray of ints
        The query of each distance kept.
    squared : ndarray of float64
        The distances kept.
    """
    dtype = np.float32 if points.dtype == np.float32 else np.float64
    query_norms = np.einsum("ij,ij->i", queries, queries)  # [s]
    side = ranking_rows(query_rows(queries.astype(dtype))).T  # [d + 2, s]
    screen = (radius + tie + _SCREEN_SLACK * (3.0 * query_norms + 2.0 * radius)).astype(dtype)
    block = max(1, _DISTANCE_ELEMENTS // max(1, queries.shape[0]))
    kept_rows, kept = [], []
    for start in range(0, points.shape[0], block):
        chunk = points[start:start + block]  # [b, d]
        near, query = np.nonzero(query_rows(chunk.astype(dtype, copy=False)) @ side <= screen)
        difference = chunk[near].astype(np.float64) - queries[query]  # [c, d]
        squared = np.einsum("ij,ij->i", difference, difference)  # [c]
        inside = squared <= (radius + tie)[query]
        kept_rows.append(query[inside])
        kept.append(squared[inside])
    return np.concatenate(kept_rows), np.concatenate(kept)


def tolerance(radius: np.ndarray) -> np.ndarray:
    r"""The tie tolerance of each query's squared distances within ``radius``: :math:`10^{-9} r`.

    Both the distances found and those of the radius search are computed directly
    from the differences :math:`z - q` in float64, whose rounding is relative to
    the distance itself (a few units in the last place of :math:`r`), not to the
    points' norms: codes far from the origin and close together keep their near
    misses apart.
    """
    return _TIE_TOLERANCE * radius


def kth_smallest(rows: np.ndarray, squared: np.ndarray, n_rows: int, k: int) -> np.ndarray:
    """Each row's ``k``-th smallest entry among ``squared`` (entries by row in ``rows``).

    Every row must hold at least ``k`` entries.
    """
    order = np.lexsort((squared, rows))
    starts = np.searchsorted(rows[order], np.arange(n_rows))  # [s]
    return squared[order][starts + k - 1]


def sampled_recall(Z: np.ndarray, neighbours: np.ndarray, *,
                   n_sample: int = DEFAULT_RECALL_SAMPLE) -> float:
    r"""The share of the true :math:`k` nearest neighbours found, on a fixed sample of rows.

    Parameters
    ----------
    Z : ndarray of shape (M, d)
        The searched points (finite; checked by the caller).
    neighbours : ndarray of shape (M, k)
        The neighbours found for every row: distinct row indices.
    n_sample : int, default=256
        Rows on which the recall is measured, drawn from seed 0 (the global random
        state is untouched); all rows when ``M`` is smaller.

    Returns
    -------
    float in [0, 1]
        .. math:: \frac{1}{s k} \sum_{x \in S} \big|\{c \in N(x) :
                  \lVert z_x - z_c \rVert^2 \le \delta_k(x)\}\big|

        with :math:`N(x)` the :math:`k` neighbours found for :math:`x` and
        :math:`\delta_k(x)` its exact :math:`k`-th smallest squared distance
        (float64, up to :func:`tolerance`).

    Notes
    -----
    Time :math:`O(s M d)` in one pass over ``Z``: the true :math:`\delta_k(x)` is
    sought among the points no farther than the :math:`k`-th neighbour found (at
    least :math:`k` of them: the neighbours found), never by sorting all :math:`M`.
    """
    rows = sample_rows(neighbours.shape[0], n_sample)  # [s]
    queries = Z[rows].astype(np.float64)  # [s, d]
    return recall_on_sample(queries, Z[neighbours[rows]],
                            lambda radius, tie: within_radius(queries, Z, radius, tie))


def recall_on_sample(queries: np.ndarray, found_points: np.ndarray,
                     within: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
                     ) -> float:
    """:func:`sampled_recall` from the sampled rows, their neighbours found, and a radius search.

    Parameters
    ----------
    queries : ndarray of shape (s, d), float64
        The sampled rows.
    found_points : ndarray of shape (s, k, d)
        The neighbours found for them.
    within : callable
        ``within(radius, tie)``: :func:`within_radius` of the queries over all the
        searched points, wherever they live.

    Returns
    -------
    float in [0, 1]
    """
    found = found_squared(queries, found_points)  # [s, k]
    radius = found.max(axis=1)  # [s]: at least k points lie within it, those found
    tie = tolerance(radius)  # [s]
    kth = kth_smallest(*within(radius, tie), queries.shape[0], found.shape[1])  # [s]
    return recall_of(found, kth, tie)


def found_squared(queries: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Float64 squared distances of ``queries`` [s, d] to their neighbours found [s, k, d]."""
    difference = found.astype(np.float64) - queries[:, None, :]  # [s, k, d]
    return np.einsum("skd,skd->sk", difference, difference)


def recall_of(found: np.ndarray, kth: np.ndarray, tie: np.ndarray) -> float:
    """The share of the ``found`` squared distances [s, k] within their row's ``kth`` (+ ``tie``)."""
    return float((found <= (kth + tie)[:, None]).mean())


def widened_search(search: Callable[[int], tuple[np.ndarray, np.ndarray]],
                   recall: Callable[[np.ndarray], float], n_candidates: int, n_points: int,
                   recall_target: float | None) -> tuple[np.ndarray, np.ndarray, SearchOutcome]:
    """Run ``search(n_candidates)``, widening the candidates while its recall is below target.

    The candidates are multiplied by ``WIDENING`` while they stay at most
    ``n_points // WIDEST_SHARE`` and the recall is at least ``recall_target /
    WIDENING_GAIN`` (further below, a wider search was not seen to reach the
    target, and costs about as much as the exact search); the outcome's ``met``
    says whether the last search reached ``recall_target`` (always, when it is
    None: nothing measured).

    Parameters
    ----------
    search : callable
        ``search(n_candidates)`` returns ``(neighbours, squared)``.
    recall : callable
        ``recall(neighbours)``: the measured recall of a result.
    n_candidates, n_points : int
    recall_target : float or None

    Returns
    -------
    neighbours, squared, SearchOutcome
    """
    while True:
        neighbours, squared = search(n_candidates)
        if recall_target is None:
            return neighbours, squared, SearchOutcome("partitioned", n_candidates)
        measured = recall(neighbours)
        met = measured >= recall_target
        hopeless = WIDENING_GAIN * measured < recall_target
        if met or hopeless or WIDENING * n_candidates > n_points // WIDEST_SHARE:
            return neighbours, squared, SearchOutcome("partitioned", n_candidates, measured, met)
        n_candidates *= WIDENING


def shortfall(outcome: SearchOutcome, n_points: int, k: int, recall_target: float) -> str:
    """The first sentence of a :class:`SearchRecallWarning`: what was measured, against what."""
    return (f"The partitioned neighbour search found {outcome.recall:.1%} of the true {k} "
            f"nearest neighbours of {min(n_points, DEFAULT_RECALL_SAMPLE)} sampled points with "
            f"{outcome.n_candidates} candidates each, below the recall_target of "
            f"{recall_target:.1%} (codes without cluster structure in many dimensions defeat it)")
