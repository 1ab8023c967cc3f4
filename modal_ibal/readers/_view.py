"""What a query sees: the fitted model, the labelled set and the pool.

modAL calls a strategy as ``strategy(classifier, X_pool, n_instances, **kwargs)``
with ``classifier`` the ``ActiveLearner`` (model ``estimator``, labelled set
``X_training``/``y_training``). Every strategy of the package also takes a bare
fitted estimator with ``X_labelled``/``y_labelled``. This module turns either
into the model and the labelled set (:func:`resolve_labelled_set`) and reads the
model's final layer on both, at most once per query (:func:`model_view`). The
coverage strategies also start cold, from no labels and an unfitted model
(:func:`modal_ibal.readers.model_and_labels`, :data:`COLD_START_STRATEGIES`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.exceptions import NotFittedError

from .._utils.validation import check_positive_int, check_samples, n_samples
from ._last_layer import check_fitted, check_n_features, last_layer, named_input_errors
from ._outputs import (
    DEFAULT_BATCH_SIZE,
    LastLayer,
    LastLayerOutputs,
    can_stream,
    chunk_rows,
    outputs_in_chunks,
    read_probabilities,
)

__all__ = [
    "COLD_START_STRATEGIES",
    "LabelledView",
    "checked_labelled_set",
    "fitted_estimator",
    "is_fitted",
    "labelled_arguments",
    "model_view",
    "resolve_labelled_set",
    "unwrap_learner",
]


@dataclass(frozen=True)
class LabelledView:
    """A fitted model's view of the pool and of the labelled set, read once per query.

    The labelled set is read when the view is made; the pool when first asked for,
    whole (:attr:`pool`, kept) or chunk by chunk (:meth:`pool_chunks`, not kept). A
    view belongs to one query: it must not outlive a refit of the model.

    Attributes
    ----------
    layer : LastLayer
        The reader of the model's final linear layer.
    X_pool : array-like of shape (n_pool, ...)
        The pool samples, validated.
    labelled : LastLayerOutputs
        Final-layer features, logits and probabilities of the labelled set.
    y_index : ndarray of shape (n_labelled,)
        Labelled classes as indices into ``layer.classes_``.
    X_labelled : array-like of shape (n_labelled, ...)
        The labelled samples, for embeddings other than the model's features.
    """

    layer: LastLayer
    X_pool: Any
    labelled: LastLayerOutputs
    y_index: np.ndarray
    X_labelled: Any

    def __post_init__(self):
        if isinstance(self.X_pool, LastLayerOutputs):
            raise TypeError(
                "LabelledView takes the pool samples as 'X_pool'; to give the pool's outputs "
                "read already, use LabelledView.with_pool_outputs."
            )

    @classmethod
    def with_pool_outputs(cls, layer: LastLayer, X_pool: Any, pool: LastLayerOutputs,
                          labelled: LastLayerOutputs, y_index: np.ndarray,
                          X_labelled: Any) -> LabelledView:
        """A view whose pool outputs were read already: ``pool`` is kept as :attr:`pool`."""
        view = cls(layer, X_pool, labelled, y_index, X_labelled)
        view.__dict__["pool"] = pool  # what the cached property would have stored
        return view

    @functools.cached_property
    def pool(self) -> LastLayerOutputs:
        """Final-layer features, logits and probabilities of the whole pool (read once)."""
        with named_input_errors("X_pool"):
            return self.layer.outputs(self.X_pool)

    @property
    def _streams(self) -> bool:
        """Whether the pool is read chunk by chunk: not read whole yet, and streamable."""
        return "pool" not in self.__dict__ and can_stream(self.layer, self.X_pool)

    def pool_probabilities(self) -> np.ndarray:
        """:math:`p(y|x)` of every pool point, ndarray of shape (n_pool, n_classes).

        Streamed where :meth:`pool_chunks` streams: then only the probabilities of
        the whole pool are held; otherwise from :attr:`pool`.
        """
        if self._streams:
            with named_input_errors("X_pool"):
                return read_probabilities(self.layer, self.X_pool)
        return self.pool.probas

    def pool_chunks(self, rows: int) -> Iterator[tuple[slice, LastLayerOutputs]]:
        """The pool's outputs chunk by chunk, in order: ``(rows_slice, outputs)``.

        Chunks of ``rows`` rounded up to the reader's ``row_block``
        (:func:`modal_ibal.readers._outputs.chunk_rows`), read and let go one at a time where
        that gives the outputs of one read bitwise
        (:func:`modal_ibal.readers._outputs.outputs_in_chunks`), so that the whole pool's
        features are never held; otherwise, or once :attr:`pool` has been read,
        the same chunks sliced from :attr:`pool`.
        """
        if self._streams:
            with named_input_errors("X_pool"):
                yield from outputs_in_chunks(self.layer, self.X_pool, rows)
            return
        pool = self.pool
        step = chunk_rows(self.layer, rows)
        for start in range(0, len(pool.probas), step):
            chunk = slice(start, start + step)
            yield chunk, LastLayerOutputs(pool.features[chunk], pool.logits[chunk],
                                          pool.probas[chunk])


def unwrap_learner(classifier) -> tuple[Any, bool]:
    """(estimator, is_learner): the model inside a modAL learner, or the estimator itself."""
    is_learner = hasattr(classifier, "estimator") and hasattr(classifier, "X_training")
    return (classifier.estimator if is_learner else classifier), is_learner


def fitted_estimator(classifier):
    """The fitted model inside an ``ActiveLearner``, or the bare fitted estimator.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the model is not fitted.
    """
    estimator, _ = unwrap_learner(classifier)
    _check_fitted_for_query(estimator)
    return estimator


COLD_START_STRATEGIES: list[str] = []
"""The strategies that pick a first batch from zero labels and an unfitted model.

Each declares itself (``follows_contract(cold_start=True)``); the error for a
missing labelled set or an unfitted model names them, in alphabetical order.
"""


def _cold_start_hint() -> str:
    names = sorted(COLD_START_STRATEGIES)
    listed = ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else "".join(names)
    return f"To pick the first labels from none, use a cold-start strategy: {listed}."


def is_fitted(estimator) -> bool:
    """Whether ``estimator`` is fitted (skorch: initialised and trained; scikit-learn: fitted)."""
    try:
        check_fitted(estimator)
    except NotFittedError:
        return False
    return True


def resolve_labelled_set(classifier, X_labelled=None, y_labelled=None) -> tuple[Any, Any, Any]:
    """Split what modAL passes into (estimator, X_labelled, y_labelled); the model must be fitted.

    Parameters
    ----------
    classifier : modAL ActiveLearner or fitted estimator
    X_labelled, y_labelled : array-like, optional
        Override (or, for a bare estimator, supply) the labelled set.

    Returns
    -------
    (estimator, X_labelled, y_labelled)

    Raises
    ------
    ValueError
        When there is no labelled set; the message names the cold-start strategies.
    sklearn.exceptions.NotFittedError
        When the model is not fitted; the message names them too.
    """
    estimator, is_learner = unwrap_learner(classifier)
    X_labelled, y_labelled = labelled_arguments(classifier, is_learner, X_labelled, y_labelled)
    if X_labelled is None or y_labelled is None:
        where = (
            "the ActiveLearner has no training data yet (give it X_training and y_training)"
            if is_learner
            else "pass X_labelled=... and y_labelled=... with a bare estimator"
        )
        raise ValueError(
            f"This strategy needs a fitted model and a labelled set, but {where}. "
            + _cold_start_hint()
        )
    _check_fitted_for_query(estimator)
    return estimator, *checked_labelled_set(X_labelled, y_labelled)


def _check_fitted_for_query(estimator) -> None:
    """``check_fitted``, its message naming the strategies that need no fitted model."""
    try:
        check_fitted(estimator)
    except NotFittedError as error:
        raise NotFittedError(f"{error} {_cold_start_hint()}") from error


def labelled_arguments(classifier, is_learner: bool, X_labelled, y_labelled) -> tuple[Any, Any]:
    """The labelled set given, else the learner's ``X_training``/``y_training``."""
    if is_learner:
        X_labelled = classifier.X_training if X_labelled is None else X_labelled
        y_labelled = classifier.y_training if y_labelled is None else y_labelled
    return X_labelled, y_labelled


def checked_labelled_set(X_labelled, y_labelled, *, allow_empty: bool = False
                          ) -> tuple[Any, Any]:
    X_labelled = check_samples(X_labelled, "X_labelled", allow_empty=allow_empty)
    if n_samples(y_labelled) != n_samples(X_labelled):
        raise ValueError(
            f"The labelled set has {n_samples(X_labelled)} samples but {n_samples(y_labelled)} "
            "labels."
        )
    return X_labelled, y_labelled


def model_view(estimator, X_pool, X_labelled, y_labelled, *, layer: str | None = None,
               batch_size: int = DEFAULT_BATCH_SIZE) -> LabelledView:
    """The :class:`LabelledView` of a fitted ``estimator`` on checked samples.

    As :func:`~modal_ibal.readers.labelled_view` once the pool and the labelled set are checked and
    of the same sample shape (:class:`~modal_ibal.readers.QueryInputs`);
    an empty labelled set (a cold start with a fitted model) is allowed: the pool
    is then read whole at once, and the labelled outputs are its first zero rows.
    """
    reader = last_layer(estimator, layer=layer,
                        batch_size=check_positive_int(batch_size, "batch_size"))
    check_n_features(estimator, X_pool, "X_pool")
    y_index = reader.encode_labels(y_labelled)
    if n_samples(X_labelled) == 0:
        with named_input_errors("X_pool"):
            pool = reader.outputs(X_pool)
        empty = LastLayerOutputs(pool.features[:0], pool.logits[:0], pool.probas[:0])
        return LabelledView.with_pool_outputs(reader, X_pool, pool, empty, y_index, X_labelled)
    with named_input_errors("X_labelled"):
        labelled = reader.outputs(X_labelled)
    return LabelledView(reader, X_pool, labelled, y_index, X_labelled)
