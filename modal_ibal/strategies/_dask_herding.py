r"""Kernel herding on a Dask pool: codes and weights where the chunks live, the greedy here.

The Dask backend of :func:`modal_ibal.herding_sampling` and of :func:`modal_ibal.default_sampling`
(``weights='margin'``):

1. the labelled set is read here (its codes, the model's temperature when asked
   to calibrate it); the model is shipped once to the workers
   (:func:`modal_ibal.strategies._dask_scoring.ship_scorer`), which map every pool chunk
   to its codes and margin weights (:class:`~modal_ibal.strategies._dask_scoring.CodeScorer`),
   scaled there as herding's kernel sees them (unit rows, or one power of two);
2. up to :data:`~modal_ibal.search._knn.EXACT_SEARCH_MAX_POINTS` (10,000) labelled
   + pool points the codes come here (with ``representation='inputs'`` they are
   the pool's rows, flattened) and the query is the in-memory one: the same picks;
3. above, the codes stay with the workers for the partitioned neighbour search
   (:func:`modal_ibal.search._dask_neighbours.dask_partitioned_neighbours`), its recall
   measured and its candidates widened as in memory
   (:func:`modal_ibal.search.checked_dask_neighbours`), and only
   the :math:`M \times k` neighbours, their distances and the :math:`N` weights
   come here, where the kernel graph is built and the greedy runs.

A search that would be exact above
:data:`~modal_ibal.search._dask_neighbours.GATHER_MAX_POINTS` (10,000) points
(``algorithm='brute'``, or ``n_neighbors`` at least the number of points) would
bring every code here and build :math:`M \times M` arrays: it is refused, before
any chunk is computed. "The workers" are those of the active scheduler: on a
``distributed`` cluster the persisted codes stay in the workers' memory; with
Dask's local threaded scheduler the workers are threads of the calling process,
which then holds the codes itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from .._utils.dask_waits import computed
from .._utils.validation import (
    n_samples,
)
from ..coverage import (
    DEFAULT_N_NEIGHBORS,
    check_herding_options,
    dask_herding_graph,
    herding_batch,
    herding_graph,
)
from ..embedding import representation_codes
from ..readers import DEFAULT_BATCH_SIZE, QueryInputs, last_layer
from ..scoring import DEFAULT_TEMPERATURES, per_class_share, select_temperature
from ..search import check_dask_search, searches_exactly
from ._dask_scoring import CodeScorer, pool_scores

__all__ = ["dask_herding_query"]


def dask_herding_query(
    query: Callable,
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    random_state: Any = None,
    representation: Any = "inputs",
    n_neighbors: int = DEFAULT_N_NEIGHBORS,
    bandwidth: float | str | None = None,
    weights: Any = None,
    temperature: float | str | None = None,
    algorithm: str = "auto",
    normalize_rows: bool = True,
    concave_clusters: bool = False,
    X_labelled=None,
    y_labelled=None,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    r"""MaxHerding (or margin-weighted herding) on a Dask pool; see :func:`modal_ibal.herding_sampling`.

    Parameters
    ----------
    query : callable
        The strategy whose backend this is (unused).
    classifier, n_instances, random_state, representation, n_neighbors, bandwidth, temperature, algorithm, normalize_rows, concave_clusters, X_labelled, y_labelled, layer, batch_size
        The strategy's arguments, bound by the contract.
    X_pool : dask.array.Array of shape (n_pool, ...)
        Chunked along rows only.
    weights : {None, 'margin'} or ndarray of shape (n_pool,)
        As the strategy's; given values are an in-memory array.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Pool indices in pick order.
    query_scores : ndarray of shape (n_instances,)
        Each pick's coverage gain.

    Raises
    ------
    ValueError
        Before any chunk is computed, when the neighbour search would be exact
        on more than :data:`~modal_ibal.search._dask_neighbours.GATHER_MAX_POINTS`
        (10,000) labelled + pool points, with every code brought to this process:
        ``algorithm='brute'`` (pass ``'auto'`` or ``'partitioned'``) or
        ``n_neighbors`` at least the number of points (pass a smaller one, e.g.
        the default 20).

    Notes
    -----
    Exact where the in-memory query is exact: up to 10,000 labelled + pool
    points the picks are those of the same pool in memory, as long as the model
    (or embedding) gives a row the same outputs in any batch (see
    :mod:`modal_ibal.strategies._dask_queries`). Above, the neighbours are the
    in-memory partitioned search's (same cells, candidates and products), so the
    picks are too, up to rounding in the last bits of a squared distance (float64
    codes) or a nearest-centre near tie. The exact, untruncated MaxHerding
    (``n_neighbors`` at least the number of points) is thus available up to
    10,000 points.

    Up to 10,000 points the codes come to the caller: with ``representation='inputs'``
    they are the pool's rows flattened, in float. Above, the caller holds the neighbour
    lists and the kernel graph, about 1.1 GB per 1,000,000 points at :math:`k = 20`
    (measured: 1.2 GB at 1,000,000 points, 10.6 GB at 10,000,000), and :math:`O(n d)`
    for the labelled set; the codes are persisted with the workers, which are
    threads of the calling process on Dask's local threaded scheduler (use a
    ``distributed`` cluster to keep them out of its memory).
    """
    import dask

    start = QueryInputs.check(classifier, X_pool, n_instances, X_labelled, y_labelled,
                              cold_start=True, lazy_pool=True)
    n_instances = start.n_instances
    options = check_herding_options(
        int(X_pool.shape[0]), n_neighbors=n_neighbors, bandwidth=bandwidth, weights=weights,
        temperature=temperature, algorithm=algorithm, normalize_rows=normalize_rows,
        concave_clusters=concave_clusters)
    n_neighbors, weights, temperature, algorithm = (options.n_neighbors, options.weights,
                                                    options.temperature, options.algorithm)
    X_lab = (np.empty((0, *X_pool.shape[1:]), dtype=X_pool.dtype)  # no labelled rows to read
             if n_samples(start.X_labelled) == 0 else np.asarray(start.X_labelled))
    n_points = X_lab.shape[0] + int(X_pool.shape[0])
    check_dask_search(algorithm, n_neighbors, n_points)
    margins = isinstance(weights, str) and start.fitted
    reads_model = margins or (isinstance(representation, str) and representation == "features")
    layer_reader = None
    if reads_model:
        start.require_model("representation='features'")
        layer_reader = last_layer(start.estimator, layer=layer, batch_size=batch_size)
        layer_reader.encode_labels(start.y_labelled)  # labels the model does not know fail here
    if margins and temperature == "calibrated":
        temperature = select_temperature(start.estimator, X_lab, start.y_labelled,
                                         temperatures=DEFAULT_TEMPERATURES,
                                         random_state=random_state, layer=layer)
    probe = np.asarray(computed(X_pool[:1]))  # one pool row: the codes' width and dtype

    @functools.cache
    def probe_outputs():
        """The model's outputs for the probe row, read once and only when needed."""
        return layer_reader.outputs(probe)

    def features() -> tuple[np.ndarray, np.ndarray]:
        return layer_reader.outputs(X_lab).features, probe_outputs().features

    Z_labelled, Z_probe = representation_codes(representation, probe, X_lab, features)
    n_labelled, n_dims = Z_labelled.shape
    scorer = CodeScorer(representation, layer_reader, X_lab[:0], Z_probe.dtype, n_dims,
                        margins=margins, temperature=temperature if margins else None,
                        predictions=margins and weights == "balanced-margin")
    columns = pool_scores(X_pool, scorer)  # lazy [N, d (+ 1)] float64
    codes = columns[:, :n_dims].astype(Z_probe.dtype)
    model_columns = columns[:, n_dims:scorer.n_columns] if margins else None  # [N, 1 or 2]: margin weight (, predicted class)
    if searches_exactly(algorithm, n_points):
        codes, model_columns = computed([codes, model_columns])  # the rest is in memory
        graph, groups = herding_graph(Z_labelled, codes, n_instances, options, random_state)
    else:  # the codes stay with the workers (threads of this process on local threads)
        codes, model_columns = dask.persist(codes, model_columns)
        graph, groups = dask_herding_graph(Z_labelled, codes, n_instances, options,
                                           random_state)
        model_columns = computed(model_columns) if margins else None
    if margins:
        pool_weights = (per_class_share(model_columns[:, 0],
                                        model_columns[:, 1].astype(np.int64),
                                        probe_outputs().probas.shape[1])
                        if scorer.predictions else model_columns[:, 0])
    else:
        pool_weights = None if isinstance(weights, str) else weights
    return herding_batch(graph, n_labelled, n_instances, pool_weights, groups)
