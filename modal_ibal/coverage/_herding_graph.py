r"""What kernel herding runs on: the kernel graph of the labelled and pool codes, and their clusters.

The steps between a query's codes and the greedy (:func:`~modal_ibal.coverage.herding_batch`),
shared by every path that herds: the codes scaled as the kernel sees them, the
width chosen (a given one, or UHerding's from the labelled codes), the concave
coverage's clusters when asked for, and the truncated Gaussian k-NN kernel
graph over the :math:`M = n + N` labelled and pool points.
:func:`herding_graph` does this in memory; :func:`dask_herding_graph` on a
Dask array of pool codes, the codes scaled and searched where their chunks
live, with the same graph as the in-memory function's up to the rounding
:mod:`modal_ibal.search._dask_neighbours` describes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .._utils.dask_waits import computed
from ..search import checked_dask_neighbours
from ._concave import cluster_random_state, coverage_clusters
from ._dask_codes import dask_coverage_clusters, dask_kernel_codes
from ._herding import HerdingOptions
from ._kernel import kernel_codes, kernel_graph, labelled_bandwidth, neighbour_kernel_graph

__all__ = ["dask_herding_graph", "herding_graph"]


def herding_graph(Z_labelled: np.ndarray, Z_pool: np.ndarray, n_instances: int,
                  options: HerdingOptions, random_state: Any = None,
                  ) -> tuple[sp.csr_matrix, np.ndarray | None]:
    """The kernel graph and clusters of herding over the labelled and pool codes, in memory.

    Parameters
    ----------
    Z_labelled : ndarray of shape (n_labelled, n_dims)
    Z_pool : ndarray of shape (n_pool, n_dims)
        The codes, checked (finite, one width).
    n_instances : int
        The batch size, which sets the number of clusters.
    options : HerdingOptions
        As :func:`~modal_ibal.coverage.check_herding_options` returns them.
    random_state : int, RandomState instance or None
        Seeds the clusters' k-means (``options.concave_clusters`` only).

    Returns
    -------
    graph : scipy.sparse.csr_matrix of shape (M, M)
        The kernel graph over the labelled rows, then the pool's.
    groups : ndarray of shape (M,) or None
        Each point's cluster with ``options.concave_clusters``, else None.
    """
    Z = kernel_codes(np.concatenate([Z_labelled, Z_pool]), normalize_rows=options.normalize_rows,
                     overwrite=True)  # [M, d]
    n_labelled = Z_labelled.shape[0]
    bandwidth = options.bandwidth
    if isinstance(bandwidth, str):
        bandwidth = labelled_bandwidth(Z[:n_labelled])
    groups = (coverage_clusters(Z, n_labelled, n_instances, cluster_random_state(random_state))
              if options.concave_clusters else None)  # [M]
    graph = neighbour_kernel_graph(Z, options.n_neighbors, bandwidth, algorithm=options.algorithm)
    return graph, groups


def dask_herding_graph(Z_labelled: np.ndarray, codes, n_instances: int, options: HerdingOptions,
                       random_state: Any = None) -> tuple[sp.csr_matrix, np.ndarray | None]:
    """:func:`herding_graph` with the pool's codes a Dask array, searched where its chunks live.

    Parameters
    ----------
    Z_labelled : ndarray of shape (n_labelled, n_dims)
    codes : dask.array.Array of shape (n_pool, n_dims)
        The pool's codes, persisted, chunked along rows only.
    n_instances, options, random_state
        As :func:`herding_graph`'s. The neighbour search is the partitioned one
        (:func:`~modal_ibal.search.checked_dask_neighbours`); the caller
        refuses beforehand a search that would bring every code here
        (:func:`~modal_ibal.search.check_dask_search`).

    Returns
    -------
    graph, groups
        As :func:`herding_graph`'s. Only the :math:`M \\times k` neighbour lists
        and, for the clusters, a sample of codes and one cluster id per point come
        here; up to ``COVERAGE_CLUSTER_SAMPLES`` (4,096) points, the clusters are
        those of every code, brought here. ``options.algorithm`` is not used: above
        the exact search's limit the search is the partitioned one.
    """
    Z = dask_kernel_codes(Z_labelled, codes, options.normalize_rows)  # persisted [M, d]
    n_labelled, n_points = Z_labelled.shape[0], int(Z.shape[0])
    bandwidth = options.bandwidth
    if isinstance(bandwidth, str):
        bandwidth = labelled_bandwidth(np.asarray(computed(Z[:n_labelled])))
    groups = (dask_coverage_clusters(Z, n_labelled, n_instances,
                                     cluster_random_state(random_state))
              if options.concave_clusters else None)  # [M]
    neighbours, squared = checked_dask_neighbours(Z, min(options.n_neighbors, n_points))[:2]
    return kernel_graph(neighbours, squared, bandwidth), groups
