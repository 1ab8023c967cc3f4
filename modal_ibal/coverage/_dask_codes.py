"""Herding's codes on a Dask pool: scaled on the workers, clustered with a k-means fitted here.

:func:`dask_kernel_codes` scales the codes as :func:`~modal_ibal.coverage._kernel.kernel_codes`
does in memory, each chunk on its worker. :func:`dask_coverage_clusters` is the Dask
side of :func:`~modal_ibal.coverage._concave.coverage_clusters`, which calls
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
from ._clusters import safe_scale_exponent
from ._concave import (
    COVERAGE_CLUSTER_SAMPLES,
    MAX_COVERAGE_CLUSTERS,
    coverage_clusters,
    n_coverage_clusters,
)
from ._kernel import rows_normalized, unit_rows

__all__ = ["dask_coverage_clusters", "dask_kernel_codes"]


def dask_coverage_clusters(Z, n_labelled: int, n_instances: int, rng: np.random.RandomState, *,
                           max_clusters: int = MAX_COVERAGE_CLUSTERS,
                           max_cluster_samples: int = COVERAGE_CLUSTER_SAMPLES) -> np.ndarray:
    """:func:`~modal_ibal.coverage._concave.coverage_clusters` of a Dask array of codes.

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


def dask_kernel_codes(Z_labelled: np.ndarray, codes, normalize_rows: bool | str):
    """:func:`~modal_ibal.coverage._kernel.kernel_codes` of the labelled rows and a Dask pool.

    The rows the in-memory function gives the concatenation: unit rows (each row
    scaled alone, on its worker), or one power of two for all, chosen from the
    smallest and largest code, which also decide ``'auto'``. Persisted.
    """
    import dask
    import dask.array as da

    bounds = np.asarray(computed([codes.min(), codes.max()]), dtype=codes.dtype)  # [2]
    if isinstance(normalize_rows, str):
        normalize_rows = rows_normalized(Z_labelled, bounds)
    if normalize_rows:
        Z_labelled = unit_rows(Z_labelled)
        codes = codes.map_blocks(unit_rows, dtype=codes.dtype)
    else:
        shift = safe_scale_exponent(Z_labelled, bounds)
        if shift:
            scale = np.ldexp(np.ones((), dtype=codes.dtype), shift)
            Z_labelled, codes = Z_labelled * scale, codes * scale
    labelled = da.from_array(Z_labelled, chunks=(max(1, Z_labelled.shape[0]), Z_labelled.shape[1]))
    return dask.persist(da.concatenate([labelled, codes]))[0]
