"""A query's inputs, checked once at the strategy's door.

Every strategy starts with :meth:`QueryInputs.check`: the pool and the batch size
are checked (one scan of the pool), what modAL passes is split into the model and
the labelled set (checked too), and the model's view of both
(:class:`~modal_ibal.readers.LabelledView`) is read at most once, when first
asked for. Below the door the engines trust these arrays and do not check them
again.

A learner built without ``X_training``, or a bare estimator without
``X_labelled``, has no labelled set: a cold start, whose model may not be fitted
yet. The strategies that can start so declare it
(:data:`COLD_START_STRATEGIES`); the others are refused with a message that
names them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._utils.validation import check_dask_pool, check_pool, check_same_sample_shape, is_dask_array
from ._outputs import DEFAULT_BATCH_SIZE
from ._view import (
    LabelledView,
    checked_labelled_set,
    is_fitted,
    labelled_arguments,
    model_view,
    resolve_labelled_set,
    unwrap_learner,
)

__all__ = ["ModelAndLabels", "QueryInputs", "labelled_view", "model_and_labels"]


@dataclass(frozen=True)
class ModelAndLabels:
    """The model, whether it is fitted, and the labelled set (empty for a cold start).

    Attributes
    ----------
    estimator : estimator
        The model inside the learner, or the bare estimator (possibly unfitted).
    fitted : bool
        Whether the model can be read (features, probabilities).
    X_labelled : array-like of shape (n_labelled, ...)
        The labelled samples, checked; ``n_labelled`` may be 0.
    y_labelled : array-like of shape (n_labelled,)
    """

    estimator: Any
    fitted: bool
    X_labelled: Any
    y_labelled: Any

    def require_model(self, what: str) -> None:
        """Raise a clear ``ValueError`` naming ``what`` when the model is not fitted."""
        if not self.fitted:
            raise ValueError(
                f"{what} needs a fitted model, but the {type(self.estimator).__name__} is not "
                "fitted yet (a cold start): use representation='inputs' or a fitted embedding "
                "for the first batch."
            )


def model_and_labels(classifier, X_pool, X_labelled=None, y_labelled=None) -> ModelAndLabels:
    """The model and the labelled set, for a caller that can start from zero labels.

    Parameters
    ----------
    classifier : modAL ActiveLearner or estimator, fitted or not
    X_pool : array-like of shape (n_pool, ...)
        The checked pool: an empty labelled set takes its sample shape.
    X_labelled, y_labelled : array-like, optional
        Override (or, for a bare estimator, supply) the labelled set; a learner
        built without ``X_training`` and a bare estimator without them have none.

    Returns
    -------
    ModelAndLabels
    """
    estimator, is_learner = unwrap_learner(classifier)
    X_labelled, y_labelled = labelled_arguments(classifier, is_learner, X_labelled, y_labelled)
    if (X_labelled is None) != (y_labelled is None):
        given = "X_labelled" if y_labelled is None else "y_labelled"
        raise ValueError(
            f"The labelled set was given as '{given}' alone; give both X_labelled and "
            "y_labelled, or neither for a cold start."
        )
    if X_labelled is None:  # the pool's first zero rows: its sample shape, dtype and type
        X_labelled = X_pool[:0] if hasattr(X_pool, "shape") else np.empty((0, 0))
        y_labelled = np.empty(0, dtype=np.int64)
    else:
        X_labelled, y_labelled = checked_labelled_set(X_labelled, y_labelled, allow_empty=True)
    return ModelAndLabels(estimator, is_fitted(estimator), X_labelled, y_labelled)


@dataclass(frozen=True)
class QueryInputs(ModelAndLabels):
    """Everything one query reads, checked once (module docstring).

    Attributes
    ----------
    X_pool : array-like of shape (n_pool, ...)
        The checked pool.
    n_instances : int
        The checked batch size, at most ``n_pool``.
    """

    X_pool: Any
    n_instances: int
    _views: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def check(cls, classifier, X_pool, n_instances, X_labelled=None, y_labelled=None, *,
              cold_start: bool = False, lazy_pool: bool = False) -> QueryInputs:
        """The door: check a strategy's arguments and resolve the model and labelled set.

        Parameters
        ----------
        classifier, X_pool, n_instances, X_labelled, y_labelled
            As the strategy contract passes them.
        cold_start : bool, default=False
            Whether the strategy can work without labels or a fitted model; if
            not, both are required, with an error that names the strategies that can.
        lazy_pool : bool, default=False
            Whether a ``dask.array`` pool stays where its chunks live, as the
            Dask backends read it: its rows and chunks are checked, its values
            not scanned. Otherwise a pool is brought into memory and scanned once.

        Returns
        -------
        QueryInputs
        """
        if lazy_pool and is_dask_array(X_pool):
            n_instances = check_dask_pool(X_pool, n_instances)
        else:
            X_pool, n_instances = check_pool(X_pool, n_instances)
        if cold_start:
            known = model_and_labels(classifier, X_pool, X_labelled, y_labelled)
        else:
            estimator, X_labelled, y_labelled = resolve_labelled_set(classifier, X_labelled,
                                                                     y_labelled)
            known = ModelAndLabels(estimator, True, X_labelled, y_labelled)
        check_same_sample_shape(X_pool, known.X_labelled)
        return cls(known.estimator, known.fitted, known.X_labelled, known.y_labelled, X_pool,
                   n_instances)

    def view(self, *, layer: str | None = None,
             batch_size: int = DEFAULT_BATCH_SIZE) -> LabelledView:
        """The fitted model's view of the labelled set and the pool, read once per query."""
        key = (layer, batch_size)
        if key not in self._views:
            self._views[key] = model_view(self.estimator, self.X_pool, self.X_labelled,
                                          self.y_labelled, layer=layer, batch_size=batch_size)
        return self._views[key]


def labelled_view(
    classifier,
    X_pool,
    *,
    X_labelled=None,
    y_labelled=None,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> LabelledView:
    """Validate the inputs, read the final layer on the labelled set, and on the pool when asked.

    The door of a query (:meth:`QueryInputs.check`, with a batch of one), then its view.

    Parameters
    ----------
    classifier : modAL ActiveLearner or fitted estimator
    X_pool : array-like of shape (n_pool, ...)
    X_labelled, y_labelled : array-like, optional
        The labelled set; default the learner's ``X_training``/``y_training``.
    layer : str, optional
        Name of the final ``nn.Linear`` of a skorch module.
    batch_size : int, default=4096
        Samples per forward pass.

    Returns
    -------
    LabelledView
    """
    inputs = QueryInputs.check(classifier, X_pool, 1, X_labelled, y_labelled)
    return inputs.view(layer=layer, batch_size=batch_size)
