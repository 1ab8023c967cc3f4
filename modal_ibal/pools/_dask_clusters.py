"""The clusters of concave per-cluster coverage on a Dask pool: fitted here, assigned on the workers.

The Dask side of :func:`modal_ibal.coverage.coverage_clusters`, which calls
:func:`modal_ibal.coverage._clusters.cluster_labels`: the same k-means, seeded
the same way, on the same rows. Up to ``max_cluster_samples`` points every code
comes here and the in-memory function runs; above, only the sampled rows come
here (in the sample's order, which the k-means++ seeding depends on) and every
point joins its nearest centre on the worker that holds it, so only one cluster
id per point comes back.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans

from .._utils.dask_waits import computed
from ..coverage import (
    COVERAGE_CLUSTER_SAMPLES,
    MAX_COVERAGE_CLUSTERS,
    coverage_clusters,
    n_coverage_clusters,
)

__all__ = ["dask_coverage_clusters"]


def dask_coverage_clusters(Z, n_labelled: int, n_instances: int, rng: np.random.RandomState, *,
                           max_clusters: int = MAX_COVERAGE_CLUSTERS,
                           max_cluster_samples: int = COVERAGE_CLUSTER_SAMPLES) -> np.ndarray:
    """:func:`~modal_ibal.coverage.coverage_clusters` of a Dask array of codes.

    Parameters
    ----------
    Z : dask.array.Array of shape (n_labelled + n_pool, n_dims)
        The codes as the kernel sees them (already in a safe range: the in-memory
        function would not rescale them), labelled rows first.
    n_labelled, n_instances : int
    rng : numpy.random.RandomState
    max_clusters, max_cluster_samples : int
        As the in-memory function's.

    Returns
    -------
    ndarray of shape (n_labelled + n_pool,), int64
        The in-memory function's clusters of the computed array, unless a point's
        nearest centre is a near tie that BLAS rounds differently in a chunk.
    """
    n_points = int(Z.shape[0])
    if n_points <= max_cluster_samples:
        return coverage_clusters(np.asarray(computed(Z)), n_labelled, n_instances, rng,
                                 max_clusters=max_clusters,
                                 max_cluster_samples=max_cluster_samples)
    n_clusters = n_coverage_clusters(n_labelled, n_instances, n_points, max_clusters)
    model = KMeans(n_clusters=n_clusters, init="k-means++", n_init=1, random_state=rng)
    sample = rng.choice(n_points, size=max(max_cluster_samples, n_clusters), replace=False)
    ascending = np.argsort(sample)
    rows = np.empty((sample.size, int(Z.shape[1])), dtype=Z.dtype)
    rows[ascending] = np.asarray(computed(Z[sample[ascending]]))  # the sample's own order
    model.fit(rows)
    return computed(Z.map_blocks(_nearest_centre, model, drop_axis=1, dtype=np.int64))


def _nearest_centre(block: np.ndarray, model: KMeans) -> np.ndarray:
    """The fitted k-means' cluster of every row of one chunk."""
    if block.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    return model.predict(block).astype(np.int64)
