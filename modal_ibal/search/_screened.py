"""The exact nearest-labelled search's block kernel: float32 screen, float64 check.

Float32 products screen the candidates, and float64 re-checks settle every pool row whose
float32 winner is not proven, so the result is that of the float64 double loop; optionally
cell by cell (:mod:`modal_ibal.search._cells`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from .._utils.threads import blas_workers, run_blocks
from ._cells import LabelledCells, uses_cells
from ._kmeans import group_rows

__all__ = [
    "DEFAULT_BLOCK_ELEMENTS",
    "find_nearest",
    "search_nearest",
    "search_nearest_in_cells",
]

DEFAULT_BLOCK_ELEMENTS = 1 << 22  # 4M float32 = 16 MiB of candidate scores over all threads
_THREAD_ELEMENTS = 1 << 18  # scores one thread holds at once: 1 MiB, stays in its L2 cache
_MIN_PRODUCT_ROWS = 64  # pool rows a product holds at least when the labelled set is cut
_MAX_BLOCK_ROWS = 2048  # pool rows per task: temporaries of a few MiB, warm caches
_MERGE_ELEMENTS = 1 << 16  # per-chunk winners a block keeps before merging them
_PAIR_ELEMENTS = 1 << 20  # float64 differences formed at once when re-checking candidates
_U32 = 2.0**-24  # unit roundoff of float32
_U64 = 2.0**-53  # unit roundoff of float64
_FAR = 2.0**100  # a larger (|x_i| + R)^2 could overflow float32: such rows are not screened
_UNDERFLOW = 2.0**-90  # absolute float32 underflow error, far above its worst case
_SUBNORMAL = 2.0**-1074  # float64's smallest subnormal: a subnormal square is off by half of it


@dataclass(frozen=True)
class _Screen:
    """The labelled side of the search, shifted, scaled and ready for float32 screening."""

    codes: np.ndarray  # [n, k] float64, for the exact distances
    center: np.ndarray  # [k] in the pool's working dtype
    scale: float  # a power of two
    radius: float  # max_t |y_t|, scaled: in [1/2, 1), or 0 when all labelled rows are equal
    ranking: np.ndarray  # [n, k+1] float32 rows [-2 y_t, |y_t|^2]
    relative: float  # E_i + F_i per (|x_i| + R)^2, with room to spare
    norm_error: float  # relative error of the float32 squared norm of x_i
    absolute: float  # float32 underflow, and float64 squares rounded to subnormals (scaled)


def _build_screen(Z_labelled: np.ndarray, work: np.dtype) -> _Screen:
    """Prepare the labelled codes for pool rows handled in ``work`` (float32 or float64)."""
    codes = Z_labelled.astype(np.float64)  # [n, k]
    # the mid-range: equal rows give radius 0; any centre is exact for distances
    center = (0.5 * codes.min(axis=0) + 0.5 * codes.max(axis=0)).astype(work)  # [k]
    shifted = codes - center  # [n, k]
    radius, exponent = _largest_norm(shifted)  # max_t |z_t - c| = radius * 2**exponent
    limit = 100 if work == np.float32 else 1000  # the scale stays a normal number of ``work``
    shift = -int(np.clip(np.frexp(radius)[1] + exponent, -limit, limit))
    scale = float(np.ldexp(1.0, shift))
    y = (shifted * scale).astype(np.float32)  # [n, k]
    norms = (y.astype(np.float64) ** 2).sum(axis=1, keepdims=True)  # [n, 1]
    ranking = np.hstack([-2.0 * y, norms.astype(np.float32)])  # [n, k+1]
    k = codes.shape[1]
    relative = 1.25 * ((2 * k + 12) * _U32 + (k + 6) * _U64)
    # a float64 square rounded to a subnormal is off by up to 2**-1075, not relatively
    absolute = _UNDERFLOW + (k + 1) * _SUBNORMAL * scale * scale
    return _Screen(codes, center, scale, float(np.ldexp(radius, exponent + shift)), ranking,
                   relative, 1.25 * (k + 4) * _U32, absolute)


def _largest_norm(rows: np.ndarray) -> tuple[float, int]:
    """The largest Euclidean norm of ``rows`` [n, k] as ``(m, e)``, norm ``m * 2**e``.

    The squares are summed at the power of two of the largest entry, where they can
    neither overflow (codes beyond 1e154) nor lose bits to subnormals (below 1e-154).
    """
    exponent = int(np.frexp(np.abs(rows).max(initial=0.0))[1])
    return float(np.sqrt((np.ldexp(rows, -exponent) ** 2).sum(axis=1).max())), exponent


def _squared_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise float64 squared distance; the one formula behind every returned distance."""
    difference = a - b  # [p, k]
    return np.square(difference, out=difference).sum(axis=1)  # [p]


@dataclass(frozen=True)
class _Plan:
    """How the search is cut: one product is ``rows`` pool rows x ``chunk`` labelled rows."""

    chunk: int  # labelled rows per product
    rows: int  # pool rows per product
    block: int  # pool rows per task, a multiple of ``rows``: per-row work is vectorised over it

    @classmethod
    def make(cls, n_labelled: int, block_elements: int, n_workers: int) -> _Plan:
        per_worker = max(1, min(block_elements // n_workers, _THREAD_ELEMENTS))
        n_chunks = -(-n_labelled // max(1, per_worker // _MIN_PRODUCT_ROWS))
        chunk = -(-n_labelled // n_chunks)  # balanced chunks
        rows = max(1, min(_MAX_BLOCK_ROWS, per_worker // chunk))
        block = rows * max(1, min(_MAX_BLOCK_ROWS, _MERGE_ELEMENTS // n_chunks) // rows)
        return cls(chunk, rows, block)


def find_nearest(Z_pool: np.ndarray, Z_labelled: np.ndarray, block_elements: int, *,
                 cells: LabelledCells | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Nearest labelled row and float64 squared distance of every pool row (checked inputs).

    Exactly :func:`search_nearest`'s result; with at least
    ``MIN_LABELLED_FOR_CELLS`` labelled and ``MIN_POOL_FOR_CELLS`` pool rows the
    search goes cell by cell (:func:`search_nearest_in_cells`), over ``cells``
    when they are given (built once for many searches), else over new ones.
    """
    if uses_cells(Z_pool.shape[0], Z_labelled.shape[0]) and Z_pool.shape[1] > 0:
        return search_nearest_in_cells(Z_pool, Z_labelled, block_elements, cells=cells)
    return search_nearest(Z_pool, Z_labelled, block_elements)


def search_nearest_in_cells(Z_pool: np.ndarray, Z_labelled: np.ndarray, block_elements: int,
                            *, cells: LabelledCells | None = None
                            ) -> tuple[np.ndarray, np.ndarray]:
    r""":func:`search_nearest` over :class:`~modal_ibal.search.LabelledCells`.

    Pool rows are grouped by their home cell (nearest centre). Each group is
    searched against its home cell's labelled rows, which bounds each row's
    distance :math:`u_i`; then against the labelled rows of every cell that may
    hold a point within :math:`u_i` of one of the group's rows, with those
    :math:`u_i` as ``known`` bounds. A cell left out has every point strictly
    farther than :math:`u_i`, so the nearer result of the two searches (the lower
    labelled row on ties) is that of :func:`search_nearest` over all labelled rows.
    ``cells`` must be ``LabelledCells(Z_labelled)``; built here when not given.
    """
    cells = LabelledCells(Z_labelled) if cells is None else cells
    home = cells.home(Z_pool)  # [N]
    order, bounds = group_rows(home, cells.n_cells)
    nearest = np.empty(Z_pool.shape[0], dtype=np.intp)
    squared = np.empty(Z_pool.shape[0])
    for cell in np.flatnonzero(np.diff(bounds)):
        rows = order[bounds[cell]:bounds[cell + 1]]  # [r]
        block = Z_pool[rows]
        own = cells.members[cell]
        found, found_squared = search_nearest(block, Z_labelled[own], block_elements)
        found = own[found]
        others = np.setdiff1d(cells.needed(block, np.sqrt(found_squared)), own,
                              assume_unique=True)
        if others.size:
            other, other_squared = search_nearest(block, Z_labelled[others], block_elements,
                                                  known=found_squared)
            other = others[other]
            closer = (other_squared < found_squared) | (
                (other_squared == found_squared) & (other < found))
            found = np.where(closer, other, found)
            found_squared = np.where(closer, other_squared, found_squared)
        nearest[rows] = found
        squared[rows] = found_squared
    return nearest, squared


def search_nearest(
    Z_pool: np.ndarray, Z_labelled: np.ndarray, block_elements: int,
    known: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest labelled row and float64 squared distance of every pool row (checked inputs).

    ``known`` [n_pool] (float64) holds squared distances the pool rows already have to
    earlier labelled rows; a row whose every row of ``Z_labelled`` is provably farther
    than that gets squared distance inf (and row 0), without a float64 distance.
    """
    work = np.dtype(np.float32 if Z_pool.dtype.kind == "f" and Z_pool.itemsize <= 4
                    else np.float64)
    screen = _build_screen(Z_labelled, work)
    n_pool = Z_pool.shape[0]
    n_workers = blas_workers()
    plan = _Plan.make(Z_labelled.shape[0], block_elements, n_workers)
    nearest = np.zeros(n_pool, dtype=np.intp)
    squared = np.full(n_pool, np.inf)
    pending = np.zeros(n_pool, dtype=bool)  # [N] rows whose float32 winner is not proven
    bounds = np.empty(n_pool)  # [N] where pending: the scores to re-check
    buffers = threading.local()

    def thread_buffers():
        if not hasattr(buffers, "scores"):  # one per thread, reused block after block
            buffers.scores = np.empty((min(plan.rows, n_pool), plan.chunk), dtype=np.float32)
            buffers.augmented = np.empty((min(plan.block, n_pool), screen.ranking.shape[1]),
                                         dtype=np.float32)
        return buffers

    def search(start: int) -> None:
        """Fill ``nearest`` and ``squared`` for the pool rows of one block."""
        stop = min(start + plan.block, n_pool)
        block = Z_pool[start:stop]  # [b, k]
        needed = slice(None)
        if screen.radius > 0:  # else every labelled row is the same point: row 0 wins
            nearest[start:stop], needed, unsure, bound = _screen_block(
                block.astype(work, copy=False), screen, plan, thread_buffers(),
                None if known is None else known[start:stop])
            pending[start + unsure] = True
            bounds[start + unsure] = bound
        winner = nearest[start:stop][needed]
        squared[start:stop][needed] = _squared_distance(
            block[needed].astype(np.float64), screen.codes[winner])

    def settle(start: int) -> None:
        """Re-rank in float64 the candidates of one product's worth of pending rows."""
        rows = unproven[start : start + plan.rows]  # [a]
        block = Z_pool[rows].astype(np.float64)  # [a, k]
        augmented = _augment(block.astype(work, copy=False), screen, thread_buffers())[0]
        nearest[rows] = _recheck(block, augmented, bounds[rows], screen, plan.chunk,
                                 thread_buffers())
        squared[rows] = _squared_distance(block, screen.codes[nearest[rows]])

    run_blocks(search, range(0, n_pool, plan.block), n_workers)
    unproven = np.flatnonzero(pending)  # gathered: few products for all of them
    run_blocks(settle, range(0, unproven.size, plan.rows), n_workers)
    return nearest, squared


def _augment(block: np.ndarray, screen: _Screen, buffers) -> tuple[np.ndarray, ...]:
    r"""The float32 rows :math:`[x_i, 1]` of ``block`` [b, k] in the thread's buffer.

    Returns them [b, k+1] (zero for far rows), :math:`\lVert x_i\rVert^2` computed in
    the working dtype [b], :math:`(\lVert x_i\rVert + R)^2` [b] and the far rows [b].
    """
    n_rows, n_dims = block.shape
    with np.errstate(over="ignore", invalid="ignore"):  # far rows may overflow: never screened
        x = (block - screen.center) * block.dtype.type(screen.scale)  # [b, k]
        norm2 = np.einsum("ij,ij->i", x, x).astype(np.float64)  # [b], approximate
        reach = (np.sqrt(norm2) + screen.radius) ** 2  # [b]
        far = ~(reach <= _FAR)  # [b], inf included
        augmented = buffers.augmented[:n_rows]  # [b, k+1] float32
        augmented[:, :n_dims] = x
    augmented[:, n_dims] = 1.0
    augmented[far] = 0.0
    return augmented, norm2, reach, far


def _screen_block(
    block: np.ndarray, screen: _Screen, plan: _Plan, buffers, known: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | slice, np.ndarray, np.ndarray]:
    """Float32 winner of each row of ``block`` [b, k] (working dtype) and what is not proven.

    Returns the winners [b]; the rows that need their float64 distance (all of them,
    or with ``known`` [b] only those a labelled row here may beat or tie; the others
    get row 0); and the rows whose winner needs the float64 re-check [u] with the
    float32 score up to which their candidates lie [u].
    """
    augmented, norm2, reach, far = _augment(block, screen, buffers)
    half = screen.relative * reach + screen.absolute  # [b] >= E_i + F_i
    if known is None:
        winner, unsure, bound = _winners(augmented, far, half, screen, plan, buffers)
        return winner, slice(None), unsure, bound
    best = np.full(block.shape[0], np.inf, dtype=np.float32)  # [b] smallest score
    flat = buffers.scores.reshape(-1)
    for first in range(0, block.shape[0], plan.rows):
        part = augmented[first : first + plan.rows]  # [r, k+1]
        for lab in range(0, screen.ranking.shape[0], plan.chunk):
            other = screen.ranking[lab : lab + plan.chunk]  # [m, k+1]
            scores = flat[: other.shape[0] * part.shape[0]].reshape(other.shape[0], -1)  # [m, r]
            np.minimum(best[first : first + plan.rows],  # column minima: fast on short rows
                       np.matmul(other, part.T, out=scores).min(axis=0),
                       out=best[first : first + plan.rows])
    lower = norm2 * (1.0 - screen.norm_error) + best - half  # [b] <= every scaled float64 d^2
    with np.errstate(over="ignore"):
        needed = np.flatnonzero(far | (lower <= known * screen.scale * screen.scale))
    winner = np.zeros(block.shape[0], dtype=np.intp)
    winner[needed], unsure, bound = _winners(augmented[needed], far[needed], half[needed],
                                             screen, plan, buffers)
    return winner, needed, needed[unsure], bound


def _winners(augmented, far, half, screen: _Screen, plan: _Plan, buffers) -> tuple[np.ndarray,
                                                                                   ...]:
    """Float32 winner and runner-up of each row; the rows where they are too close to call.

    ``augmented`` [b, k+1] float32, ``far`` and ``half`` [b]. Returns the winners [b],
    the unsure rows [u] and the score up to which their candidates lie [u]. The
    products write each chunk's winner and runner-up; the chunks are merged after,
    for the whole block at once.
    """
    n_rows, n_labelled = augmented.shape[0], screen.ranking.shape[0]
    n_chunks = -(-n_labelled // plan.chunk)
    low = np.empty((n_chunks, n_rows), dtype=np.float32)  # [c, b] each chunk's winning score
    runner_up = np.full((n_chunks, n_rows), np.inf, dtype=np.float32)  # [c, b]
    column = np.empty((n_chunks, n_rows), dtype=np.intp)  # [c, b] its labelled row
    for first in range(0, n_rows, plan.rows):
        part = augmented[first : first + plan.rows]  # [r, k+1]
        rows = np.arange(part.shape[0])
        span = slice(first, first + part.shape[0])
        for chunk, lab in enumerate(range(0, n_labelled, plan.chunk)):
            other = screen.ranking[lab : lab + plan.chunk]  # [m, k+1]
            scores = np.matmul(part, other.T, out=buffers.scores[: part.shape[0], : other.shape[0]])
            winner = scores.argmin(axis=1)  # [r]
            low[chunk, span] = scores[rows, winner]
            column[chunk, span] = winner + lab
            if other.shape[0] > 1:  # argmin twice: faster than min on short rows
                scores[rows, winner] = np.inf
                runner_up[chunk, span] = scores[rows, scores.argmin(axis=1)]
    rows = np.arange(n_rows)
    chunk = low.argmin(axis=0)  # [b], the first chunk on a tie: the lower labelled rows
    best = low[chunk, rows]  # [b]
    low[chunk, rows] = np.inf
    second = np.minimum(low.min(axis=0), runner_up.min(axis=0))  # [b] the runner-up overall
    unsure = np.flatnonzero(far | (second.astype(np.float64) - best <= 2.0 * half))
    return column[chunk, rows], unsure, best[unsure] + 2.0 * half[unsure]  # > 0: far take all


def _recheck(block, augmented, bound, screen: _Screen, chunk: int, buffers) -> np.ndarray:
    """The float64 winner among the candidates scored at most ``bound``.

    ``block`` [a, k] float64, ``augmented`` [a, k+1] float32 (zero rows for far
    points: they score 0 against every candidate, within any positive bound),
    ``bound`` [a].
    """
    n_rows = block.shape[0]
    best = np.full(n_rows, np.inf)  # [a] smallest float64 squared distance so far
    winner = np.zeros(n_rows, dtype=np.intp)  # [a]
    step = max(1, _PAIR_ELEMENTS // max(1, block.shape[1]))
    for lab in range(0, screen.ranking.shape[0], chunk):
        other = screen.ranking[lab : lab + chunk]  # [m, k+1]
        scores = np.matmul(augmented, other.T, out=buffers.scores[:n_rows, : other.shape[0]])
        row, column = np.nonzero(scores <= bound[:, None])  # [p] each, row-major order
        for pair in range(0, row.size, step):
            r, c = row[pair : pair + step], column[pair : pair + step] + lab  # [p]
            squared = _squared_distance(block[r], screen.codes[c])  # [p]
            order = np.lexsort((c, squared, r))  # by row, then distance, then labelled row
            first = order[np.r_[True, r[order[1:]] != r[order[:-1]]]]  # each row's nearest
            closer = squared[first] < best[r[first]]  # strict: earlier rows keep ties
            best[r[first[closer]]] = squared[first[closer]]
            winner[r[first[closer]]] = c[first[closer]]
    return winner
