r"""Exact k nearest neighbours through FAISS's flat index, where FAISS is installed.

The same brute-force search as :func:`modal_ibal.search._knn_exact.exact_neighbours`,
in FAISS's ``IndexFlatL2`` (float32 products in blocked BLAS, with its own
k-selection): measured two to three times faster on one thread at 20,000 and
100,000 points (``benchmarks/neighbour_search.py``). Optional
(``pip install modal-ibal[faiss]``); used for float32 codes above
:data:`~modal_ibal.search._knn.EXACT_SEARCH_MAX_POINTS` points only, so smaller
searches, and every result of the project's experiments, do not depend on whether
it is installed. The neighbours are those of scikit-learn's search up to ties
and float32 near-ties; the squared distances are recomputed in float64 as there.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from ._knn_exact import neighbours_in_blocks

__all__ = ["faiss_exact_neighbours", "faiss_installed"]


def faiss_installed() -> bool:
    """Whether ``faiss`` can be imported (checked without importing it)."""
    return importlib.util.find_spec("faiss") is not None


def faiss_exact_neighbours(Z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact :math:`k` nearest neighbours of every row of float32 ``Z``, by FAISS.

    Parameters
    ----------
    Z : ndarray of shape (M, d), float32
        Checked, finite points.
    k : int
        At most ``M``.

    Returns
    -------
    neighbours, squared
        As :func:`modal_ibal.search._knn_exact.exact_neighbours`.

    Notes
    -----
    Time :math:`O(M^2 d)`; memory :math:`O(M (k + d))` plus FAISS's blocks. FAISS
    runs on as many OpenMP threads as it is allowed (``threadpoolctl`` limits them).
    """
    import faiss

    points = np.ascontiguousarray(Z, dtype=np.float32)
    index = faiss.IndexFlatL2(points.shape[1])
    index.add(points)
    found = index.search(points, k)[1]  # [M, k]: one call, blocked inside FAISS (3x faster)
    return neighbours_in_blocks(points, k, found.__getitem__)
