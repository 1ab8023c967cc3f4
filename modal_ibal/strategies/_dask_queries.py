r"""The query strategies on a Dask array pool chunked along rows: pools beyond one machine.

The strategy contract
(:func:`modal_ibal.strategies.follows_contract`) hands a ``dask.array.Array`` pool
of ``ibal_sampling``, ``ibal_distance_sampling`` and ``entropy_distance_sampling``
to :func:`dask_query`, of ``entropy_sampling`` and ``margin_sampling`` to
:func:`dask_rowwise_query`, and of ``random_sampling`` to :func:`dask_uniform_query`,
with the strategy's own arguments (``default_sampling`` and ``herding_sampling``: see
:mod:`modal_ibal.strategies._dask_herding`). The pool is scored where it lives:

1. the labelled set is read here, in the calling process: its final-layer
   outputs, the class sums :math:`S_c`, :math:`\kappa`, the refit last layer when
   asked for, and its codes in the embedding of :math:`D` (all of size
   :math:`O(n d)`);
2. the fitted model and those summaries, pickled, are loaded by one worker task
   (:func:`ship_scorer`) whose result every chunk task shares, so they cross the
   network once per query, not once per chunk; a model the workers cannot load
   fails there with its reason, and a worker that dies can have them rebuilt;
3. every row chunk is read and scored on the worker that holds it, by the same
   code as an in-memory pool (the reader of :func:`modal_ibal.readers.last_layer`
   moves each batch to the module's device, so CUDA workers run the forward pass
   on their GPU);
4. IBAL-D and entropy + D divide each term by its maximum over the pool: two
   scalar reductions, inside the same graph;
5. the batch is a tree reduction of (score, pool index) pairs, so ties go to the
   lower pool index exactly as :func:`modal_ibal.scoring.select_lowest` breaks
   them, and only the :math:`B` indices and their scores reach the caller.

One ``compute`` runs a query, on whatever scheduler is active: a
``distributed.Client`` when one is set up (or passed as
``dask.config.set(scheduler=client.get)``), its wait bounded by
:func:`~modal_ibal._utils.dask_waits.query_timeout`; else Dask's local threads,
which are threads of the calling process, so that "the workers" are then that
process and the chunks are scored in its memory.

With modAL
----------
``ActiveLearner.query`` passes the pool to the strategy and returns
``X_pool[query_indices]``; on a Dask pool those rows are a lazy Dask array, so
compute them to label them, and teach the learner the computed (numpy) rows:
``learner.teach`` stacks its training set with ``numpy.concatenate``, which would
make ``X_training`` a lazy Dask array that the next ``teach`` refuses.

>>> idx, rows = learner.query(X_pool, n_instances=100)    # doctest: +SKIP
>>> rows = rows.compute()  # the B rows, in memory          # doctest: +SKIP
>>> learner.teach(rows, oracle_labels(rows))               # doctest: +SKIP
>>> keep = np.setdiff1d(np.arange(X_pool.shape[0]), idx)   # doctest: +SKIP
>>> X_pool = X_pool[keep]  # still lazy, row chunks known  # doctest: +SKIP

The labelled set itself (``X_training``, ``X_labelled``) stays an in-memory
array; a fitted ``embedding`` is shipped with the model, so a
:class:`~modal_ibal.CachedEmbedding` caches on each worker separately.

Every chunk must hold whole samples: a pool chunked along another axis is
refused (rechunk it, e.g. ``X_pool.rechunk({0: 'auto', 1: -1})``), as is one whose
row chunk sizes are unknown (``X_pool.compute_chunk_sizes()``).

Workers
-------
A torch module's forward hook and train/eval flags belong to the module, not to
a thread, so the threads of one worker process score their chunks in the model
in turn: run worker processes of one thread each (``LocalCluster(n_workers=...,
threads_per_worker=1)``, ``dask worker --nthreads 1``). A pool point gets the
same score as in memory whatever chunk it falls in, as long as the forward pass
gives a row the same outputs in any batch; torch on CPU did in every batch of
two rows or more, and differed by about 1e-7 for a batch of a single row (a
chunk, or a pool, whose length is 1 more than a multiple of ``batch_size``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._utils.validation import (
    check_dask_pool,
    make_random_state,
)
from ..embedding import embed
from ..readers import (
    DEFAULT_BATCH_SIZE,
    LastLayerOutputs,
    QueryInputs,
    check_n_features,
    check_single_output,
    fitted_estimator,
    last_layer,
    named_input_errors,
)
from ..scoring import DEFAULT_GAMMA, DEFAULT_READING, importance_summary, select_lowest
from ..search import LabelledCells, uses_cells
from ._dask_scoring import (
    ChunkScorer,
    StrategyScorer,
    pool_scores,
    refuse_distance_cache,
)
from ._dask_selection import dask_select_highest, dask_select_lowest, normalised

__all__ = ["SCORE_TERMS", "dask_query", "dask_rowwise_query", "dask_uniform_query"]

SCORE_TERMS = ("importance", "entropy", "distance")
"""What a chunk is scored by: IBAL's importance (Eq. 2), the entropy, the distance :math:`D`."""


def _read_labelled(inputs: QueryInputs, layer, batch_size):
    """(reader, labelled outputs, labelled classes), read in this process."""
    check_n_features(inputs.estimator, inputs.X_pool, "X_pool")  # before a worker reads a chunk
    reader = last_layer(inputs.estimator, layer=layer, batch_size=batch_size)
    with named_input_errors("X_labelled"):
        labelled = reader.outputs(inputs.X_labelled)
    return reader, labelled, reader.encode_labels(inputs.y_labelled)


def _distance_summaries(X_pool, labelled: LastLayerOutputs, X_labelled,
                        embedding) -> dict[str, Any]:
    """The labelled side of :math:`D`, built once per query and shipped with the scorer.

    ``Z_labelled``: the labelled set in the space of :math:`D` (the model's
    features or ``embedding``); ``labelled_cells``: its k-means cells when some
    pool chunk is large enough for the cell-by-cell search, so that no chunk
    builds them again.
    """
    Z_labelled = labelled.features if embedding is None else embed(embedding, X_labelled)
    cells = (LabelledCells(Z_labelled)
             if uses_cells(max(X_pool.chunks[0]), Z_labelled.shape[0]) else None)
    return {"Z_labelled": Z_labelled, "labelled_cells": cells}


def dask_query(
    query: Callable,
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    terms: tuple[str, ...],
    highest: bool = False,
    gamma: float = DEFAULT_GAMMA,
    embedding: Any = None,
    distance_cache: Any = None,
    reading: str = DEFAULT_READING,
    reg_lambda: float | None = None,
    exact: bool = False,
    X_labelled=None,
    y_labelled=None,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""A strategy's score terms on a Dask pool, chunk by chunk, then one batch for the caller.

    The Dask backend of :func:`modal_ibal.ibal_sampling` (``terms=("importance",)``),
    :func:`modal_ibal.ibal_distance_sampling` (``("importance", "distance")``) and
    :func:`modal_ibal.entropy_distance_sampling` (``("entropy", "distance")``,
    ``highest=True``): the strategy contract calls it with the strategy's own bound
    arguments (:func:`modal_ibal.strategies.follows_contract`), so it has no
    signature of its own to keep in step with theirs.

    Parameters
    ----------
    query : callable
        The strategy whose backend this is (unused: the terms say what it scores).
    classifier, n_instances, gamma, embedding, reading, reg_lambda, exact, X_labelled, y_labelled, layer, batch_size, random_state
        The strategy's arguments; ``random_state`` is ignored, as by the strategies.
    X_pool : dask.array.Array of shape (n_pool, ...)
        Chunked along rows only.
    terms : tuple of str
        One or two of :data:`SCORE_TERMS`, the distance last.
    highest : bool, default=False
        Take the highest combined scores (entropy + D) instead of the lowest.
    distance_cache : None
        A cache cannot follow a Dask pool; anything but None is refused.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Pool indices, best first; ties to the lower index.
    query_scores : ndarray of shape (n_instances,)

    Notes
    -----
    One pass over the pool yields each term per chunk, a function of the pool
    point's own outputs and of the labelled summaries (:func:`importance_summary`,
    the labelled codes and cells), so every chunk is scored independently. With two
    terms, two scalar reductions give their maxima and the score is

    .. math::  \frac{T(x_i)}{\max_j |T(x_j)|} \mp \gamma \frac{D(x_i)}{\max_j D(x_j)}
               \quad (4)

    (minus for IBAL-D, lowest first; plus for entropy + D, highest first). The
    score columns (8 bytes a term and a pool point) stay on the workers until the
    maxima are known.
    """
    inputs = QueryInputs.check(classifier, X_pool, n_instances, X_labelled, y_labelled,
                               lazy_pool=True)
    refuse_distance_cache(distance_cache)
    reader, labelled, y_index = _read_labelled(inputs, layer, batch_size)
    parts: dict[str, Any] = {}
    if "importance" in terms:
        parts["importance"] = importance_summary(reader, labelled, y_index, reading=reading,
                                                 reg_lambda=reg_lambda, exact=exact)
    if "entropy" in terms:
        parts["entropy_of"] = fitted_estimator(classifier)
    if "distance" in terms:
        parts.update(embedding=embedding,
                     **_distance_summaries(X_pool, labelled, inputs.X_labelled, embedding))
    raw = pool_scores(X_pool, ChunkScorer(reader, **parts))  # [N, len(terms)]
    score = raw[:, 0]
    if len(terms) == 2:
        sign = 1.0 if highest else -1.0
        score = normalised(raw[:, 0]) + sign * gamma * normalised(raw[:, 1])
    select = dask_select_highest if highest else dask_select_lowest
    return select(score, inputs.n_instances)


def dask_rowwise_query(
    query: Callable,
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    highest: bool,
    X_labelled=None,
    y_labelled=None,
    random_state: Any = None,
    **options: Any,
) -> tuple[np.ndarray, np.ndarray]:
    r"""A strategy whose score of a pool point depends on that point alone, run on each chunk.

    The Dask backend of ``entropy_sampling`` and ``margin_sampling``: each worker runs
    ``query(estimator, chunk, len(chunk), **options)`` on its chunks, which returns
    every row's score, and the batch is reduced across chunks.

    Parameters
    ----------
    query : callable
        The strategy itself, an importable module-level function (it is pickled to
        the workers).
    classifier : modAL ActiveLearner or fitted estimator
    X_pool : dask.array.Array of shape (n_pool, ...)
        Chunked along rows only.
    n_instances : int, default=1
    highest : bool
        Whether the strategy takes the largest scores (entropy) or the smallest (margin).
    X_labelled, y_labelled, random_state
        Not used: the scores need only the model.
    **options
        The strategy's other keyword arguments.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Pool indices, best first; ties to the lower index.
    query_scores : ndarray of shape (n_instances,)

    Notes
    -----
    With :math:`s(x_i)` the strategy's score, the batch is
    :math:`\arg\max_{x_i} s(x_i)` (``highest``) or :math:`\arg\min_{x_i} s(x_i)`,
    :math:`B` points.
    """
    n_instances = check_dask_pool(X_pool, n_instances)
    estimator = fitted_estimator(classifier)
    check_single_output(estimator)
    check_n_features(estimator, X_pool, "X_pool")  # before a worker reads a chunk
    scorer = StrategyScorer(query, estimator, options)
    raw = pool_scores(X_pool, scorer)  # [N, 1]
    select = dask_select_highest if highest else dask_select_lowest
    return select(raw[:, 0], n_instances)


def dask_uniform_query(query: Callable, classifier, X_pool, n_instances: int = 1, *,
                       random_state: Any = None, **ignored: Any) -> tuple[np.ndarray, np.ndarray]:
    """The Dask backend of ``random_sampling``: the draws need only the pool's length.

    The pool is never read, and the picks are those of the same pool in memory
    (the same draws from ``random_state``, the smallest first).
    """
    n_instances = check_dask_pool(X_pool, n_instances)
    draws = make_random_state(random_state).random_sample(X_pool.shape[0])  # [N]
    return select_lowest(draws, n_instances)
