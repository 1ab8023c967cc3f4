"""The first batch from zero labels, for the coverage strategies.

What a coverage strategy queries when there is no labelled
set and no fitted model yet (margin weights are then 1: the batch is pure coverage).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..embedding.codes import representation_codes
from ..readers.outputs import DEFAULT_BATCH_SIZE
from ..readers.view import (
    checked_labelled_set,
    is_fitted,
    labelled_arguments,
    model_view,
    unwrap_learner,
)
from ..utils.validation import check_same_sample_shape

__all__ = ["ColdStart", "cold_start_codes", "resolve_cold_start"]


def resolve_cold_start(classifier, X_pool, X_labelled=None, y_labelled=None) -> ColdStart:
    """The model and the labelled set for a strategy that can start from zero labels.

    Parameters
    ----------
    classifier : modAL ActiveLearner or estimator, fitted or not
    X_pool : array-like of shape (n_pool, ...)
        The validated pool: an empty labelled set takes its sample shape.
    X_labelled, y_labelled : array-like, optional
        Override (or, for a bare estimator, supply) the labelled set; a learner
        built without ``X_training`` and a bare estimator without them have none.

    Returns
    -------
    ColdStart
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
    return ColdStart(estimator, is_fitted(estimator), X_labelled, y_labelled)


@dataclass(frozen=True)
class ColdStart:
    """What a cold-start strategy works from: the model, whether it is fitted, the labelled set.

    Attributes
    ----------
    estimator : estimator
        The model inside the learner, or the bare estimator (possibly unfitted).
    fitted : bool
        Whether the model can be read (features, probabilities).
    X_labelled : array-like of shape (n_labelled, ...)
        The labelled samples; ``n_labelled`` may be 0.
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


def cold_start_codes(
    classifier,
    X_pool,
    representation: Any,
    *,
    X_labelled=None,
    y_labelled=None,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[ColdStart, np.ndarray, np.ndarray]:
    """Resolve the model and labelled set and map labelled + pool into ``representation``.

    For the strategies that can start from zero labels: the labelled set may be
    empty and the model unfitted, as long as ``representation`` does not need it.

    Parameters
    ----------
    classifier, X_pool, X_labelled, y_labelled
        As in :func:`resolve_cold_start`.
    representation : {'inputs', 'features'}, transformer or callable
        See :func:`modal_ibal.embedding.codes.representation_codes`.
    layer, batch_size
        As in :func:`labelled_view`; read for ``representation='features'`` only.

    Returns
    -------
    start : ColdStart
    Z_labelled : ndarray of shape (n_labelled, n_dims)
        ``n_labelled`` may be 0.
    Z_pool : ndarray of shape (n_pool, n_dims)

    Raises
    ------
    ValueError
        For ``representation='features'`` with an unfitted model.
    """
    start = resolve_cold_start(classifier, X_pool, X_labelled, y_labelled)
    check_same_sample_shape(X_pool, start.X_labelled)

    def features() -> tuple[np.ndarray, np.ndarray]:
        start.require_model("representation='features'")
        view = model_view(start.estimator, X_pool, start.X_labelled, start.y_labelled,
                          layer=layer, batch_size=batch_size)
        return view.labelled.features, view.pool.features

    Z_labelled, Z_pool = representation_codes(representation, X_pool, start.X_labelled, features)
    return start, Z_labelled, Z_pool
