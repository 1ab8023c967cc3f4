"""k nearest neighbours by an inverted-file search over k-means cells.

The points of each cell are compared with the points of its nearest cells only (see
:mod:`modal_ibal.search._knn` for the method and its guarantee).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .._utils.threads import blas_workers, run_blocks
from ._kmeans import group_rows, lloyd, nearest_centre
from ._knn_exact import exact_neighbours, index_type, with_self
from ._probes import probe_cells, ranges

__all__ = [
    "DEFAULT_CELL_SIZE",
    "DEFAULT_N_CANDIDATES",
    "cell_neighbours",
    "coarse_centres",
    "fine_cells",
    "first_fine_cells",
    "neighbours_from_sorted",
    "partitioned_neighbours",
    "query_rows",
    "ranking_rows",
    "search_cells",
    "search_rows",
]

DEFAULT_CELL_SIZE = 64
DEFAULT_N_CANDIDATES = 512
_CELL_ELEMENTS = 1 << 22  # candidate scores held at once for one cell
_SAMPLE_PER_CELL = 32  # k-means is fitted on this many points per centre
_CELLS_PER_TASK = 16  # home cells per thread task
_PACKED_COLUMN_BITS = 11  # float32 keys give up at most this many mantissa bits to the column


def coarse_centres(n_points: int, cell_size: int,
                   rows_at: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    r"""The centres of the first level of cells: :math:`\lceil\sqrt K\rceil` of them.

    Fitted by :func:`modal_ibal.search._kmeans.lloyd` on a fixed sample of
    ``_SAMPLE_PER_CELL`` points per centre, drawn from seed 0, so the points may
    live elsewhere (a Dask array) and only the sample is read.

    Parameters
    ----------
    n_points : int
        :math:`M`, the points to be cut into :math:`K = \lceil M / \text{cell\_size}\rceil` cells.
    cell_size : int
    rows_at : callable
        ``rows_at(indices)`` returns the points at those (ascending) indices.

    Returns
    -------
    ndarray of shape (n_coarse, n_dims)
    """
    rng = np.random.RandomState(0)
    n_coarse = int(np.ceil(np.sqrt(-(-n_points // cell_size))))
    sample = rng.choice(n_points, min(n_points, _SAMPLE_PER_CELL * n_coarse), replace=False)
    return lloyd(rows_at(np.sort(sample)), n_coarse, rng)


def fine_cells(Z_group: np.ndarray, group: int, cell_size: int) -> tuple[np.ndarray, np.ndarray]:
    """One coarse cell cut into cells of about ``cell_size`` points: their centres, each row's cell.

    A function of the group's rows (ascending point index) and its number alone,
    its k-means seeded from ``(1, group)``: every coarse cell can be cut where its
    rows are, in any order, with the same result.

    Parameters
    ----------
    Z_group : ndarray of shape (m, n_dims)
        The points of coarse cell ``group``, in ascending point index.
    group : int
    cell_size : int

    Returns
    -------
    centres : ndarray of shape (ceil(m / cell_size), n_dims)
    cell : ndarray of shape (m,)
        Each row's fine cell, numbered within the group.
    """
    rng = np.random.RandomState([1, group])
    n_fine = -(-Z_group.shape[0] // cell_size)
    sample = np.sort(rng.choice(Z_group.shape[0], min(Z_group.shape[0], _SAMPLE_PER_CELL * n_fine),
                                replace=False))
    centres = lloyd(Z_group[sample], n_fine, rng)  # [k, d]
    return centres, nearest_centre(Z_group, centres)


def first_fine_cells(group_sizes: np.ndarray, cell_size: int) -> np.ndarray:
    r"""Where each coarse cell's fine cells start, numbered coarse cell by coarse cell.

    Parameters
    ----------
    group_sizes : ndarray of shape (n_groups,)
        Points in each (non-empty) coarse cell, in order.
    cell_size : int

    Returns
    -------
    ndarray of shape (n_groups + 1,)
        Coarse cell ``i`` holds fine cells ``[first[i], first[i + 1])``: as many as
        :func:`fine_cells` cuts it into, :math:`\lceil m / \text{cell\_size} \rceil`.
    """
    return np.concatenate([[0], np.cumsum(-(-np.asarray(group_sizes) // cell_size))])


def _cells(Z: np.ndarray, cell_size: int) -> tuple[np.ndarray, np.ndarray, tuple]:
    r"""Centres of cells of about ``cell_size`` points, every point's cell, the coarse cells.

    Two levels of k-means, each fitted on a fixed sample of ``_SAMPLE_PER_CELL``
    points per centre: :math:`\sqrt K` coarse cells over all points
    (:func:`coarse_centres`), then each coarse cell cut into its share of the
    :math:`K` fine cells (:func:`fine_cells`). Fitting and assigning cost
    :math:`O(M \sqrt K d)` instead of :math:`O(M K d)`.
    """
    centres = coarse_centres(Z.shape[0], cell_size, Z.__getitem__)
    order, bounds = group_rows(nearest_centre(Z, centres), centres.shape[0])
    groups = np.flatnonzero(np.diff(bounds))  # the coarse cells that hold points
    first_cell = first_fine_cells(np.diff(bounds)[groups], cell_size)
    cell = np.empty(Z.shape[0], dtype=np.intp)
    fine_centres = []
    for group, first in zip(groups, first_cell[:-1], strict=True):
        rows = order[bounds[group]:bounds[group + 1]]
        group_centres, labels = fine_cells(Z[rows], group, cell_size)
        cell[rows] = labels + first
        fine_centres.append(group_centres)
    return np.concatenate(fine_centres), cell, (centres[groups], first_cell)


def _k_smallest_columns(squared: np.ndarray, k: int) -> np.ndarray:
    r"""Columns of the ``k`` smallest entries of each row of ``squared`` (distances), unordered.

    A partition of packed keys, twice as fast as ``argpartition``: a float
    :math:`\ge +0` read as a signed integer of its width orders as the float does,
    and its column goes in the key's lowest :math:`b = \lceil \log_2 m \rceil` bits,
    so one integer partition yields the columns. Up to ``_PACKED_COLUMN_BITS`` bits
    the column replaces the float's lowest bits (float32: entries within
    :math:`2^{b}` ulps, about :math:`10^{-4}` relative for 1,000 columns, rank by
    column); beyond, a float32's bits are widened to 64 and shifted, and the order
    is exact. Negative entries (squared distances that rounding took below 0)
    read as negative integers: they rank before every entry :math:`\ge 0`, in no
    set order among themselves.
    """
    n_columns = squared.shape[1]
    bits = max(1, (n_columns - 1).bit_length())
    mask = (1 << bits) - 1
    columns = np.arange(n_columns)
    if squared.dtype == np.float32 and bits > _PACKED_COLUMN_BITS:
        keys = squared.view(np.int32).astype(np.int64) << bits  # signed: order kept
    else:
        keys = squared.view(np.int32 if squared.dtype == np.float32 else np.int64) & ~mask
    keys |= columns.astype(keys.dtype)
    keys.partition(k - 1, axis=1)
    return keys[:, :k] & mask


def partitioned_neighbours(
    Z: np.ndarray,
    n_neighbors: int,
    *,
    cell_size: int = DEFAULT_CELL_SIZE,
    n_candidates: int = DEFAULT_N_CANDIDATES,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Approximate :math:`k` nearest neighbours by an inverted-file search (module docstring).

    Parameters
    ----------
    Z : ndarray of shape (n_points, n_dims)
        Finite points, float32 or float64, checked by the caller
        (:func:`~modal_ibal.search.nearest_neighbours` checks every argument).
    n_neighbors : int
        :math:`1 \le k \le` ``n_points``.
    cell_size : int, default=64
        Points per k-means cell, on average: :math:`K = \lceil M / \text{cell\_size}
        \rceil` cells.
    n_candidates : int, default=512
        Candidates compared with each point, at least: the points of the cells
        nearest to its own (by centre), its own first, until there are this many.
        With ``n_candidates >= n_points`` the search is exact.

    Returns
    -------
    neighbours, squared
        As :func:`nearest_neighbours`.

    Notes
    -----
    Deterministic: the k-means sample and start are drawn from a fixed seed, and
    the global random state is left as it was. Candidates are ranked by
    :math:`\lVert z_x\rVert^2 + \lVert z_c\rVert^2 - 2 z_x^\top z_c` (clipped at 0) in
    the points' precision, near-equal ones by their place in the candidate list
    (:func:`_k_smallest_columns`), and the squared distances returned are those
    sums (a point's own is exactly 0). Measured recall and label
    efficiency against the exact search: ``benchmarks/herding_speed.py``.
    """
    n_points, k = Z.shape[0], n_neighbors
    n_candidates = max(n_candidates, k)
    if n_candidates >= n_points or n_points <= cell_size:
        return exact_neighbours(Z, k)
    Z = Z.astype(np.float32 if Z.dtype == np.float32 else np.float64, copy=False)
    centres, cell, coarse = _cells(Z, cell_size)  # [K, d], [M], the coarse cells
    n_cells = centres.shape[0]
    order, bounds = group_rows(cell, n_cells)  # [M]: sorted position -> point; [K + 1]
    sizes = np.diff(bounds)  # [K]
    queries, ranking = search_rows(Z[order])  # each cell's points contiguous
    probes, probe_starts = probe_cells(centres, sizes, n_candidates, cell_size, coarse)
    found_sorted = np.empty((n_points, k), dtype=index_type(n_points, k))  # sorted positions
    squared_sorted = np.empty((n_points, k), dtype=Z.dtype)  # in the products' precision
    homes = np.flatnonzero(sizes)

    def search(first: int) -> None:
        """The neighbours of the points of ``_CELLS_PER_TASK`` home cells."""
        search_cells(homes[first:first + _CELLS_PER_TASK], probes, probe_starts, bounds,
                     queries, ranking, k, found_sorted, squared_sorted)

    run_blocks(search, range(0, len(homes), _CELLS_PER_TASK), blas_workers())
    return neighbours_from_sorted(found_sorted, squared_sorted, order)


def search_rows(Z_sorted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""The two sides of the search's products: ``queries[x] @ ranking[c]`` :math:`= \lVert z_x - z_c\rVert^2`.

    Parameters
    ----------
    Z_sorted : ndarray of shape (m, d), float32 or float64

    Returns
    -------
    queries, ranking : ndarray of shape (m, d + 2), in ``Z_sorted``'s precision
        :func:`query_rows` and :func:`ranking_rows` of the points; each row depends
        on its own point only.
    """
    queries = query_rows(Z_sorted)
    return queries, ranking_rows(queries)


def query_rows(Z: np.ndarray) -> np.ndarray:
    r"""Rows :math:`[z_x, 1, \lVert z_x\rVert^2]` in ``Z``'s precision: one side of :func:`search_rows`."""
    n_points, n_dims = Z.shape
    queries = np.empty((n_points, n_dims + 2), dtype=Z.dtype)
    queries[:, :n_dims] = Z
    queries[:, n_dims] = 1.0
    np.einsum("ij,ij->i", queries[:, :n_dims], queries[:, :n_dims], out=queries[:, n_dims + 1])
    return queries


def ranking_rows(queries: np.ndarray) -> np.ndarray:
    r"""Rows :math:`[-2 z_c, \lVert z_c\rVert^2, 1]` from the points' :func:`query_rows`."""
    n_dims = queries.shape[1] - 2
    ranking = np.empty_like(queries)
    np.multiply(queries[:, :n_dims], -2.0, out=ranking[:, :n_dims])
    ranking[:, n_dims] = queries[:, n_dims + 1]
    ranking[:, n_dims + 1] = 1.0
    return ranking


def search_cells(homes: np.ndarray, probes: np.ndarray, probe_starts: np.ndarray,
                 bounds: np.ndarray, queries: np.ndarray, ranking: np.ndarray, k: int,
                 found: np.ndarray, squared: np.ndarray, *, first: int = 0,
                 positions: np.ndarray | None = None) -> None:
    """Search the points of the cells ``homes`` against their probe cells' points, in place.

    The one loop of the partitioned search, in memory and on a Dask worker.

    Parameters
    ----------
    homes : ndarray of ints
        The cells whose points are searched.
    probes, probe_starts : ndarray
        As :func:`modal_ibal.search._probes.probe_cells` returns them.
    bounds : ndarray of shape (n_cells + 1,)
        Cell ``h`` holds the sorted positions ``bounds[h]:bounds[h + 1]``.
    queries : ndarray of shape (m, d + 2)
        :func:`search_rows` ``queries`` of the sorted positions from ``first`` on.
    ranking : ndarray of shape (r, d + 2)
        :func:`search_rows` ``ranking`` of the sorted positions ``positions``
        (ascending; default all, in order).
    k : int
    found, squared : ndarray of shape (m, k)
        Filled at the homes' rows: the neighbours' sorted positions, and the
        products that ranked them.
    first : int, default=0
        The sorted position of the first row of ``queries``, ``found`` and ``squared``.
    positions : ndarray, optional
    """
    for home in homes:
        cells = probes[probe_starts[home]:probe_starts[home + 1]]  # own cell first
        compared = ranges(bounds[cells], bounds[cells + 1])  # sorted positions
        rows = slice(bounds[home] - first, bounds[home + 1] - first)
        candidates = ranking[compared if positions is None
                             else np.searchsorted(positions, compared)]
        best, squared[rows] = cell_neighbours(queries[rows], candidates, k)
        found[rows] = compared[best]


def cell_neighbours(queries: np.ndarray, candidates: np.ndarray,
                    k: int) -> tuple[np.ndarray, np.ndarray]:
    r"""The ``k`` nearest ``candidates`` of each of one cell's ``queries`` (:func:`search_rows`).

    Parameters
    ----------
    queries : ndarray of shape (b, d + 2)
        The cell's rows of :func:`search_rows` ``queries``.
    candidates : ndarray of shape (m, d + 2)
        Rows of :func:`search_rows` ``ranking``, the cell's own first.
    k : int
        At most ``m``.

    Returns
    -------
    columns : ndarray of shape (b, k)
        The chosen rows of ``candidates``, unordered.
    squared : ndarray of shape (b, k)
        The products that ranked them, :math:`\lVert z_x - z_c\rVert^2` up to rounding.

    Notes
    -----
    The products are taken in blocks of rows from the cell's first, so a cell gets
    the same result wherever it is searched.
    """
    m = candidates.shape[0]
    columns = np.empty((queries.shape[0], k), dtype=np.intp)
    squared_kept = np.empty((queries.shape[0], k), dtype=queries.dtype)
    rows = max(1, _CELL_ELEMENTS // m)
    for start in range(0, queries.shape[0], rows):
        squared = queries[start:start + rows] @ candidates.T  # [b, m]
        best = _k_smallest_columns(squared, k)  # [b, k]
        row_starts = np.arange(squared.shape[0])[:, None] * m  # [b, 1]
        squared_kept[start:start + rows] = squared.ravel()[best + row_starts]
        columns[start:start + rows] = best
    return columns, squared_kept


def neighbours_from_sorted(found_sorted: np.ndarray, squared_sorted: np.ndarray,
                           order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The search's result by point from its result by sorted position (``order``: position -> point).

    Each point is put among its own neighbours (at distance exactly 0) and
    rounding below 0 is clipped; ``found_sorted`` and ``squared_sorted`` are
    changed in place.

    Parameters
    ----------
    found_sorted : ndarray of shape (M, k)
        Sorted positions of each sorted position's neighbours.
    squared_sorted : ndarray of shape (M, k)
    order : ndarray of shape (M,)
        The point at each sorted position.

    Returns
    -------
    neighbours, squared
        As :func:`partitioned_neighbours`.
    """
    n_points, k = found_sorted.shape
    itself = with_self(found_sorted, np.arange(n_points))  # [M, k]
    squared_sorted[itself] = 0.0
    np.maximum(squared_sorted, 0.0, out=squared_sorted)
    neighbours = np.empty((n_points, k), dtype=index_type(n_points, k))
    neighbours[order] = order[found_sorted]
    squared = np.empty((n_points, k))
    squared[order] = squared_sorted
    return neighbours, squared
