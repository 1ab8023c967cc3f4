"""Representer importance of a pool from a model's view (Eq. 2).

The labelled summaries
(:class:`ImportanceSummary`) computed once, then the pool scored chunk by chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._utils.validation import check_positive_float
from ..readers import SoftmaxCrossEntropy
from ._refit import refit_last_layer
from ._representer import (
    DEFAULT_READING,
    POOL_CHUNK,
    READINGS,
    class_feature_sums,
    fold_bias,
    ibal_scores,
    kappa,
)

if TYPE_CHECKING:
    from ..readers import LabelledView, LastLayer, LastLayerOutputs

__all__ = ["DEFAULT_REG_LAMBDA", "ImportanceSummary", "check_reading", "importance_summary",
           "model_reg_lambda", "representer_importance"]

DEFAULT_REG_LAMBDA = 0.003  # Yeh et al.'s fine-tuning value, used when the model has none


def model_reg_lambda(layer, n_labelled: int) -> float:
    r""":math:`\lambda` of Eq. 1 for a model's final layer: the model's own L2 strength, where
    it has one (weight decay, ``C``, ``alpha``), else :data:`DEFAULT_REG_LAMBDA`."""
    own = layer.reg_lambda(n_labelled)
    return DEFAULT_REG_LAMBDA if own is None else own



@dataclass(frozen=True)
class ImportanceSummary:
    r"""The labelled set as the IBAL scores of any pool rows need it (Eq. 2).

    Built once per query by :func:`importance_summary`; :meth:`scores` then scores
    any rows of the pool (all of them, or one chunk of a pool that lives elsewhere)
    in :math:`O(b\, d\, C)`.

    Attributes
    ----------
    reading : str
        One of :data:`READINGS`.
    class_sums : ndarray of shape (n_classes, n_features)
        :math:`S_c = \sum_{t: y_t = c} f_t`, bias column included when the layer has one.
    scale : float
        :math:`\kappa = 1 / (2 \lambda n)`.
    weights : ndarray of shape (n_classes, n_features) or None
        The last layer refit with L2 (``reading='finetuned'`` or ``exact=True``).
    """

    reading: str
    class_sums: np.ndarray = field(repr=False)
    scale: float
    weights: np.ndarray | None = field(repr=False)

    def scores(self, layer: LastLayer, outputs: LastLayerOutputs) -> np.ndarray:
        """IBAL scores of the pool rows whose final-layer outputs are ``outputs``.

        Parameters
        ----------
        layer : LastLayer
            The reader that produced ``outputs`` (its ``has_bias`` and ``loss``).
        outputs : LastLayerOutputs
            Features of shape (n_rows, n_features), logits and probabilities of
            shape (n_rows, n_classes).

        Returns
        -------
        ndarray of shape (n_rows,), float64
            The query takes the smallest.
        """
        n_rows = outputs.features.shape[0]
        scores = np.empty(n_rows)
        # rows score independently: stream them, so the bias column and the refit logits
        # exist for one chunk at a time, never as float copies of the whole pool
        for start in range(0, n_rows, POOL_CHUNK):
            rows = slice(start, start + POOL_CHUNK)
            F = fold_bias(outputs.features[rows], layer.has_bias)  # [b, d]
            if self.weights is None:
                scores[rows] = ibal_scores(F, outputs.logits[rows], self.class_sums,
                                           loss=layer.loss, reading=self.reading,
                                           scale=self.scale)
            elif self.reading == "finetuned":
                scores[rows] = ibal_scores(F, F @ self.weights.T, self.class_sums,
                                           loss=SoftmaxCrossEntropy(), reading="literal",
                                           scale=self.scale, probas=outputs.probas[rows])
            else:
                scores[rows] = ibal_scores(F, F @ self.weights.T, self.class_sums,
                                           loss=SoftmaxCrossEntropy(), reading=self.reading,
                                           scale=self.scale)
        return scores


def check_reading(reading: Any) -> str:
    """``reading``, one of :data:`READINGS`; an error naming the parameter otherwise.

    A ``TypeError`` for a value that is not a string, a ``ValueError`` for another string.
    """
    if not isinstance(reading, str) or reading not in READINGS:
        error = ValueError if isinstance(reading, str) else TypeError
        raise error(
            f"The 'reading' parameter must be one of {list(READINGS)}. Got {reading!r} instead."
        )
    return reading


def importance_summary(
    layer: LastLayer,
    labelled: LastLayerOutputs,
    y_index: np.ndarray,
    *,
    reading: str = DEFAULT_READING,
    reg_lambda: float | None = None,
    exact: bool = False,
) -> ImportanceSummary:
    r"""Summarise the labelled set for the IBAL scores of Eq. 2.

    Parameters
    ----------
    layer : LastLayer
        The reader of the fitted model's final layer.
    labelled : LastLayerOutputs
        Its outputs on the labelled set, features of shape (n_labelled, n_features).
    y_index : ndarray of shape (n_labelled,)
        Labelled classes as indices into ``layer.classes_``.
    reading : {'class', 'pseudo', 'target', 'agreement', 'nonlinear', 'finetuned'}
        One of :data:`READINGS` (table in the module docstring). ``'finetuned'``
        refits the last layer with L2 and scores
        :math:`-\kappa \sum_c (q_{ic} - p_{ic}) g_{ic}` with :math:`q` the refit
        layer's softmax.
    reg_lambda : float, optional
        :math:`\lambda`; default the model's own L2 strength (skorch: the optimizer's
        ``weight_decay / 2``; else 0.003, Yeh et al.'s value).
    exact : bool, default=False
        Refit the last layer with L2 on the labelled features first, so that Eq. 1
        holds exactly, and score with the refit layer's logits.

    Returns
    -------
    ImportanceSummary

    Notes
    -----
    .. math::  S_c = \sum_{t: y_t = c} f_t, \qquad \kappa = \frac{1}{2 \lambda n}

    Cost :math:`O(n d)`, plus the refit when one is asked for.
    """
    check_reading(reading)
    n_labelled = len(y_index)
    lam = model_reg_lambda(layer, n_labelled) if reg_lambda is None else reg_lambda
    lam = check_positive_float(lam, "reg_lambda")
    F_labelled = fold_bias(labelled.features, layer.has_bias)  # [n, d]
    n_classes = len(layer.classes_)
    class_sums = class_feature_sums(F_labelled, y_index, n_classes)  # [C, d]
    weights = None
    if reading == "finetuned" or exact:
        weights = refit_last_layer(F_labelled, y_index, n_classes, lam)  # [C, d]
    return ImportanceSummary(reading, class_sums, kappa(lam, n_labelled), weights)


def representer_importance(
    view: LabelledView,
    *,
    reading: str = DEFAULT_READING,
    reg_lambda: float | None = None,
    exact: bool = False,
) -> np.ndarray:
    r"""IBAL scores (Eq. 2) of every pool point, assembled from a model's view of the data.

    Parameters
    ----------
    view : LabelledView
        The model's view of the labelled set and the pool
        (:func:`modal_ibal.readers.labelled_view`); the pool is scored chunk by
        chunk (:meth:`~modal_ibal.readers.LabelledView.pool_chunks`), streamed
        through the model unless the view has read it whole already.
    reading, reg_lambda, exact
        As in :func:`importance_summary`.

    Returns
    -------
    ndarray of shape (n_pool,)
        The query takes the smallest.
    """
    summary = importance_summary(view.layer, view.labelled, view.y_index, reading=reading,
                                 reg_lambda=reg_lambda, exact=exact)
    # chunk by chunk, the same chunks whether the pool was read whole or is streamed, so
    # the scores are the same bitwise; the pool's features are never all kept
    return np.concatenate([summary.scores(view.layer, outputs)
                           for _, outputs in view.pool_chunks(POOL_CHUNK)])
