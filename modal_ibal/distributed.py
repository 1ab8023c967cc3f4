r"""Pools larger than one machine: the query strategies on a Dask array chunked along rows.

``ibal_sampling``, ``ibal_distance_sampling``, ``entropy_distance_sampling``,
``entropy_sampling`` and ``margin_sampling`` hand a ``dask.array.Array`` pool to
this module, which scores it where it lives:

1. the labelled set is read here, in the calling process: its final-layer
   outputs, the class sums :math:`S_c`, :math:`\kappa`, the refit last layer when
   asked for, and its codes in the embedding of :math:`D` (all of size
   :math:`O(n d)`);
2. the fitted model and those summaries, pickled, are loaded by one worker task
   (:func:`ship_scorer`) whose result every chunk task shares, so they cross the
   network once per query, not once per chunk; a model the workers cannot load
   fails there with its reason, and a worker that dies can have them rebuilt;
3. every row chunk is read and scored on the worker that holds it, by the same
   code as an in-memory pool (the reader of :func:`modal_ibal.extract.last_layer`
   moves each batch to the module's device, so CUDA workers run the forward pass
   on their GPU);
4. IBAL-D and entropy + D divide each term by its maximum over the pool: two
   scalar reductions, inside the same graph;
5. the batch is a tree reduction of (score, pool index) pairs, so ties go to the
   lower pool index exactly as :func:`modal_ibal.selection.select_lowest` breaks
   them, and only the :math:`B` indices and their scores reach the caller.

One ``compute`` runs a query, on whatever scheduler is active: a
``distributed.Client`` when one is set up, else Dask's local threads.

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

import functools
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import (
    check_n_instances,
    check_nonnegative_float,
    check_positive_int,
    check_same_sample_shape,
    check_scores,
    is_dask_array,
)
from .distance import nearest_labelled_distance, uses_cells
from .embedding import check_embedding, embed
from .extract import DEFAULT_BATCH_SIZE, LastLayer, LastLayerOutputs, last_layer
from .labelled_cells import LabelledCells
from .learner import fitted_estimator, resolve_labelled_set
from .representer import DEFAULT_READING, ImportanceSummary, importance_summary
from .scores import DEFAULT_GAMMA, modal_entropy, pool_probabilities

__all__ = [
    "check_dask_pool",
    "dask_entropy_distance_sampling",
    "dask_ibal_distance_sampling",
    "dask_ibal_sampling",
    "dask_rowwise_sampling",
    "dask_select_highest",
    "dask_select_lowest",
    "is_dask_array",
    "refuse_distance_cache",
    "ship_scorer",
]

_KEY = np.dtype([("score", np.float64), ("index", np.int64)])
# A module's forward hook and train/eval flags are shared by every thread of a process:
# chunks scored by threads of one worker take turns in the model.
_MODEL_LOCK = threading.Lock()


def refuse_distance_cache(distance_cache: Any) -> None:
    """A Dask pool is scored on the workers: a distance cache (in this process) cannot serve it."""
    if distance_cache is not None:
        raise ValueError(
            "The 'distance_cache' parameter keeps one in-memory pool's distances between rounds "
            "and cannot serve a Dask pool, whose chunks are scored on the workers. Pass "
            "distance_cache=None with a Dask pool."
        )


def check_dask_pool(X_pool: Any, n_instances: Any) -> int:
    """Check a Dask pool and the batch size; return ``n_instances`` as an int.

    Parameters
    ----------
    X_pool : dask.array.Array of shape (n_pool, ...)
        Numeric, chunked along rows only, with known row chunk sizes.
    n_instances : int
        Batch size, in ``[1, n_pool]``.

    Returns
    -------
    int

    Raises
    ------
    TypeError
        If ``X_pool`` is not a Dask array of numbers, or ``n_instances`` not an int.
    ValueError
        If ``X_pool`` has fewer than 2 dimensions, unknown row chunk sizes, more
        than one chunk along any other axis, or no rows; or ``n_instances`` is
        out of range.
    """
    if not is_dask_array(X_pool):
        raise TypeError(
            f"The 'X_pool' parameter must be a dask.array.Array. Got {type(X_pool).__name__} "
            "instead."
        )
    if X_pool.dtype.kind not in "iuf":
        raise TypeError(
            f"The 'X_pool' parameter must hold numbers. Got a Dask array of dtype {X_pool.dtype} "
            "instead."
        )
    if X_pool.ndim < 2:
        raise ValueError(
            "The 'X_pool' parameter must have one row per sample (2-D for vectors, "
            f"(n_samples, channels, height, width) for images). Got shape {X_pool.shape} instead."
        )
    if any(np.isnan(size) for size in X_pool.chunks[0]):
        raise ValueError(
            "The 'X_pool' Dask array has unknown row chunk sizes (as after boolean indexing "
            "with a Dask mask); call X_pool.compute_chunk_sizes() before querying."
        )
    for axis, chunks in enumerate(X_pool.chunks[1:], start=1):
        if len(chunks) > 1:
            raise ValueError(
                f"The 'X_pool' Dask array must be chunked along rows only, so that every chunk "
                f"holds whole samples. It has {len(chunks)} chunks along axis {axis}; rechunk it "
                f"first, e.g. X_pool.rechunk({{0: 'auto', {axis}: -1}})."
            )
    if X_pool.shape[0] == 0:
        raise ValueError("The 'X_pool' parameter is empty: it holds no samples.")
    return check_n_instances(n_instances, int(X_pool.shape[0]))


@dataclass(frozen=True)
class _ChunkScorer:
    """Columns (importance, entropy, distance: those asked for) of one pool chunk.

    ``entropy_of`` is the fitted estimator whose probabilities give the entropy
    column, as :func:`modal_ibal.scores.pool_probabilities` reads them in memory.
    """

    layer: LastLayer
    importance: ImportanceSummary | None = None
    entropy_of: Any = None
    Z_labelled: np.ndarray | None = None
    embedding: Any = None
    labelled_cells: LabelledCells | None = None  # of Z_labelled, built once per query

    @property
    def n_columns(self) -> int:
        return sum(part is not None for part in (self.importance, self.entropy_of,
                                                 self.Z_labelled))

    def __call__(self, block: np.ndarray) -> np.ndarray:
        with _MODEL_LOCK:
            outputs = self.layer.outputs(block)
            codes = probas = None
            if self.Z_labelled is not None and self.embedding is not None:
                codes = embed(self.embedding, block)
            if self.entropy_of is not None:
                probas = pool_probabilities(self.entropy_of, block, len(block), outputs=outputs)
        columns = []
        if self.importance is not None:
            columns.append(self.importance.scores(self.layer, outputs))  # [b]
        if probas is not None:
            columns.append(modal_entropy(probas))  # [b]
        if self.Z_labelled is not None:
            Z = outputs.features if codes is None else codes
            columns.append(nearest_labelled_distance(Z, self.Z_labelled,
                                                     cells=self.labelled_cells))  # [b]
        return np.column_stack(columns)  # [b, k]


@dataclass(frozen=True)
class _StrategyScorer:
    """The scores an in-memory strategy gives every row of one chunk."""

    strategy: Callable
    estimator: Any
    options: dict
    n_columns: int = 1

    def __call__(self, block: np.ndarray) -> np.ndarray:
        with _MODEL_LOCK:
            indices, scores = self.strategy(self.estimator, block, block.shape[0],
                                            **self.options)
        column = np.empty((block.shape[0], 1))  # [b, 1]
        column[indices, 0] = scores
        return column


def _score_chunk(block: np.ndarray, scorer, block_info=None) -> np.ndarray:
    """Run ``scorer`` on one row chunk after checking that its values are finite."""
    if block.dtype.kind == "f" and not np.isfinite(block).all():
        start, stop = block_info[0]["array-location"][0]
        raise ValueError(
            f"The 'X_pool' parameter holds NaN or infinite values in rows {start} to {stop - 1}."
        )
    return scorer(block)


WORKER_LOAD_TIMEOUT = 60.0  # seconds a worker gets to load the model before the query fails


def _loads(payload: bytes) -> Any:
    """Load a pickled scorer on a worker: run as a task, so that its error comes back."""
    from distributed.protocol import pickle

    return pickle.loads(payload)


def ship_scorer(scorer: Any, *, timeout: float = WORKER_LOAD_TIMEOUT) -> Any:
    """``scorer`` as the chunk tasks receive it: loaded once per query, where they run.

    With a running ``distributed.Client``, the pickled scorer (the model and the
    labelled summaries) is loaded by one worker task, whose result the chunk
    tasks share, so the model crosses the network once. A model whose classes a
    worker process cannot import (a torch module defined under
    ``if __name__ == "__main__":`` or in a notebook cell) would otherwise make a
    worker fail to read the task that holds it, and the query wait forever; as
    data loaded inside a task, the error comes back. When the query computes
    on local threads instead (no client set up, the one set up closed, or a
    local scheduler chosen with ``dask.config.set``), they share this process's
    classes: the scorer is one delayed object.

    Returns
    -------
    distributed.Future or dask.delayed.Delayed

    Raises
    ------
    TypeError
        When a worker cannot load the model; the message says why and what to do.
    TimeoutError
        When no worker has loaded it within ``timeout`` seconds.
    """
    import dask
    from dask.base import get_scheduler

    client = getattr(get_scheduler(), "__self__", None)  # the Client whose get would compute
    distributed = sys.modules.get("distributed")  # imported wherever a Client exists
    if distributed is None or not isinstance(client, distributed.Client) \
            or client.status != "running":  # local threads
        return dask.delayed(scorer, traverse=False)  # one task: each thread shares it
    from distributed import wait
    from distributed.protocol import pickle

    future = client.submit(_loads, pickle.dumps(scorer), pure=False)
    try:
        wait(future, timeout=timeout)
    except TimeoutError:
        future.release()
        raise TimeoutError(
            f"No Dask worker loaded the model within {timeout:g} s; check that the cluster "
            "has running workers."
        ) from None
    if future.status == "error":  # whatever stopped the load: the workers cannot use it
        error = future.exception()
        future.release()
        raise TypeError(
            "The Dask workers cannot load the model: "
            f"{type(error).__name__}: {error}. A worker process imports the model's classes "
            "by name: define the torch module class in an importable module, not under "
            "`if __name__ == '__main__':` or in a notebook cell."
        ) from error
    return future


def _pool_scores(X_pool, scorer):
    """A lazy (n_pool, n_columns) float64 array of ``scorer`` over the row chunks of the pool."""
    shipped = ship_scorer(scorer)
    return X_pool.map_blocks(
        _score_chunk,
        shipped,
        chunks=(X_pool.chunks[0], (scorer.n_columns,)),
        drop_axis=list(range(2, X_pool.ndim)),
        dtype=np.float64,
        meta=np.empty((0, 0)),
    )


def _normalised(values):
    """``values / max |values|`` as :func:`modal_ibal.normalise_by_max`, lazily."""
    import dask.array as da

    largest = abs(values).max()
    return values / da.where(largest > 0, largest, 1.0)  # an all-zero column stays zero


def _keys(scores: np.ndarray, index: np.ndarray) -> np.ndarray:
    """(score, pool index) records of one chunk."""
    keys = np.empty(scores.shape[0], dtype=_KEY)
    keys["score"] = check_scores(np.asarray(scores, dtype=np.float64), "query")
    keys["index"] = index
    return keys


def _lowest_keys(keys: np.ndarray, axis=None, keepdims=None, *, n_instances: int) -> np.ndarray:
    """The ``n_instances`` smallest records, ordered by score and then by pool index."""
    if keys.shape[0] > n_instances:
        threshold = np.partition(keys["score"], n_instances - 1)[n_instances - 1]
        keys = keys[keys["score"] <= threshold]  # every candidate, ties at the threshold too
    order = np.lexsort((keys["index"], keys["score"]))[:n_instances]
    return keys[order]


def dask_select_lowest(scores, n_instances: int = 1) -> tuple[np.ndarray, np.ndarray]:
    r"""Indices and values of the ``n_instances`` smallest scores of a Dask array.

    The same batch as :func:`modal_ibal.select_lowest` on the computed scores,
    ties to the lower pool index, by a tree reduction: each chunk keeps its
    ``n_instances`` best (score, index) pairs and the reduction merges them, so
    only those pairs move between workers.

    Parameters
    ----------
    scores : dask.array.Array of shape (n_pool,)
    n_instances : int, default=1

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Smallest score first.
    query_scores : ndarray of shape (n_instances,)

    Notes
    -----
    Pool point :math:`i` is chosen when fewer than :math:`B` points come before it
    in the lexicographic order

    .. math::  (s_j, j) < (s_i, i) \iff s_j < s_i \ \text{or}\ (s_j = s_i \ \text{and}\ j < i).

    Cost: :math:`O(N)` over the chunks, :math:`O(B \log B)` per merge.
    """
    import dask.array as da

    if not is_dask_array(scores) or scores.ndim != 1:
        raise TypeError(
            "The 'scores' parameter must be a 1-D dask.array.Array. Got "
            f"{type(scores).__name__} of shape {getattr(scores, 'shape', None)} instead."
        )
    n_instances = check_n_instances(n_instances, int(scores.shape[0]))
    index = da.arange(scores.shape[0], chunks=scores.chunks[0], dtype=np.int64)
    keys = da.map_blocks(_keys, scores, index, dtype=_KEY, meta=np.empty(0, dtype=_KEY))
    lowest = functools.partial(_lowest_keys, n_instances=n_instances)
    best = da.reduction(
        keys, chunk=lowest, combine=lowest, aggregate=lowest, axis=0, keepdims=True,
        dtype=_KEY, output_size=n_instances, concatenate=True, meta=np.empty(0, dtype=_KEY),
    ).compute()
    return best["index"].astype(np.intp), best["score"]


def dask_select_highest(scores, n_instances: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``n_instances`` largest scores of a Dask array, largest first.

    As :func:`modal_ibal.select_highest`; see :func:`dask_select_lowest`.
    """
    indices, negated = dask_select_lowest(-scores, n_instances)
    return indices, -negated


def _read_labelled(classifier, X_pool, X_labelled, y_labelled, layer, batch_size):
    """(reader, labelled outputs, labelled classes, X_labelled), read in this process."""
    estimator, X_labelled, y_labelled = resolve_labelled_set(classifier, X_labelled, y_labelled)
    check_same_sample_shape(X_pool, X_labelled)
    reader = last_layer(estimator, layer=layer,
                        batch_size=check_positive_int(batch_size, "batch_size"))
    return reader, reader.outputs(X_labelled), reader.encode_labels(y_labelled), X_labelled


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


def dask_ibal_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    reading: str = DEFAULT_READING,
    reg_lambda: float | None = None,
    exact: bool = False,
    X_labelled=None,
    y_labelled=None,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    r"""IBAL (Eq. 2) on a Dask pool: :func:`modal_ibal.ibal_sampling`, chunk by chunk.

    Parameters
    ----------
    classifier, n_instances, reading, reg_lambda, exact, X_labelled, y_labelled, layer, batch_size
        As in :func:`modal_ibal.ibal_sampling`.
    X_pool : dask.array.Array of shape (n_pool, ...)
        Chunked along rows only.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Pool indices, lowest score first; ties to the lower index.
    query_scores : ndarray of shape (n_instances,)

    Notes
    -----
    .. math::  \arg\min_{x_i} \mathrm{IBAL}(x_i), \qquad
               \mathrm{IBAL}(x_i) = F(f_i, \phi_i;\ S_1 \dots S_C, \kappa)

    a function of the pool point's own outputs and of the labelled summaries
    (:func:`importance_summary`), so every chunk is scored independently.
    """
    n_instances = check_dask_pool(X_pool, n_instances)
    reader, labelled, y_index, _ = _read_labelled(classifier, X_pool, X_labelled, y_labelled,
                                                  layer, batch_size)
    summary = importance_summary(reader, labelled, y_index, reading=reading,
                                 reg_lambda=reg_lambda, exact=exact)
    raw = _pool_scores(X_pool, _ChunkScorer(reader, importance=summary))  # [N, 1]
    return dask_select_lowest(raw[:, 0], n_instances)


def dask_ibal_distance_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    gamma: float = DEFAULT_GAMMA,
    embedding: Any = None,
    reading: str = DEFAULT_READING,
    reg_lambda: float | None = None,
    exact: bool = False,
    X_labelled=None,
    y_labelled=None,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    r"""IBAL-D (Eq. 4-5) on a Dask pool: :func:`modal_ibal.ibal_distance_sampling`, chunk by chunk.

    Parameters
    ----------
    classifier, n_instances, gamma, embedding, reading, reg_lambda, exact, X_labelled, y_labelled, layer, batch_size
        As in :func:`modal_ibal.ibal_distance_sampling`.
    X_pool : dask.array.Array of shape (n_pool, ...)
        Chunked along rows only.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
    query_scores : ndarray of shape (n_instances,)
        Their IBAL-D scores.

    Notes
    -----
    One pass over the pool yields :math:`\mathrm{IBAL}(x_i)` and :math:`D(x_i)` per
    chunk; two scalar reductions give the maxima, and the batch is

    .. math::  \arg\min_{x_i} \frac{\mathrm{IBAL}(x_i)}{\max_j |\mathrm{IBAL}(x_j)|}
               - \gamma \frac{D(x_i)}{\max_j D(x_j)}   \quad (4, 5)

    The two score columns (16 bytes a pool point) stay on the workers until the
    maxima are known.
    """
    n_instances = check_dask_pool(X_pool, n_instances)
    gamma = check_nonnegative_float(gamma, "gamma")
    check_embedding(embedding)
    reader, labelled, y_index, X_labelled = _read_labelled(classifier, X_pool, X_labelled,
                                                           y_labelled, layer, batch_size)
    summary = importance_summary(reader, labelled, y_index, reading=reading,
                                 reg_lambda=reg_lambda, exact=exact)
    scorer = _ChunkScorer(reader, importance=summary, embedding=embedding,
                          **_distance_summaries(X_pool, labelled, X_labelled, embedding))
    raw = _pool_scores(X_pool, scorer)  # [N, 2]: importance, distance
    return dask_select_lowest(_normalised(raw[:, 0]) - gamma * _normalised(raw[:, 1]),
                              n_instances)


def dask_entropy_distance_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    gamma: float = DEFAULT_GAMMA,
    embedding: Any = None,
    X_labelled=None,
    y_labelled=None,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Entropy + D on a Dask pool: :func:`modal_ibal.entropy_distance_sampling`, chunk by chunk.

    Parameters
    ----------
    classifier, n_instances, gamma, embedding, X_labelled, y_labelled, layer, batch_size
        As in :func:`modal_ibal.entropy_distance_sampling`.
    X_pool : dask.array.Array of shape (n_pool, ...)
        Chunked along rows only.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
    query_scores : ndarray of shape (n_instances,)

    Notes
    -----
    .. math::  \arg\max_{x_i} \frac{H(x_i)}{\max_j H(x_j)} + \gamma \frac{D(x_i)}{\max_j D(x_j)}

    with both maxima from scalar reductions over the pool, as in
    :func:`dask_ibal_distance_sampling`.
    """
    n_instances = check_dask_pool(X_pool, n_instances)
    gamma = check_nonnegative_float(gamma, "gamma")
    check_embedding(embedding)
    reader, labelled, _, X_labelled = _read_labelled(classifier, X_pool, X_labelled,
                                                     y_labelled, layer, batch_size)
    scorer = _ChunkScorer(reader, entropy_of=fitted_estimator(classifier), embedding=embedding,
                          **_distance_summaries(X_pool, labelled, X_labelled, embedding))
    raw = _pool_scores(X_pool, scorer)  # [N, 2]: entropy, distance
    return dask_select_highest(_normalised(raw[:, 0]) + gamma * _normalised(raw[:, 1]),
                               n_instances)


def dask_rowwise_sampling(
    strategy: Callable,
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    highest: bool,
    **options: Any,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Run an in-memory strategy whose scores are per row on a Dask pool, chunk by chunk.

    For strategies whose score of a pool point depends only on that point and the
    model (``entropy_sampling``, ``margin_sampling``): each worker runs
    ``strategy(estimator, chunk, len(chunk), **options)`` on its chunks, which
    returns every row's score, and the batch is reduced across chunks.

    Parameters
    ----------
    strategy : callable
        ``strategy(estimator, X, n_instances, **options) -> (indices, scores)``, an
        importable module-level function (it is pickled to the workers).
    classifier : modAL ActiveLearner or fitted estimator
    X_pool : dask.array.Array of shape (n_pool, ...)
        Chunked along rows only.
    n_instances : int, default=1
    highest : bool
        Whether ``strategy`` takes the largest scores (entropy) or the smallest (margin).
    **options
        Keyword arguments of ``strategy``.

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
    scorer = _StrategyScorer(strategy, fitted_estimator(classifier), options)
    raw = _pool_scores(X_pool, scorer)  # [N, 1]
    select = dask_select_highest if highest else dask_select_lowest
    return select(raw[:, 0], n_instances)
