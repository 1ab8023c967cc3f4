r"""Distance of each pool point to its nearest labelled point (paper Eq. 3).

.. math::  D(x_i) = \min_{x_t \in L} \lVert z_i - z_t \rVert_2   \quad (3)

(the paper writes argmin; the score is the minimum distance itself), computed
block-wise so that no :math:`N \times n` matrix is ever formed.
"""

from __future__ import annotations

import numpy as np

_BLOCK_ELEMENTS = 1 << 22  # 4M float64 = 32 MiB per distance block


def nearest_labelled_distance(
    Z_pool: np.ndarray, Z_labelled: np.ndarray, *, block_elements: int = _BLOCK_ELEMENTS
) -> np.ndarray:
    r"""Euclidean distance from every pool point to its nearest labelled point.

    Parameters
    ----------
    Z_pool : ndarray of shape (n_pool, n_dims)
    Z_labelled : ndarray of shape (n_labelled, n_dims)
    block_elements : int, default=4194304
        Largest number of pool x labelled distances held at once.

    Returns
    -------
    ndarray of shape (n_pool,), float64

    Notes
    -----
    Squared distances use :math:`\lVert a\rVert^2 + \lVert b\rVert^2 - 2 a^\top b` in
    float64, clipped at zero, so duplicates of labelled points get distance 0.
    Peak extra memory is :math:`O(\mathrm{block} + N)`.
    """
    Z_pool = np.asarray(Z_pool, dtype=np.float64).reshape(len(Z_pool), -1)
    Z_labelled = np.asarray(Z_labelled, dtype=np.float64).reshape(len(Z_labelled), -1)
    if Z_labelled.shape[0] == 0:
        raise ValueError("The labelled set is empty: the distance to it is undefined.")
    if Z_pool.shape[1] != Z_labelled.shape[1]:
        raise ValueError(
            f"Pool embeddings have {Z_pool.shape[1]} dimensions but labelled embeddings have "
            f"{Z_labelled.shape[1]}."
        )
    n_pool, n_labelled = Z_pool.shape[0], Z_labelled.shape[0]
    labelled_chunk = max(1, min(n_labelled, block_elements // 256))
    pool_chunk = max(1, block_elements // labelled_chunk)
    labelled_norms = (Z_labelled**2).sum(axis=1)  # [n]
    nearest = np.full(n_pool, np.inf)
    for start in range(0, n_pool, pool_chunk):
        block = Z_pool[start : start + pool_chunk]  # [b, k]
        block_norms = (block**2).sum(axis=1, keepdims=True)  # [b, 1]
        best = nearest[start : start + pool_chunk]
        for lab in range(0, n_labelled, labelled_chunk):
            other = Z_labelled[lab : lab + labelled_chunk]  # [m, k]
            squared = block_norms + labelled_norms[lab : lab + labelled_chunk] - 2 * block @ other.T
            np.minimum(best, squared.min(axis=1), out=best)  # [b]
    return np.sqrt(np.maximum(nearest, 0.0))


def normalise_by_max(values: np.ndarray) -> np.ndarray:
    """Divide by the largest absolute value (paper: "divided by the maximum value").

    An all-zero input stays zero rather than dividing by zero.
    """
    values = np.asarray(values, dtype=np.float64)
    largest = np.abs(values).max() if values.size else 0.0
    return values / largest if largest > 0 else np.zeros_like(values)
