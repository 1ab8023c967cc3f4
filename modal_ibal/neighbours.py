r"""The :math:`k` nearest neighbours of every point of a set: exact, or searched by partition.

Kernel herding needs each point's :math:`k` nearest neighbours among all
:math:`M` labelled + pool points. The exact search (``'brute'``) compares every
pair, :math:`O(M^2 d)`: 40 s at 100,000 x 64 on one core. The partitioned search
(``'partitioned'``) is an inverted-file search in the manner of IVF indexes:

1. two levels of k-means (a few Lloyd iterations on a fixed sample) cut the
   points into cells of about ``cell_size`` points;
2. each cell's candidates are the points of the cells whose centres lie nearest
   to its own centre, taken in that order until they number ``n_candidates``;
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

from typing import Any

import numpy as np
from sklearn.neighbors import NearestNeighbors

from ._threads import blas_workers, run_blocks
from ._validation import as_numpy, check_positive_int

__all__ = [
    "ALGORITHMS",
    "DEFAULT_CELL_SIZE",
    "DEFAULT_N_CANDIDATES",
    "EXACT_SEARCH_MAX_POINTS",
    "check_algorithm",
    "check_points",
    "exact_neighbours",
    "group_rows",
    "nearest_centre",
    "nearest_neighbours",
    "partitioned_neighbours",
]

ALGORITHMS = ("auto", "brute", "partitioned")
EXACT_SEARCH_MAX_POINTS = 10_000
DEFAULT_CELL_SIZE = 64
DEFAULT_N_CANDIDATES = 512
_SEARCH_ELEMENTS = 1 << 21  # neighbour coordinates compared per block: 16 MiB of float64
_CELL_ELEMENTS = 1 << 22  # candidate scores held at once for one cell
_SAMPLE_PER_CELL = 32  # k-means is fitted on this many points per centre
_KMEANS_ITERATIONS = 5
_CELLS_PER_TASK = 16  # home cells per thread task
_PACKED_COLUMN_BITS = 11  # float32 keys give up at most this many mantissa bits to the column


def check_algorithm(algorithm) -> str:
    """One of :data:`ALGORITHMS`, else a ValueError naming ``algorithm``."""
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        raise ValueError(
            f"The 'algorithm' parameter must be one of {', '.join(map(repr, ALGORITHMS))}. "
            f"Got {algorithm!r} instead."
        )
    return algorithm


def check_points(Z: Any) -> np.ndarray:
    """Points to search: a non-empty, finite, numeric 2-D array (integers become float64)."""
    Z = as_numpy(Z)
    if Z.ndim != 2 or Z.dtype.kind not in "biuf" or Z.shape[0] == 0:
        raise ValueError(
            "The 'Z' parameter must be a non-empty numeric array of shape (n_samples, n_dims). "
            f"Got dtype {Z.dtype} and shape {Z.shape} instead."
        )
    if not np.isfinite(Z).all():
        raise ValueError("The 'Z' parameter holds NaN or infinite values.")
    return Z if Z.dtype.kind == "f" else Z.astype(np.float64)


def _check_n_neighbors(n_neighbors: Any, n_points: int) -> int:
    k = check_positive_int(n_neighbors, "n_neighbors")
    if k > n_points:
        raise ValueError(
            f"The 'n_neighbors' parameter must be at most the number of points, {n_points}. "
            f"Got {k} instead."
        )
    return k


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
    algorithm = check_algorithm(algorithm)
    if algorithm == "brute" or (algorithm == "auto" and Z.shape[0] <= EXACT_SEARCH_MAX_POINTS):
        return exact_neighbours(Z, n_neighbors)
    return partitioned_neighbours(Z, n_neighbors, cell_size=cell_size,
                                  n_candidates=n_candidates)


def _index_type(n_points: int, n_neighbors: int) -> type:
    """int32 while the graph's entries can be counted in it (scipy's own choice)."""
    return np.int32 if n_points * n_neighbors < np.iinfo(np.int32).max else np.int64


def _with_self(found: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Put each row's own index last where duplicates crowded it out of ``found`` (in place).

    Returns the [b, k] mask of the entries that are the row itself.
    """
    itself = found == own[:, None]  # [b, k]
    missing = np.flatnonzero(~itself.any(axis=1))
    found[missing, -1] = own[missing]
    itself[missing, -1] = True
    return itself


def _squared_distances(exact: np.ndarray, own: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Float64 squared distances of the rows ``own`` to their neighbours ``found``."""
    difference = exact[found] - exact[own, None, :]  # [b, k, d]
    return np.einsum("bkd,bkd->bk", difference, difference)


def exact_neighbours(Z: np.ndarray, n_neighbors: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact :math:`k` nearest neighbours by brute force (see :func:`nearest_neighbours`).

    scikit-learn's ``NearestNeighbors(algorithm='brute')`` (which streams the
    distances in blocks, never :math:`M \times M`), queried in blocks of rows.
    Time :math:`O(M^2 d)`; memory :math:`O(M (k + d))` plus one block.
    """
    Z = check_points(Z)
    n_points = Z.shape[0]
    k = _check_n_neighbors(n_neighbors, n_points)
    search = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(Z)
    exact = Z.astype(np.float64, copy=False)  # [M, d]
    neighbours = np.empty((n_points, k), dtype=_index_type(n_points, k))  # [M, k]
    squared = np.empty((n_points, k))  # [M, k]
    block = max(1, _SEARCH_ELEMENTS // (k * Z.shape[1]))  # query rows per call
    for start in range(0, n_points, block):
        own = np.arange(start, min(start + block, n_points))  # [b]
        found = search.kneighbors(Z[own], return_distance=False)  # [b, k]
        _with_self(found, own)
        squared[own] = _squared_distances(exact, own, found)
        neighbours[own] = found
    return neighbours, squared


def group_rows(labels: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows grouped by label: ``order[bounds[g]:bounds[g + 1]]`` are group ``g``'s, ascending.

    Parameters
    ----------
    labels : ndarray of shape (n_rows,), ints in ``[0, n_groups)``
    n_groups : int

    Returns
    -------
    order : ndarray of shape (n_rows,)
        Row indices sorted by label, stably.
    bounds : ndarray of shape (n_groups + 1,)
        Where each group starts in ``order``.
    """
    order = np.argsort(labels, kind="stable")
    return order, np.searchsorted(labels[order], np.arange(n_groups + 1))


def nearest_centre(X: np.ndarray, centres: np.ndarray, *, block_elements: int = _CELL_ELEMENTS,
                   max_rows: int | None = None) -> np.ndarray:
    r"""Row of ``centres`` nearest to each row of ``X`` (the lower row on ties).

    Ranked by :math:`\lVert c\rVert^2 - 2 x^\top c` in ``centres``' precision (each
    block of ``X`` is cast to it), in blocks of at most ``block_elements`` scores
    and ``max_rows`` rows.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_dims)
    centres : ndarray of shape (n_centres, n_dims), float32 or float64
    block_elements : int, default=4194304
    max_rows : int, optional

    Returns
    -------
    ndarray of shape (n_samples,), intp
    """
    c_norms = np.einsum("ij,ij->i", centres, centres)  # [K]
    rows = max(1, block_elements // max(1, centres.shape[0]))
    if max_rows is not None:
        rows = min(rows, max_rows)
    nearest = np.empty(X.shape[0], dtype=np.intp)
    for start in range(0, X.shape[0], rows):
        scores = X[start:start + rows].astype(centres.dtype, copy=False) @ centres.T  # [b, K]
        scores *= -2.0
        scores += c_norms
        nearest[start:start + rows] = scores.argmin(axis=1)
    return nearest


def _lloyd(X: np.ndarray, n_centres: int, rng: np.random.RandomState) -> np.ndarray:
    """k-means centres of the rows of ``X``: a random start, then a few Lloyd iterations.

    A centre that loses all its points keeps its place.
    """
    centres = X[rng.choice(X.shape[0], n_centres, replace=False)].astype(np.float64)  # [K, d]
    for _ in range(_KMEANS_ITERATIONS):
        nearest = nearest_centre(X, centres.astype(X.dtype))  # [m]
        counts = np.bincount(nearest, minlength=n_centres)  # [K]
        filled = counts > 0
        starts = (np.cumsum(counts) - counts)[filled]  # where each centre's rows begin
        grouped = X[np.argsort(nearest, kind="stable")].astype(np.float64, copy=False)
        centres[filled] = np.add.reduceat(grouped, starts) / counts[filled, None]
    return centres.astype(X.dtype)


def _cells(Z: np.ndarray, cell_size: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Centres of cells of about ``cell_size`` points, and every point's cell.

    Two levels of k-means, each fitted on a fixed sample of ``_SAMPLE_PER_CELL``
    points per centre: :math:`\sqrt K` coarse cells over all points, then each
    coarse cell cut into its share of the :math:`K` fine cells. Fitting and
    assigning cost :math:`O(M \sqrt K d)` instead of :math:`O(M K d)`.
    """
    rng = np.random.RandomState(0)
    n_points = Z.shape[0]
    n_cells = -(-n_points // cell_size)
    n_coarse = int(np.ceil(np.sqrt(n_cells)))
    sample = rng.choice(n_points, min(n_points, _SAMPLE_PER_CELL * n_coarse), replace=False)
    coarse = nearest_centre(Z, _lloyd(Z[np.sort(sample)], n_coarse, rng))  # [M]
    order, bounds = group_rows(coarse, n_coarse)
    centres, cell = [], np.empty(n_points, dtype=np.intp)
    for group in range(n_coarse):
        members = order[bounds[group]:bounds[group + 1]]  # [m]
        if members.size == 0:
            continue
        n_fine = -(-members.size // cell_size)
        sample = members[np.sort(rng.choice(members.size, min(members.size,
                                                               _SAMPLE_PER_CELL * n_fine),
                                            replace=False))]
        fine = _lloyd(Z[sample], n_fine, rng)  # [k, d]
        cell[members] = nearest_centre(Z[members], fine) + sum(map(len, centres))
        centres.append(fine)
    return np.concatenate(centres), cell


def _ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """The concatenated ``arange(start, stop)`` of every pair, in order."""
    lengths = stops - starts
    shift = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    return np.arange(lengths.sum()) + shift


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


def _probe_lists(centres: np.ndarray, n_probes: int,
                 rows: np.ndarray | None = None) -> np.ndarray:
    """For each cell of ``rows`` (default all), the ``n_probes`` cells with the nearest centres.

    Nearest first, the cell itself first; in blocks of rows, so that no
    :math:`K \times K` matrix is held for many cells.
    """
    n_cells = centres.shape[0]
    rows = np.arange(n_cells) if rows is None else rows
    c_norms = np.einsum("ij,ij->i", centres, centres)  # [K]
    step = max(1, _CELL_ELEMENTS // n_cells)
    lists = np.empty((len(rows), n_probes), dtype=np.intp)
    for start in range(0, len(rows), step):
        own = rows[start:start + step]  # [b]
        between = centres[own] @ centres.T  # [b, K]
        between *= -2.0
        between += c_norms
        between[np.arange(len(own)), own] = -np.inf  # its own cell first
        near = (np.argpartition(between, n_probes - 1, axis=1)[:, :n_probes]
                if n_probes < n_cells else np.broadcast_to(np.arange(n_cells), between.shape))
        ranks = np.argsort(np.take_along_axis(between, near, axis=1), axis=1, kind="stable")
        lists[start:start + len(own)] = np.take_along_axis(near, ranks, axis=1)
    return lists


def _probe_cells(centres: np.ndarray, sizes: np.ndarray, n_candidates: int,
                 n_probes: int) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's probe cells, nearest first, until they hold ``n_candidates`` points.

    Returns ``(cells, starts)``: cell ``h`` probes ``cells[starts[h]:starts[h + 1]]``.
    ``n_probes`` nearest cells are listed for every cell; only the cells whose
    lists hold too few points (many empty cells, as exact duplicates make) are
    listed again, with twice as many probes each time, so that memory grows
    with them alone, never to :math:`K \times K`.
    """
    n_cells = len(sizes)
    rows, homes, cells = None, [], []
    while True:
        lists = _probe_lists(centres, n_probes, rows)  # [r, P]
        counts = np.cumsum(sizes[lists], axis=1)  # [r, P]
        done = (counts[:, -1] >= n_candidates) | (n_probes == n_cells)  # [r]
        enough = (counts < n_candidates).sum(axis=1) + 1  # [r]: cells taken per cell
        taken = (np.arange(n_probes) < enough[:, None]) & done[:, None]  # [r, P]
        row, column = np.nonzero(taken)  # row-major: each cell's probes in order
        every = np.arange(n_cells) if rows is None else rows
        homes.append(every[row])
        cells.append(lists[row, column])
        rows = every[~done]
        if rows.size == 0:
            break
        n_probes = min(n_cells, 2 * n_probes)
    order, starts = group_rows(np.concatenate(homes), n_cells)  # each cell's probes in order
    return np.concatenate(cells)[order], starts


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
        Finite points, float32 or float64.
    n_neighbors : int
        :math:`k \le` ``n_points``.
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
    Z = check_points(Z)
    n_points = Z.shape[0]
    k = _check_n_neighbors(n_neighbors, n_points)
    cell_size = check_positive_int(cell_size, "cell_size")
    n_candidates = max(check_positive_int(n_candidates, "n_candidates"), k)
    if n_candidates >= n_points or n_points <= cell_size:
        return exact_neighbours(Z, k)
    Z = Z.astype(np.float32 if Z.dtype == np.float32 else np.float64, copy=False)
    centres, cell = _cells(Z, cell_size)  # [K, d], [M]
    n_cells = centres.shape[0]
    order, bounds = group_rows(cell, n_cells)  # [M]: sorted position -> point; [K + 1]
    sizes = np.diff(bounds)  # [K]
    n_dims = Z.shape[1]
    queries = np.empty((n_points, n_dims + 2), dtype=Z.dtype)  # [M, d + 2]: [z_x, 1, |z_x|^2]
    queries[:, :n_dims] = Z[order]  # each cell's points contiguous
    queries[:, n_dims] = 1.0
    np.einsum("ij,ij->i", queries[:, :n_dims], queries[:, :n_dims], out=queries[:, n_dims + 1])
    ranking = np.empty_like(queries)  # [M, d + 2]: [-2 z_c, |z_c|^2, 1], so that a product of
    np.multiply(queries[:, :n_dims], -2.0, out=ranking[:, :n_dims])  # rows is |z_x - z_c|^2
    ranking[:, n_dims] = queries[:, n_dims + 1]
    ranking[:, n_dims + 1] = 1.0
    probes, probe_starts = _probe_cells(centres, sizes, n_candidates,
                                        min(n_cells, 4 * -(-n_candidates // cell_size)))
    probed_points = np.add.reduceat(sizes[probes], probe_starts[:-1])  # [K]: >= 1 cell each
    found_sorted = np.empty((n_points, k), dtype=_index_type(n_points, k))  # sorted positions
    squared_sorted = np.empty((n_points, k), dtype=Z.dtype)  # in the products' precision
    homes = np.flatnonzero(sizes)

    def search(first: int) -> None:
        """The neighbours of the points of ``_CELLS_PER_TASK`` home cells."""
        task = homes[first:first + _CELLS_PER_TASK]  # [t]
        n_compared = probed_points[task]  # [t]: candidates of each home cell
        cells = probes[_ranges(probe_starts[task], probe_starts[task + 1])]  # own cell first
        positions = _ranges(bounds[cells], bounds[cells + 1])  # [sum of n_compared]
        for home, end, m in zip(task, np.cumsum(n_compared), n_compared, strict=True):
            compared = positions[end - m:end]  # [m]
            candidates = ranking[compared]  # [m, d + 2]
            rows = max(1, _CELL_ELEMENTS // m)
            for start in range(bounds[home], bounds[home + 1], rows):
                stop = min(start + rows, bounds[home + 1])
                squared = queries[start:stop] @ candidates.T  # [b, m]
                best = _k_smallest_columns(squared, k)  # [b, k]
                row_starts = np.arange(stop - start)[:, None] * m  # [b, 1]
                squared_sorted[start:stop] = squared.ravel()[best + row_starts]
                found_sorted[start:stop] = compared[best]

    run_blocks(search, range(0, len(homes), _CELLS_PER_TASK), blas_workers())
    itself = _with_self(found_sorted, np.arange(n_points))  # [M, k]
    squared_sorted[itself] = 0.0
    np.maximum(squared_sorted, 0.0, out=squared_sorted)
    neighbours = np.empty((n_points, k), dtype=_index_type(n_points, k))
    neighbours[order] = order[found_sorted]
    squared = np.empty((n_points, k))
    squared[order] = squared_sorted
    return neighbours, squared
