"""k nearest neighbours by an inverted-file search over k-means cells.

K-means cells, each compared with the points
of its nearest cells only (see :mod:`modal_ibal.search.knn` for the method and its guarantee).
"""

from __future__ import annotations

import numpy as np

from ..utils.threads import blas_workers, run_blocks
from ..utils.validation import check_positive_int
from .kmeans import group_rows, lloyd, nearest_centre
from .knn_exact import check_n_neighbors, check_points, exact_neighbours, index_type, with_self

__all__ = ["DEFAULT_CELL_SIZE", "DEFAULT_N_CANDIDATES", "partitioned_neighbours"]

DEFAULT_CELL_SIZE = 64
DEFAULT_N_CANDIDATES = 512
_CELL_ELEMENTS = 1 << 22  # candidate scores held at once for one cell
_SAMPLE_PER_CELL = 32  # k-means is fitted on this many points per centre
_CELLS_PER_TASK = 16  # home cells per thread task
_PACKED_COLUMN_BITS = 11  # float32 keys give up at most this many mantissa bits to the column


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
    coarse = nearest_centre(Z, lloyd(Z[np.sort(sample)], n_coarse, rng))  # [M]
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
        fine = lloyd(Z[sample], n_fine, rng)  # [k, d]
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
    k = check_n_neighbors(n_neighbors, n_points)
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
    found_sorted = np.empty((n_points, k), dtype=index_type(n_points, k))  # sorted positions
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
    itself = with_self(found_sorted, np.arange(n_points))  # [M, k]
    squared_sorted[itself] = 0.0
    np.maximum(squared_sorted, 0.0, out=squared_sorted)
    neighbours = np.empty((n_points, k), dtype=index_type(n_points, k))
    neighbours[order] = order[found_sorted]
    squared = np.empty((n_points, k))
    squared[order] = squared_sorted
    return neighbours, squared
