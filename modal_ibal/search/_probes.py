r"""Which cells each cell of the partitioned neighbour search compares its points with.

Every cell probes the cells whose k-means centres lie nearest to its own, its own
first, until they hold enough candidates (:func:`probe_cells`); shared by the
in-memory search (:mod:`modal_ibal.search._knn_partitioned`) and the Dask one.
"""

from __future__ import annotations

import numpy as np

from ._kmeans import group_rows

__all__ = ["probe_cells", "ranges"]

_SCORES_AT_ONCE = 1 << 22  # centre-to-centre scores held at once
_ALL_PAIRS_MAX_CELLS = 1 << 14  # up to this many cells, probe lists compare every pair
_NEAR_COARSE = 32  # above, a cell's probes are chosen in this many nearby coarse cells


def ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """The concatenated ``arange(start, stop)`` of every pair, in order, without a Python loop.

    Parameters
    ----------
    starts, stops : ndarray of shape (n,), ints with ``stops >= starts``

    Returns
    -------
    ndarray of shape (sum(stops - starts),)
    """
    lengths = stops - starts
    shift = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    return np.arange(lengths.sum()) + shift


def _probe_lists(centres: np.ndarray, n_probes: int, rows: np.ndarray | None = None,
                 among: np.ndarray | None = None) -> np.ndarray:
    """For each cell of ``rows`` (default all), the ``n_probes`` cells with the nearest centres.

    Chosen among the cells ``among`` (ascending, holding ``rows``; default all);
    nearest first, the cell itself first; in blocks of rows, so that no
    :math:`K \times K` matrix is held for many cells.
    """
    rows = np.arange(centres.shape[0]) if rows is None else rows
    among = np.arange(centres.shape[0]) if among is None else among
    others = centres[among]  # [A, d]
    c_norms = np.einsum("ij,ij->i", others, others)  # [A]
    n_probes = min(n_probes, len(among))
    step = max(1, _SCORES_AT_ONCE // len(among))
    lists = np.empty((len(rows), n_probes), dtype=np.intp)
    for start in range(0, len(rows), step):
        own = rows[start:start + step]  # [b]
        between = centres[own] @ others.T  # [b, A]
        between *= -2.0
        between += c_norms
        between[np.arange(len(own)), np.searchsorted(among, own)] = -np.inf  # own cell first
        near = _smallest_columns(between, n_probes)  # [b, P]
        ranks = np.argsort(np.take_along_axis(between, near, axis=1), axis=1, kind="stable")
        lists[start:start + len(own)] = among[np.take_along_axis(near, ranks, axis=1)]
    return lists


def _smallest_columns(values: np.ndarray, n: int) -> np.ndarray:
    """The columns of each row's ``n`` smallest values, ascending; equal values to the lower column.

    ``argpartition`` leaves the choice among equal values to its algorithm, which
    differs between numpy's SIMD builds (AVX-512, AVX2): cells whose centres are
    equally near (the empty copies of duplicated points) would then be probed on
    one CPU and not on another. Here the ``n``-th smallest value of each row is
    found first; every column below it is taken, and the lowest columns at it.
    """
    if n >= values.shape[1]:
        return np.broadcast_to(np.arange(values.shape[1]), values.shape)
    threshold = np.partition(values, n - 1, axis=1)[:, n - 1:n]  # [b, 1]
    below = values < threshold  # [b, A]
    at = values == threshold  # [b, A]
    room = n - below.sum(axis=1, keepdims=True)  # [b, 1]
    taken = below | (at & (np.cumsum(at, axis=1, dtype=np.int32) <= room))  # [b, A]: n per row
    return np.nonzero(taken)[1].reshape(values.shape[0], n)  # row-major: ascending columns


def _first_probe_lists(centres: np.ndarray, n_probes: int,
                       coarse: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    r"""Every cell's ``n_probes`` nearest cells: among all cells, or among nearby coarse cells.

    Up to ``_ALL_PAIRS_MAX_CELLS`` cells (1,048,576 points at 64 a cell) every
    pair of centres is compared, :math:`O(K^2 d)`. Above, ``coarse`` (the coarse
    centres and where each coarse cell's fine cells start) limits a cell's choice
    to the fine cells of the ``_NEAR_COARSE`` coarse cells nearest to its own,
    :math:`O(K^{3/2} d)`: at 10,000,000 points all pairs would take about 450 s. On
    400,000 noisy digits rows, forced below its threshold, this choice found as
    many true neighbours as all pairs (recall 0.9998 for both; 0.9970 with 8 coarse
    cells, 0.9990 with 16).
    """
    n_cells = centres.shape[0]
    if coarse is None or n_cells <= _ALL_PAIRS_MAX_CELLS:
        return _probe_lists(centres, n_probes)
    coarse_centres, first_cell = coarse
    nearby = _probe_lists(coarse_centres, _NEAR_COARSE)  # [G, c]: itself first
    lists = np.empty((n_cells, n_probes), dtype=np.intp)
    for group, groups in enumerate(nearby):
        own = np.arange(first_cell[group], first_cell[group + 1])
        among = np.sort(ranges(first_cell[groups], first_cell[groups + 1]))
        lists[own] = _probe_lists(centres, n_probes, own,
                                  among if len(among) >= n_probes else None)
    return lists


def probe_cells(centres: np.ndarray, sizes: np.ndarray, n_candidates: int, cell_size: int,
                coarse: tuple[np.ndarray, np.ndarray] | None = None,
                ) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's probe cells, nearest first, until they hold ``n_candidates`` points.

    Parameters
    ----------
    centres : ndarray of shape (n_cells, n_dims)
    sizes : ndarray of shape (n_cells,)
        Points per cell.
    n_candidates, cell_size : int
        As :func:`modal_ibal.search._knn_partitioned.partitioned_neighbours`.
    coarse : (ndarray of shape (n_coarse, n_dims), ndarray of shape (n_coarse + 1,)), optional
        The coarse centres and where each coarse cell's fine cells start (fine
        cells numbered coarse cell by coarse cell); used above
        ``_ALL_PAIRS_MAX_CELLS`` cells.

    Returns
    -------
    cells, starts : ndarray
        Cell ``h`` probes ``cells[starts[h]:starts[h + 1]]``, itself first.

    Notes
    -----
    The ``4 * ceil(n_candidates / cell_size)`` nearest cells are listed for every
    cell (:func:`_first_probe_lists`); only the cells whose lists hold too few points (many empty cells, as exact
    duplicates make) are listed again, among all cells, with twice as many probes
    each time, so that memory grows with them alone, never to :math:`K \times K`.
    """
    n_cells = len(sizes)
    n_probes = min(n_cells, 4 * -(-n_candidates // cell_size))
    rows, homes, cells = None, [], []
    lists = _first_probe_lists(centres, n_probes, coarse)  # [K, P]
    while True:
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
        lists = _probe_lists(centres, n_probes, rows)  # [r, P]
    order, starts = group_rows(np.concatenate(homes), n_cells)  # each cell's probes in order
    return np.concatenate(cells)[order], starts
