r"""The k nearest neighbours of every point of a set: exact, or searched by partition.

Kernel herding needs each point's :math:`k` nearest neighbours among all
:math:`M` labelled + pool points. The exact search (``'brute'``) compares every
pair, :math:`O(M^2 d)`. The partitioned search
(``'partitioned'``) is an inverted-file search in the manner of IVF indexes:

1. two levels of k-means (a few Lloyd iterations on a fixed sample) cut the
   points into cells of about ``cell_size`` points;
2. each cell's candidates are the points of the cells whose centres lie nearest
   to its own centre, taken in that order until they number ``n_candidates``
   (above 16,384 cells, those nearest cells are sought among the fine cells of
   the 32 coarse cells nearest to its own, not among all);
3. every point of the cell is compared with those candidates only, with one
   matrix product per cell, and keeps the :math:`k` nearest.

Time :math:`O(M \cdot n_{\text{candidates}} \cdot d)` and memory
:math:`O(M (k + d))` plus one cell's products per thread; the cells are searched
in as many threads as BLAS may use (each on one BLAS thread), and the result
does not depend on their number. A true neighbour is missed only
when it lies in a cell that is not among the candidates' cells: near a cell's
border, in a region split into many cells: rarely in clustered codes, often in
structureless high-dimensional ones (measured: ``benchmarks/neighbour_search.py``).

So the partitioned search is checked as it runs: its recall is measured on 256
sampled points against their exact neighbours (:mod:`modal_ibal.search._recall`);
below ``recall_target`` the candidates are widened fourfold and the search
repeated, while they stay under a sixteenth of the points and the recall is at
least half the target (a fourfold widening was not seen to do more than double
it); past that,
``algorithm='auto'`` searches exactly and ``'partitioned'`` keeps its result;
both say so with a :class:`~modal_ibal.search.SearchRecallWarning`.
``algorithm='auto'`` searches exactly up to ``EXACT_SEARCH_MAX_POINTS`` points.
"""

from __future__ import annotations

import numpy as np

from .._utils.attribution import warn_caller
from .._utils.validation import check_positive_int
from ._knn_exact import check_n_neighbors, check_points, exact_neighbours
from ._knn_faiss import faiss_exact_neighbours, faiss_installed
from ._knn_partitioned import DEFAULT_CELL_SIZE, DEFAULT_N_CANDIDATES, partitioned_neighbours
from ._recall import (
    SearchOutcome,
    SearchRecallWarning,
    check_recall_target,
    sampled_recall,
    shortfall,
    widened_search,
)

__all__ = [
    "ALGORITHMS",
    "DEFAULT_RECALL_TARGET",
    "EXACT_SEARCH_MAX_POINTS",
    "check_algorithm",
    "exact_search",
    "nearest_neighbours",
    "searched_neighbours",
    "searches_exactly",
]

ALGORITHMS = ("auto", "brute", "partitioned")
EXACT_SEARCH_MAX_POINTS = 10_000
DEFAULT_RECALL_TARGET = 0.8


def check_algorithm(algorithm) -> str:
    """One of :data:`ALGORITHMS`, else a ValueError naming ``algorithm``."""
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        raise ValueError(
            f"The 'algorithm' parameter must be one of {', '.join(map(repr, ALGORITHMS))}. "
            f"Got {algorithm!r} instead."
        )
    return algorithm


def searches_exactly(algorithm: str, n_points: int) -> bool:
    """Whether ``algorithm`` (checked) searches ``n_points`` points exactly, by brute force.

    ``'brute'`` always, ``'auto'`` up to ``EXACT_SEARCH_MAX_POINTS`` points.
    """
    return algorithm == "brute" or (algorithm == "auto" and n_points <= EXACT_SEARCH_MAX_POINTS)


def nearest_neighbours(
    Z: np.ndarray,
    n_neighbors: int,
    *,
    algorithm: str = "auto",
    cell_size: int = DEFAULT_CELL_SIZE,
    n_candidates: int = DEFAULT_N_CANDIDATES,
    recall_target: float | None = DEFAULT_RECALL_TARGET,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Each point's :math:`k` nearest neighbours among the rows of ``Z``, itself included.

    Parameters
    ----------
    Z : ndarray of shape (n_points, n_dims)
        Finite points, float32 or float64.
    n_neighbors : int
        :math:`k \le` ``n_points``.
    algorithm : {'auto', 'brute', 'partitioned'}, default='auto'
        ``'brute'``: exact (:func:`exact_search`); ``'partitioned'``:
        :func:`partitioned_neighbours`, its recall checked; ``'auto'``: exact up to
        ``EXACT_SEARCH_MAX_POINTS`` (10,000) points, partitioned above, and exact
        again where the partitioned search cannot reach ``recall_target``.
    cell_size, n_candidates : int
        See :func:`partitioned_neighbours`; ``n_candidates`` is where the widening starts.
    recall_target : float in (0, 1] or None, default=0.8
        The share of the true neighbours the partitioned search must find on 256
        sampled points (module docstring); None skips the check. The default
        lets through raw Fashion-MNIST pixels (85% found at 20,000 images, where
        the partitioned graph gave the exact one's learning curve, AULC +0.0001 ±
        0.0034 over 10 seeds) and stops structureless codes (10% to 33% found).

    Returns
    -------
    neighbours : ndarray of shape (n_points, n_neighbors), int32 or int64
        Row indices; every row holds the point itself (even among more than
        :math:`k` duplicates of it).
    squared : ndarray of shape (n_points, n_neighbors), float64
        :math:`\lVert z_x - z_c \rVert^2`: by the exact search recomputed directly in
        float64 for the neighbours found, so a duplicate is at exactly 0; by the
        partitioned search the sums of its products in the points' precision,
        clipped at 0 (a point's own distance is exactly 0).

    Warns
    -----
    SearchRecallWarning
        When the partitioned search stayed below ``recall_target``: with the
        measured recall and what was returned instead.
    """
    Z = check_points(Z)
    algorithm = check_algorithm(algorithm)
    recall_target = check_recall_target(recall_target)
    k = check_n_neighbors(n_neighbors, Z.shape[0])
    cell_size = check_positive_int(cell_size, "cell_size")
    n_candidates = check_positive_int(n_candidates, "n_candidates")
    neighbours, squared, _ = searched_neighbours(
        Z, k, algorithm=algorithm, cell_size=cell_size, n_candidates=n_candidates,
        recall_target=recall_target)
    return neighbours, squared


def searched_neighbours(
    Z: np.ndarray,
    n_neighbors: int,
    *,
    algorithm: str = "auto",
    cell_size: int = DEFAULT_CELL_SIZE,
    n_candidates: int = DEFAULT_N_CANDIDATES,
    recall_target: float | None = DEFAULT_RECALL_TARGET,
) -> tuple[np.ndarray, np.ndarray, SearchOutcome]:
    """:func:`nearest_neighbours` of checked arguments, and the :class:`SearchOutcome` of the search.

    The arguments are trusted: finite float points (:func:`check_points`), and
    the other arguments as :func:`nearest_neighbours` checks them.
    """
    n_points = Z.shape[0]
    if searches_exactly(algorithm, n_points):
        return (*exact_search(Z, n_neighbors), SearchOutcome("brute"))

    def search(candidates: int) -> tuple[np.ndarray, np.ndarray]:
        return partitioned_neighbours(Z, n_neighbors, cell_size=cell_size,
                                      n_candidates=candidates)

    neighbours, squared, outcome = widened_search(
        search, lambda found: sampled_recall(Z, found), n_candidates, n_points, recall_target)
    if outcome.met:
        return neighbours, squared, outcome
    found = shortfall(outcome, n_points, n_neighbors, recall_target)
    if algorithm == "partitioned":
        warn_caller(f"{found}; the approximate result is kept. algorithm='auto' would search "
                    "exactly instead.", SearchRecallWarning)
        return neighbours, squared, outcome
    warn_caller(f"{found}; searched exactly instead, which is slower.", SearchRecallWarning)
    return (*exact_search(Z, n_neighbors),
            SearchOutcome("brute", outcome.n_candidates, outcome.recall))


def exact_search(Z: np.ndarray, n_neighbors: int) -> tuple[np.ndarray, np.ndarray]:
    """The exact search of checked points, by FAISS or by scikit-learn.

    FAISS's flat index (:mod:`modal_ibal.search._knn_faiss`) for more than
    ``EXACT_SEARCH_MAX_POINTS`` float32 points where ``faiss-cpu`` is installed;
    scikit-learn's brute force (:func:`exact_neighbours`) otherwise.
    """
    if Z.dtype == np.float32 and Z.shape[0] > EXACT_SEARCH_MAX_POINTS and faiss_installed():
        return faiss_exact_neighbours(Z, n_neighbors)
    return exact_neighbours(Z, n_neighbors)
