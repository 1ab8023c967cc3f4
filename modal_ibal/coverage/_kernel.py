"""The truncated Gaussian k-NN kernel graph of kernel herding, and its width.

The Gaussian kernel of kernel herding, truncated to each point's k nearest neighbours: a sparse
graph built in blocks, its default width, and UHerding's labelled width.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .._utils.validation import as_numpy, check_positive_float, check_positive_int
from ..search import check_algorithm, check_points, searched_neighbours
from ._clusters import safe_scale_exponent

__all__ = [
    "DEFAULT_N_NEIGHBORS",
    "GAIN_ELEMENTS",
    "MODEL_WEIGHTS",
    "check_bandwidth",
    "check_graph",
    "check_pool_weights",
    "check_weights",
    "column_blocks",
    "kernel_codes",
    "kernel_graph",
    "kernel_rows",
    "knn_kernel_graph",
    "labelled_bandwidth",
    "neighbour_kernel_graph",
    "rows_normalized",
    "unit_rows",
]

DEFAULT_N_NEIGHBORS = 20  # herding's k: as good as 50 and the untruncated kernel on digits
MODEL_WEIGHTS = ("margin", "balanced-margin")  # herding's weights read off the model
GAIN_ELEMENTS = 1 << 21  # graph entries read per block of gains
_DISTANCE_BLOCK_ROWS = 1024  # labelled rows per block of the smallest-distance search


def labelled_bandwidth(Z_labelled: np.ndarray) -> float | None:
    r"""UHerding's adaptive width: the smallest distance between two distinct labelled rows.

    Parameters
    ----------
    Z_labelled : ndarray of shape (n_labelled, n_dims)
        The labelled codes, as the kernel sees them (unit rows in herding).

    Returns
    -------
    float or None
        :math:`h = \min_{l \ne l', z_l \ne z_{l'}} \lVert z_l - z_{l'} \rVert_2 / \sqrt 2`,
        so that :math:`\exp(-d^2 / 2h^2) = \exp(-d^2 / \sigma^2)` with UHerding's
        :math:`\sigma`; None when fewer than two distinct labelled rows exist.

    Notes
    -----
    Searched in blocks of rows: :math:`O(n^2 d)` time, :math:`O(1024\, n)` memory.
    """
    Z = np.asarray(Z_labelled, dtype=np.float64)
    n = Z.shape[0]
    if n < 2:
        return None
    norms = np.einsum("ij,ij->i", Z, Z)  # [n]
    smallest = np.inf
    for start in range(0, n, _DISTANCE_BLOCK_ROWS):
        block = slice(start, start + _DISTANCE_BLOCK_ROWS)
        squared = norms[block, None] + norms[None, :] - 2.0 * (Z[block] @ Z.T)  # [b, n]
        squared[squared <= 1e-12] = np.inf  # the row itself and exact duplicates
        smallest = min(smallest, float(squared.min()))
    if not np.isfinite(smallest):
        return None
    return float(np.sqrt(smallest / 2.0))


def check_bandwidth(bandwidth: Any) -> float | None:
    """A kernel width: None (the default rule) or a finite number > 0."""
    return check_positive_float(bandwidth, "bandwidth", allow_none=True)


def knn_kernel_graph(
    Z: np.ndarray,
    n_neighbors: int = DEFAULT_N_NEIGHBORS,
    bandwidth: float | None = None,
    *,
    algorithm: str = "auto",
) -> sp.csr_matrix:
    r"""Gaussian kernel truncated to each point's nearest neighbours, as a symmetric sparse graph.

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_dims)
        The points (for :func:`greedy_kernel_herding`: labelled rows first, then the pool).
    n_neighbors : int, default=20
        :math:`k`, the neighbours of each point, the point itself included; values
        beyond ``n_samples`` mean every point (the untruncated kernel).
    bandwidth : float, optional
        :math:`h > 0`. Default: the median over the points of the distance to their
        :math:`k`-th neighbour (the point itself being the first), so a typical
        point's farthest neighbour gets kernel value :math:`e^{-1/2}`.
    algorithm : {'auto', 'brute', 'partitioned'}, default='auto'
        The neighbour search (:func:`modal_ibal.search.nearest_neighbours`):
        exact, approximate by partition, or exact up to 10,000 points and
        partitioned above.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_samples, n_samples), float64
        ``graph[x, c]`` :math:`= k(x, c)` wherever :math:`c` is among the :math:`k`
        nearest neighbours of :math:`x` or :math:`x` among those of :math:`c`; no
        other entries are stored. The diagonal is 1.

    Notes
    -----
    .. math::  k(x, c) = \exp\!\Big(-\frac{\lVert z_x - z_c \rVert_2^2}{2 h^2}\Big)

    The neighbours come from :func:`modal_ibal.search.nearest_neighbours`:
    up to 10,000 points an exact brute-force search, :math:`O(M^2 d)` time, with
    the distances to the neighbours found recomputed in float64 (a duplicate gets
    exactly 1); above, an inverted-file search over k-means cells,
    :math:`O(M \cdot 512 \cdot d)`, which finds 98% to 100% of the true neighbours
    of clustered codes; its recall is measured on 256 sampled points and the exact
    search runs instead below 80% (``benchmarks/neighbour_search.py``). Each point is its own neighbour
    even among more than :math:`k` duplicates. Memory :math:`O(M (k + d))` plus
    one block.
    """
    Z = check_points(Z)
    n_neighbors = check_positive_int(n_neighbors, "n_neighbors")
    bandwidth = check_bandwidth(bandwidth)
    algorithm = check_algorithm(algorithm)
    return neighbour_kernel_graph(Z, n_neighbors, bandwidth, algorithm=algorithm)


def neighbour_kernel_graph(Z: np.ndarray, n_neighbors: int, bandwidth: float | None, *,
                           algorithm: str) -> sp.csr_matrix:
    """:func:`knn_kernel_graph` of checked arguments (finite float codes, as it checks them)."""
    k = min(n_neighbors, Z.shape[0])
    neighbours, squared, _ = searched_neighbours(Z, k, algorithm=algorithm)
    return kernel_graph(neighbours, squared, bandwidth)


def kernel_graph(neighbours: np.ndarray, squared: np.ndarray,
                 bandwidth: float | None = None) -> sp.csr_matrix:
    """The symmetric kernel graph of :func:`knn_kernel_graph` from each point's neighbours.

    Parameters
    ----------
    neighbours : ndarray of shape (n_points, k)
        Distinct row indices per row, each row holding the point itself
        (:func:`modal_ibal.search.nearest_neighbours`).
    squared : ndarray of shape (n_points, k), float64
        The squared distances to them; overwritten by the kernel values.
    bandwidth : float, optional
        As :func:`knn_kernel_graph`.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_points, n_points)
    """
    n_points, k = neighbours.shape
    if bandwidth is None:
        bandwidth = _median_kth_distance(squared)
    values = np.multiply(squared, -0.5 / bandwidth**2)  # [M, k]: the caller's array is kept
    np.exp(values, out=values)
    by_column = np.argsort(neighbours, axis=1)  # [M, k]: sorted rows make every step canonical
    directed = sp.csr_matrix(
        (np.take_along_axis(values, by_column, axis=1).ravel(),
         np.take_along_axis(neighbours, by_column, axis=1).ravel(),
         np.arange(0, n_points * k + 1, k, dtype=neighbours.dtype)),
        shape=(n_points, n_points),
    )
    directed.has_sorted_indices = True  # and no duplicates: k distinct neighbours per row
    del values, squared, neighbours, by_column
    return directed.maximum(directed.T.tocsr())


def unit_rows(Z: np.ndarray, *, overwrite: bool = False) -> np.ndarray:
    """Rows scaled to unit Euclidean norm (norms summed in float64); all-zero rows stay zero.

    Each row's result depends on that row alone, so a pool scaled chunk by chunk
    gets the same rows.

    Parameters
    ----------
    Z : ndarray of shape (n_points, n_dims)
    overwrite : bool, default=False
        Scale ``Z`` itself when it is float32 or float64, saving a copy: only for
        an array the caller made (never one a user passed, which may be a view
        of their data).

    Returns
    -------
    ndarray of shape (n_points, n_dims)
        float32 for float32 ``Z``, else float64.
    """
    dtype = np.float32 if Z.dtype == np.float32 else np.float64
    norms = np.sqrt(np.einsum("ij,ij->i", Z, Z, dtype=np.float64))  # [M]
    divisors = np.where(norms > 0, norms, 1.0).astype(dtype)[:, None]  # [M, 1]
    if overwrite and Z.dtype == dtype:
        Z /= divisors
        return Z
    return np.divide(Z, divisors, dtype=dtype)


def column_blocks(columns: sp.csc_matrix, candidates: np.ndarray) -> list[np.ndarray]:
    """Positions in ``candidates`` cut into blocks whose columns hold about GAIN_ELEMENTS entries.

    The gains of a block of columns are computed at once; the blocks bound the
    memory of the entries read together.
    """
    lengths = columns.indptr[candidates + 1] - columns.indptr[candidates]  # [m]
    cuts = np.flatnonzero(np.diff(np.cumsum(lengths) // GAIN_ELEMENTS)) + 1
    return np.split(np.arange(len(candidates)), cuts)


def rows_normalized(*codes: np.ndarray) -> bool:
    """``normalize_rows='auto'``: whether no code is negative (then rows are scaled to unit norm).

    Non-negative codes (pixel intensities, counts, ReLU features) carry their
    pattern in a row's direction and an intensity (ink, brightness, length) in
    its norm: the kernel compares directions. Signed codes (standardised
    measurements, points in the plane, an autoencoder's latent codes) are
    compared as they are: a row's norm is its distance from the origin (the
    data's centre, once standardised), and rows far out in the same direction
    as common ones, often a rare class, would fold onto them on the unit sphere.
    """
    return all(Z.size == 0 or float(Z.min()) >= 0.0 for Z in codes)


def kernel_codes(Z: np.ndarray, *, normalize_rows: bool | str,
                 overwrite: bool = False) -> np.ndarray:
    """The codes as herding's kernel sees them: unit rows, or as given.

    With ``normalize_rows`` True each row is scaled to unit norm (:func:`unit_rows`);
    ``'auto'`` does so when no code is negative (:func:`rows_normalized`).
    Otherwise codes of magnitude beyond :math:`2^{32}` (or below :math:`2^{-32}`)
    are multiplied by one power of two
    (:func:`modal_ibal.coverage.safe_scale_exponent`), so that squared
    distances cannot overflow: the neighbours, and the kernel under the default
    width, stay those of the codes. ``overwrite`` as :func:`unit_rows`'s.
    """
    if normalize_rows == "auto":
        normalize_rows = rows_normalized(Z)
    if normalize_rows:
        return unit_rows(Z, overwrite=overwrite)
    shift = safe_scale_exponent(Z)
    return np.ldexp(Z, shift, dtype=Z.dtype) if shift else Z


def check_pool_weights(weights: Any, n_pool: int) -> str | np.ndarray | None:
    """Herding's pool weights: None, ``'margin'``, ``'balanced-margin'`` or ``n_pool`` values >= 0.

    Parameters
    ----------
    weights : None, 'margin', 'balanced-margin' or array-like of shape (n_pool,)
    n_pool : int

    Returns
    -------
    None, the word, or ndarray of shape (n_pool,), float64

    Raises
    ------
    ValueError
        For another word, a wrong shape, or values that are negative or not finite.
    """
    if weights is None or (isinstance(weights, str) and weights in MODEL_WEIGHTS):
        return weights
    if isinstance(weights, str):
        raise ValueError(
            f"The 'weights' parameter must be None, 'margin', 'balanced-margin' or an array of "
            f"shape ({n_pool},). Got {weights!r} instead."
        )
    return check_weights(weights, n_pool, per="pool sample")


def _median_kth_distance(squared: np.ndarray) -> float:
    """The default bandwidth: median distance to the k-th neighbour; 1 if that is 0."""
    width = float(np.sqrt(np.median(squared.max(axis=1))))
    return width if width > 0 else 1.0


def kernel_rows(graph: sp.spmatrix | np.ndarray) -> sp.csr_matrix:
    """A kernel graph as canonical float64 CSR rows (sharing a canonical float64 CSR's arrays)."""
    graph = sp.csr_matrix(graph, dtype=np.float64)
    if not graph.has_canonical_format:  # repeated entries would count twice in a gain
        graph = graph.copy()
        graph.sum_duplicates()
    return graph


def check_graph(graph: Any) -> sp.csr_matrix:
    """:func:`kernel_rows` of a square graph of finite values >= 0, else an error naming ``graph``."""
    if not (sp.issparse(graph) or isinstance(graph, np.ndarray)):
        raise TypeError(
            "The 'graph' parameter must be a scipy sparse matrix or a numpy array of kernel "
            f"values. Got {type(graph).__name__} instead."
        )
    graph = kernel_rows(graph)
    if graph.shape[0] != graph.shape[1]:
        raise ValueError(
            f"The 'graph' parameter must be square, one row and column per point. Got shape "
            f"{graph.shape} instead."
        )
    if not np.isfinite(graph.data).all() or (graph.data < 0).any():
        raise ValueError("The 'graph' parameter must hold finite kernel values >= 0.")
    return graph


def check_weights(weights: Any, n_points: int, *, per: str = "point of the graph") -> np.ndarray:
    """Coverage weights: None (all 1) or ``n_points`` finite values >= 0, as float64."""
    if weights is None:
        return np.ones(n_points)
    weights = np.asarray(as_numpy(weights), dtype=np.float64)
    if weights.shape != (n_points,):
        raise ValueError(
            f"The 'weights' parameter must have shape ({n_points},), one weight per {per}. "
            f"Got shape {weights.shape} instead."
        )
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("The 'weights' parameter must hold finite values >= 0.")
    return weights
