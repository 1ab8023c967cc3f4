r"""The partitioned k-nearest-neighbour search on a Dask array: cells and candidates on the workers.

The inverted-file search of :func:`modal_ibal.search._knn_partitioned.partitioned_neighbours`,
split where its work lies, with the same cells, candidates and products, so the neighbours
found are the in-memory search's:

1. the coarse k-means centres are fitted here on a fixed sample of rows (the
   only rows read into this process), and every point is assigned to its nearest
   centre on the worker that holds it (a map);
2. the points are shuffled by coarse cell (``dask.array.shuffle``), so that every
   coarse cell is whole on one worker, where it is cut into its fine cells and
   its rows sorted by fine cell;
3. the fine centres (:math:`K \times d`) come here, where each cell's probe list
   is made; each block of home cells is then searched on a worker against the
   rows of its probe cells, fetched from the blocks that hold them (a second
   shuffle, of candidate rows only);
4. only the :math:`M \times k` neighbours and squared distances come back.

Memory in the calling process: a few point-length index arrays (each point's
coarse and fine cell, the orders they sort into) and the shuffle's lists of point
indices, about 70 bytes a point; the fine centres; and the result, :math:`O(M k)`.
The workers hold the points twice (as given and sorted by cell) while the search
runs. On a ``distributed`` cluster the points stay on the workers; with Dask's
local threaded scheduler "the workers" are threads of the calling process, so
it holds those two copies too.

An exact search (every point a candidate of every other: ``n_neighbors`` or
``n_candidates`` at least the number of points, or all points in one cell) has no
cells to spread: it brings the points to the calling process and builds
:math:`M \times M` arrays there. It is refused above :data:`GATHER_MAX_POINTS`
(10,000, the in-memory exact search's limit), before any chunk is computed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._utils.dask_waits import computed, running_client
from .._utils.threads import one_blas_thread
from .._utils.validation import check_positive_int, is_dask_array
from ._kmeans import group_rows, nearest_centre
from ._knn import EXACT_SEARCH_MAX_POINTS, searches_exactly
from ._knn_exact import check_n_neighbors, exact_neighbours, index_type
from ._knn_partitioned import (
    DEFAULT_CELL_SIZE,
    DEFAULT_N_CANDIDATES,
    coarse_centres,
    fine_cells,
    first_fine_cells,
    neighbours_from_sorted,
    query_rows,
    ranking_rows,
    search_cells,
)
from ._probes import probe_cells, ranges

__all__ = [
    "GATHER_MAX_POINTS",
    "check_dask_search",
    "check_gathered",
    "dask_partitioned_neighbours",
    "searches_here",
]

_BLOCKS_PER_BATCH = 8  # search results brought here at once (at least): only theirs are held twice

GATHER_MAX_POINTS = EXACT_SEARCH_MAX_POINTS
"""The most points of a Dask array an exact neighbour search brings to the calling process."""


def searches_here(n_points: int, n_neighbors: int, *, cell_size: int = DEFAULT_CELL_SIZE,
                  n_candidates: int = DEFAULT_N_CANDIDATES) -> bool:
    """Whether the search of ``n_points`` points is exact, on points brought to this process.

    So it is when every point is a candidate of every other (``n_neighbors`` or
    ``n_candidates`` at least ``n_points``), or when the points fit in one cell.
    """
    return max(n_neighbors, n_candidates) >= n_points or n_points <= cell_size


def check_gathered(n_points: int, n_neighbors: int, *, cell_size: int = DEFAULT_CELL_SIZE,
                   n_candidates: int = DEFAULT_N_CANDIDATES) -> None:
    """Refuse an exact search of more than :data:`GATHER_MAX_POINTS` points of a Dask array.

    Parameters
    ----------
    n_points : int
    n_neighbors, cell_size, n_candidates : int
        As :func:`dask_partitioned_neighbours` takes them, checked.

    Raises
    ------
    ValueError
        Naming the parameter that makes the search exact (:func:`searches_here`)
        and what to pass instead.
    """
    if n_points <= GATHER_MAX_POINTS or not searches_here(
            n_points, n_neighbors, cell_size=cell_size, n_candidates=n_candidates):
        return
    if n_neighbors >= n_points:
        name, value, why, default = ("n_neighbors", n_neighbors, "is at least the number of "
                                     "points", "kernel herding's default is 20")
    elif n_candidates >= n_points:
        name, value, why, default = ("n_candidates", n_candidates, "is at least the number of "
                                     "points", f"the default is {DEFAULT_N_CANDIDATES}")
    else:
        name, value, why, default = ("cell_size", cell_size, "puts every point in one cell",
                                     f"the default is {DEFAULT_CELL_SIZE}")
    raise ValueError(
        f"The '{name}' parameter ({value}) {why}, {n_points:,}: the neighbour search would be "
        f"exact, bringing every point of the Dask array to this process and building "
        f"{n_points:,} x {n_points:,} arrays there, which is allowed up to "
        f"{GATHER_MAX_POINTS:,} points. Pass a smaller {name} ({default}) to search on the "
        "workers."
    )


def check_dask_search(algorithm: str, n_neighbors: int, n_points: int) -> None:
    """Refuse a search of a Dask array's neighbours that would bring its codes to this process.

    An exact search (``algorithm``, as :func:`~modal_ibal.search.nearest_neighbours`
    takes it, or a partitioned search that has no cells to spread) is allowed on
    up to :data:`GATHER_MAX_POINTS` points. ``algorithm`` and ``n_neighbors``
    come checked; ``n_points`` counts the labelled and pool points.

    Raises
    ------
    ValueError
        Naming the parameter that makes the search exact and what to pass instead.
    """
    limit = GATHER_MAX_POINTS  # read at call time: one limit for both checks
    if not searches_exactly(algorithm, n_points):
        check_gathered(n_points, min(n_neighbors, n_points))
    elif n_points > limit:
        raise ValueError(
            f"The 'algorithm' parameter ({algorithm!r}) searches the neighbours exactly, on "
            "every code brought to this process: with a Dask pool that is allowed up to "
            f"{limit:,} labelled + pool points. Got {n_points:,} points instead; pass "
            f"algorithm='partitioned' (what 'auto' chooses above {EXACT_SEARCH_MAX_POINTS:,} "
            "points) to search on the workers."
        )


def _assign(block: np.ndarray, centres: np.ndarray, block_info=None) -> np.ndarray:
    """Each row's nearest coarse centre, after checking that the rows are finite."""
    if not np.isfinite(block).all():
        start, stop = block_info[0]["array-location"][0]
        raise ValueError(
            f"The 'Z' parameter holds NaN or infinite values in rows {start} to {stop - 1}."
        )
    with one_blas_thread():
        return nearest_centre(block, centres)


def _check_dask_points(Z):
    """A 2-D Dask array of finite numbers (checked on the workers), in float, one column chunk."""
    if not is_dask_array(Z):
        raise TypeError(
            f"The 'Z' parameter must be a dask.array.Array. Got {type(Z).__name__} instead; "
            "search an in-memory array with modal_ibal.search.nearest_neighbours."
        )
    if Z.ndim != 2 or Z.dtype.kind not in "iuf":
        raise ValueError(
            "The 'Z' parameter must be a 2-D array of numbers, one row per point. Got shape "
            f"{Z.shape} and dtype {Z.dtype} instead."
        )
    if Z.shape[0] == 0 or any(np.isnan(size) for size in Z.chunks[0]):
        raise ValueError(
            "The 'Z' parameter must hold at least one point, in row chunks of known sizes "
            "(call Z.compute_chunk_sizes() after boolean indexing)."
        )
    Z = Z.rechunk({1: -1}) if len(Z.chunks[1]) > 1 else Z
    return Z if Z.dtype.kind == "f" else Z.astype(np.float64)


def _results_at_once() -> int:
    """How many blocks' search results to bring here at once: enough to keep every thread busy."""
    client = running_client()
    threads = 0 if client is None else sum(client.nthreads().values())
    return max(_BLOCKS_PER_BATCH, 2 * threads)


def _cut_block(block: np.ndarray, groups: np.ndarray, bounds: np.ndarray, offsets: np.ndarray,
               cell_size: int) -> tuple[tuple[list[np.ndarray], np.ndarray], np.ndarray]:
    """Cut the coarse cells of one shuffled block into fine cells; sort its rows by fine cell.

    ``block[bounds[i]:bounds[i + 1]]`` are coarse cell ``groups[i]``'s rows; its fine
    cells are numbered from ``offsets[i]``. Returns ((fine centres per coarse cell,
    every row's fine cell), the rows sorted by fine cell, stably).
    """
    with one_blas_thread():
        centres, labels = [], []
        for i, group in enumerate(groups):
            fine, cell = fine_cells(block[bounds[i]:bounds[i + 1]], int(group),
                                    cell_size)
            centres.append(fine)
            labels.append(cell + offsets[i])
    labels = np.concatenate(labels)
    return (centres, labels), block[np.argsort(labels, kind="stable")]


def _rows_of_cells(sorted_block: np.ndarray, first: int, cells: np.ndarray,
                   cell_bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted positions, rows) of the points of ``cells`` in a block that starts at ``first``."""
    positions = ranges(cell_bounds[cells], cell_bounds[cells + 1])
    return positions, sorted_block[positions - first]


def _search_block(sorted_block: np.ndarray, first: int, homes: np.ndarray, probes: np.ndarray,
                  probe_starts: np.ndarray, cell_bounds: np.ndarray, pieces: list,
                  k: int) -> tuple[np.ndarray, np.ndarray]:
    """The neighbours (sorted positions) and squared distances of one block's points.

    ``homes`` are the block's cells, whose rows ``sorted_block`` holds from sorted
    position ``first`` on, and ``pieces`` the (positions, rows) of every cell they
    probe, in ascending positions.
    """
    queries = query_rows(sorted_block)
    ranking = ranking_rows(query_rows(np.concatenate([piece[1] for piece in pieces])))
    found = np.empty((sorted_block.shape[0], k), dtype=index_type(cell_bounds[-1], k))
    squared = np.empty((sorted_block.shape[0], k), dtype=sorted_block.dtype)
    with one_blas_thread():
        search_cells(homes, probes, probe_starts, cell_bounds, queries, ranking, k, found,
                     squared, first=first,
                     positions=np.concatenate([piece[0] for piece in pieces]))
    return found, squared


def _group_blocks(chunk_sizes: tuple[int, ...], group_sizes: np.ndarray) -> list[np.ndarray]:
    """The coarse cells in each block of the shuffled array (blocks never split a cell)."""
    ends = np.cumsum(group_sizes)
    block_ends = np.cumsum(chunk_sizes)
    last = np.searchsorted(ends, block_ends) + 1  # groups up to and including the block's end
    first = np.concatenate([[0], last[:-1]])
    return [np.arange(a, b) for a, b in zip(first, last, strict=True)]


def dask_partitioned_neighbours(
    Z,
    n_neighbors: int,
    *,
    cell_size: int = DEFAULT_CELL_SIZE,
    n_candidates: int = DEFAULT_N_CANDIDATES,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Each point's :math:`k` nearest neighbours among the rows of a Dask array, by partition.

    Parameters
    ----------
    Z : dask.array.Array of shape (n_points, n_dims)
        Finite points, float32 or float64, chunked along rows only.
    n_neighbors : int
        :math:`k \le` ``n_points``.
    cell_size, n_candidates : int
        As :func:`modal_ibal.search._knn_partitioned.partitioned_neighbours`.

    Returns
    -------
    neighbours : ndarray of shape (n_points, n_neighbors)
    squared : ndarray of shape (n_points, n_neighbors), float64
        As :func:`modal_ibal.search._knn_partitioned.partitioned_neighbours` on the
        computed array: the same cells (the coarse k-means on the same sample,
        each coarse cell cut by the same seeded k-means), the same candidate
        lists in the same order and the same products, so the same neighbours,
        unless a point's nearest centre is a near tie that BLAS rounds
        differently in a block of another shape.

    Raises
    ------
    TypeError
        If ``Z`` is not a Dask array.
    ValueError
        If ``Z`` is not 2-D numbers, has no rows, unknown row chunks, or values
        that are not finite (found on the workers), or ``n_neighbors`` exceeds
        the points; or the search would be exact on more than
        :data:`GATHER_MAX_POINTS` points (:func:`check_gathered`), before any
        chunk is computed.

    Notes
    -----
    Up to ``cell_size`` points, or ``n_candidates`` or ``n_neighbors`` at least
    the points, the search is exact and the points are gathered here: allowed up
    to :data:`GATHER_MAX_POINTS` (10,000) points, refused above. Otherwise the
    points stay with the workers, which on Dask's local threaded scheduler are
    threads of this process: it then holds them, twice while the search runs.
    ``Z`` is read three times (a sample, the assignment to coarse cells, the
    shuffle): persist it first when it is costly to compute, as
    :func:`modal_ibal.strategies._dask_herding.dask_herding_query` does with the codes.
    A coarse cell is never split, so one holding many more points than the
    others (e.g. many exact duplicates) becomes one large block, searched by one
    task.
    """
    Z = _check_dask_points(Z)
    n_points = int(Z.shape[0])
    k = check_n_neighbors(n_neighbors, n_points)
    cell_size = check_positive_int(cell_size, "cell_size")
    n_candidates = check_positive_int(n_candidates, "n_candidates")
    check_gathered(n_points, k, cell_size=cell_size, n_candidates=n_candidates)
    if searches_here(n_points, k, cell_size=cell_size, n_candidates=n_candidates):
        return exact_neighbours(computed(Z), k)
    n_candidates = max(n_candidates, k)
    cells = _shuffled_cells(Z, cell_size)
    probes = probe_cells(cells.centres, np.diff(cells.bounds), n_candidates, cell_size,
                         cells.coarse)
    found_sorted = np.empty((n_points, k), dtype=index_type(n_points, k))
    squared_sorted = np.empty((n_points, k), dtype=Z.dtype)
    searches = _block_searches(cells, *probes, k)
    at_once = _results_at_once()
    for batch in range(0, len(searches), at_once):  # only a few blocks' results held twice
        results = computed(searches[batch:batch + at_once])
        for b, (found, squared) in enumerate(results, start=batch):
            rows = slice(cells.block_first[b], cells.block_first[b] + found.shape[0])
            found_sorted[rows], squared_sorted[rows] = found, squared
        del results
    return neighbours_from_sorted(found_sorted, squared_sorted, cells.order)


@dataclass
class _ShuffledCells:
    """The fine cells of a Dask array, its rows on the workers sorted by cell, block by block.

    Sorted position ``p`` is point ``order[p]``; cell ``h`` holds the sorted positions
    ``bounds[h]:bounds[h + 1]``; block ``b`` (``sorted_blocks[b]``, on a worker) holds
    the cells ``block_cells[b]`` from sorted position ``block_first[b]`` on.
    """

    centres: np.ndarray  # [K, d]
    bounds: np.ndarray  # [K + 1]
    order: np.ndarray  # [M]
    coarse: tuple[np.ndarray, np.ndarray]  # coarse centres, each one's first fine cell
    sorted_blocks: list
    block_cells: list[np.ndarray]
    block_first: np.ndarray


def _shuffled_cells(Z, cell_size: int) -> _ShuffledCells:
    """Coarse cells fitted here and assigned on the workers, cut into fine cells where they are."""
    import dask

    n_points = int(Z.shape[0])
    centres = coarse_centres(n_points, cell_size, lambda rows: computed(Z[rows]))  # [G, d]
    coarse = computed(Z.map_blocks(_assign, centres, drop_axis=1, dtype=np.intp))  # [M]
    order, bounds = group_rows(coarse, centres.shape[0])
    del coarse
    groups = np.flatnonzero(np.diff(bounds))  # the coarse cells that hold points
    group_sizes = np.diff(bounds)[groups]
    first_cell = first_fine_cells(group_sizes, cell_size)  # [G + 1]
    largest = int(group_sizes.max())
    if largest > max(Z.chunks[0]):
        # Dask's shuffle cuts columns when a coarse cell outgrows the input's chunks, and
        # (dask 2026.8) the graph it makes then fails; chunks as large as the largest cell
        Z = Z.rechunk({0: largest})
    shuffled = Z.shuffle([order[bounds[g]:bounds[g + 1]].tolist() for g in groups], axis=0)
    shuffled = shuffled.rechunk({1: -1})  # the shuffle may cut columns to bound a chunk's size
    blocks = [(block, members) for block, members in zip(
        shuffled.to_delayed().ravel(), _group_blocks(shuffled.chunks[0], group_sizes),
        strict=True) if members.size]  # an empty chunk holds no cell
    cut = [dask.delayed(_cut_block, nout=2)(
        block, groups[members], np.concatenate([[0], np.cumsum(group_sizes[members])]),
        first_cell[members], cell_size) for block, members in blocks]
    persisted = dask.persist(*[part[0] for part in cut], *[part[1] for part in cut])
    fine = computed(list(persisted[:len(cut)]))  # [(centres per coarse cell, labels)] per block
    cell = np.empty(n_points, dtype=np.intp)
    cell[order] = np.concatenate([labels for _, labels in fine])
    fine_centres = np.concatenate([c for block_centres, _ in fine for c in block_centres])
    n_cells = fine_centres.shape[0]
    sorted_order, cell_bounds = group_rows(cell, n_cells)  # sorted position -> point
    block_cells = [np.arange(first_cell[m[0]], first_cell[m[-1] + 1]) for _, m in blocks]
    return _ShuffledCells(fine_centres, cell_bounds, sorted_order,
                          (centres[groups], first_cell),
                          list(persisted[len(cut):]), block_cells,
                          cell_bounds[[cells[0] for cells in block_cells]])


def _block_searches(cells: _ShuffledCells, probes: np.ndarray, probe_starts: np.ndarray,
                    k: int) -> list:
    """One delayed search per block: its cells against the rows of their probe cells."""
    import dask

    block_of_cell = np.repeat(np.arange(len(cells.block_cells)),
                              [len(homes) for homes in cells.block_cells])
    shared_bounds = dask.delayed(cells.bounds)
    shared_probes = dask.delayed(probes), dask.delayed(probe_starts)  # in the graph once
    searches = []
    for b, homes in enumerate(cells.block_cells):
        lists = probes[probe_starts[homes[0]]:probe_starts[homes[-1] + 1]]
        needed = np.unique(lists)
        owners = block_of_cell[needed]
        pieces = [dask.delayed(_rows_of_cells)(cells.sorted_blocks[s], cells.block_first[s],
                                               needed[owners == s], shared_bounds)
                  for s in np.unique(owners)]
        searches.append(dask.delayed(_search_block, nout=2)(
            cells.sorted_blocks[b], cells.block_first[b], homes, *shared_probes,
            shared_bounds, pieces, k))
    return searches
