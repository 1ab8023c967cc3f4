"""Scoring a Dask pool where it lives: the model sent once to the workers.

The model and the labelled summaries sent once to the
workers (a model they cannot load fails within a minute, with its reason), then every row chunk
scored by the same code as an in-memory pool.

On a ``distributed`` cluster the model load waits 60 s at most (less when
:func:`modal_ibal._utils.dask_waits.query_timeout` is shorter), so a query whose
workers are gone fails with what to look at instead of waiting forever.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._utils.dask_waits import no_result, query_timeout, running_client, workers_died
from ..embedding import embed, representation_codes
from ..readers import LastLayer, pool_probabilities
from ..scoring import (
    ImportanceSummary,
    margin_weights,
    modal_entropy,
    tempered_probabilities,
)
from ..search import LabelledCells, nearest_labelled_distance

__all__ = [
    "WORKER_LOAD_TIMEOUT",
    "ChunkScorer",
    "CodeScorer",
    "StrategyScorer",
    "pool_scores",
    "refuse_distance_cache",
    "ship_scorer",
]


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


@dataclass(frozen=True)
class ChunkScorer:
    """Columns (importance, entropy, distance: those asked for) of one pool chunk.

    ``entropy_of`` is the fitted estimator whose probabilities give the entropy
    column, as :func:`modal_ibal.readers.pool_probabilities` reads them in memory.
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
        """The [b, n_columns] float64 columns of one chunk of ``b`` rows."""
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
class CodeScorer:
    r"""Kernel herding's codes of one pool chunk, then its margin weight when asked for.

    The chunk's rows in ``representation`` (as
    :func:`modal_ibal.embedding.representation_codes` maps an in-memory pool),
    cast to ``dtype`` (the caller scales them as herding's kernel sees them);
    with ``margins``, one more column (and with ``predictions`` another, the most
    probable class, for class-balanced weights):
    :func:`modal_ibal.scoring.margin_weights` of the model's
    probabilities, or of :math:`\operatorname{softmax}(\phi / T)` with a
    ``temperature``. ``layer`` reads the model (None when neither needs it);
    ``X_empty`` is the labelled set's first zero rows, for the dtype rule.
    """

    representation: Any
    layer: LastLayer | None
    X_empty: np.ndarray
    dtype: np.dtype
    n_dims: int
    margins: bool = False
    temperature: float | None = None
    predictions: bool = False

    @property
    def n_columns(self) -> int:
        """The codes' width, plus one for the margin weight and one for the predicted class."""
        return self.n_dims + self.margins + self.predictions

    def __call__(self, block: np.ndarray) -> np.ndarray:
        """The [b, d (+ 1)] float64 columns of one chunk of ``b`` rows."""
        with _MODEL_LOCK:
            outputs = None if self.layer is None else self.layer.outputs(block)
            _, codes = representation_codes(self.representation, block, self.X_empty,
                                            lambda: (outputs.features[:0], outputs.features))
        columns = np.empty((block.shape[0], self.n_columns))  # [b, d (+ 1)]
        columns[:, :self.n_dims] = codes.astype(self.dtype, copy=False)
        if self.margins:
            probas = (outputs.probas if self.temperature is None
                      else tempered_probabilities(outputs.logits, self.temperature))
            columns[:, self.n_dims] = margin_weights(probas)
            if self.predictions:
                columns[:, self.n_dims + 1] = np.argmax(probas, axis=1)
        return columns


@dataclass(frozen=True)
class StrategyScorer:
    """The scores an in-memory strategy gives every row of one chunk."""

    strategy: Callable
    estimator: Any
    options: dict
    n_columns: int = 1

    def __call__(self, block: np.ndarray) -> np.ndarray:
        """The [b, 1] float64 scores of one chunk of ``b`` rows."""
        with _MODEL_LOCK:
            indices, scores = self.strategy(self.estimator, block, block.shape[0],
                                            **self.options)
        column = np.empty((block.shape[0], 1))  # [b, 1]
        column[indices, 0] = scores
        return column


def _score_chunk(block: np.ndarray, scorer, block_info=None) -> np.ndarray:
    """Run ``scorer`` on one row chunk after checking that its values are finite.

    An empty chunk (as a boolean mask and ``compute_chunk_sizes`` leave) gets its
    ``(0, n_columns)`` result here, with no model, embedding or strategy call.
    """
    if block.shape[0] == 0:
        return np.empty((0, scorer.n_columns))
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


def ship_scorer(scorer: Any, *, timeout: float | None = None) -> Any:
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

    Parameters
    ----------
    scorer : object
        A picklable chunk scorer.
    timeout : float, optional
        Seconds the workers get to load it; default :data:`WORKER_LOAD_TIMEOUT`,
        or :func:`~modal_ibal._utils.dask_waits.query_timeout` where that is shorter.

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

    client = running_client()
    if client is None:  # local threads
        return dask.delayed(scorer, traverse=False)  # one task: each thread shares it
    import distributed
    from distributed.protocol import pickle

    if timeout is None:
        timeout = min(WORKER_LOAD_TIMEOUT, query_timeout())
    future = client.submit(_loads, pickle.dumps(scorer), pure=False)
    try:  # waited on through the future's own client, default or not
        error = future.exception(timeout=timeout)
    except TimeoutError:
        future.release()
        raise no_result("No Dask worker loaded the model", timeout, client) from None
    if error is not None:  # whatever stopped the load: the workers cannot use it
        future.release()
        if isinstance(error, distributed.KilledWorker):  # the load itself kills the workers
            raise workers_died(error) from error
        raise TypeError(
            "The Dask workers cannot load the model: "
            f"{type(error).__name__}: {error}. A worker process imports the model's classes "
            "by name: define the torch module class in an importable module, not under "
            "`if __name__ == '__main__':` or in a notebook cell."
        ) from error
    return future


def pool_scores(X_pool, scorer):
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
