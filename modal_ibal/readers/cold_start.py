"""Resolving the model and labelled set of a strategy that can start from zero labels.

A learner built without ``X_training``, or a bare estimator without ``X_labelled``,
has no labelled set; its model may not be fitted yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .view import checked_labelled_set, is_fitted, labelled_arguments, unwrap_learner

__all__ = ["ColdStart", "resolve_cold_start"]


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
