r"""The k nearest neighbours of every point of a set: exact or partitioned.

The :math:`k` nearest neighbours of every point of a set: exact, or searched by partition.

Kernel herding needs each point's :math:`k` nearest neighbours among all
:math:`M` labelled + pool points. The exact search (``'brute'``) compares every
pair, :math:`O(M^2 d)`: 40 s at 100,000 x 64 on one core. The partitioned search
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
border, in a region split into many cells. ``algorithm='auto'`` searches
exactly up to ``EXACT_SEARCH_MAX_POINTS`` points.
"""

from __future__ import annotations

import numpy as np

from .knn_exact import check_points, exact_neighbours
from .knn_partitioned import DEFAULT_CELL_SIZE, DEFAULT_N_CANDIDATES, partitioned_neighbours

__all__ = [
    "ALGORITHMS",
    "EXACT_SEARCH_MAX_POINTS",
    "check_algorithm",
    "nearest_neighbours",
    "searches_exactly",
]

ALGORITHMS = ("auto", "brute", "partitioned")
EXACT_SEARCH_MAX_POINTS = 10_000


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
) -> tuple[np.ndarray, np.ndarray]:
    r"""Each point's :math:`k` nearest neighbours among the rows of ``Z``, itself included.

    Parameters
    ----------
    Z : ndarray of shape (n_points, n_dims)
        Finite points, float32 or float64.
    n_neighbors : int
        :math:`k \le` ``n_points``.
    algorithm : {'auto', 'brute', 'partitioned'}, default='auto'
        ``'brute'``: exact (:func:`exact_neighbours`); ``'partitioned'``:
        :func:`partitioned_neighbours`; ``'auto'``: exact up to
        ``EXACT_SEARCH_MAX_POINTS`` (10,000) points, partitioned above.
    cell_size, n_candidates : int
        See :func:`partitioned_neighbours`.

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
    """
    Z = check_points(Z)
    if searches_exactly(check_algorithm(algorithm), Z.shape[0]):
        return exact_neighbours(Z, n_neighbors)
    return partitioned_neighbours(Z, n_neighbors, cell_size=cell_size,
                                  n_candidates=n_candidates)
