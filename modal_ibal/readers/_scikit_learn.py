"""Readers for scikit-learn's linear models and MLPClassifier.

Linear models (:math:`f = x`) and ``MLPClassifier`` (the last
hidden activation), exact and without hooks; a binary model as the two-class softmax.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.linear_model import SGDClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.utils.validation import check_is_fitted

from .._utils.validation import as_numpy
from ._losses import OneVsRestLogistic, SoftmaxCrossEntropy
from ._outputs import LastLayer

__all__ = ["LinearModelLayer", "MLPClassifierLayer", "check_n_features"]


def _as_2d_float(X, model, name: str = "X") -> np.ndarray:
    """``X`` as float64 (n_samples, n_features), the fitted ``model``'s number of features."""
    X = as_numpy(X)
    if X.ndim != 2:
        raise ValueError(
            f"The '{name}' parameter must be 2-D (n_samples, n_features) for a scikit-learn "
            f"linear model. Got shape {X.shape} instead."
        )
    check_n_features(model, X, name)
    return X.astype(np.float64, copy=False)


def check_n_features(estimator, X, name: str) -> None:
    """Refuse samples whose number of features differs from what the model was fitted on.

    Read from scikit-learn's ``n_features_in_`` (a ``Pipeline``'s first step);
    models without it (skorch nets) are not checked here: the module's own error
    is named by :func:`modal_ibal.readers.named_input_errors`.

    Parameters
    ----------
    estimator : fitted estimator
    X : array-like of shape (n_samples, n_features)
    name : str
        The user's parameter, for the message.

    Raises
    ------
    ValueError
        When ``X`` is not 2-D, or has another number of features.
    """
    expected = getattr(estimator, "n_features_in_", None)
    if not isinstance(expected, numbers.Integral) or not hasattr(X, "shape"):
        return
    shape = tuple(X.shape)
    if len(shape) != 2:
        raise ValueError(
            f"The '{name}' parameter must be 2-D (n_samples, n_features) for a "
            f"{type(estimator).__name__}. Got shape {shape} instead."
        )
    if shape[1] != expected:
        raise ValueError(
            f"The '{name}' parameter has {shape[1]} features, but the model was fitted on "
            f"{expected}."
        )


def _binary_as_softmax(z: np.ndarray) -> np.ndarray:
    z = z.reshape(-1, 1)
    return np.hstack([-z / 2, z / 2])  # [n, 2]


class LinearModelLayer(LastLayer):
    r"""LogisticRegression or SGDClassifier(loss='log_loss'): f = x.

    scikit-learn penalises the weights but not the intercept, so at the optimum the
    representer theorem holds for the weights alone,
    :math:`\phi(x) = \sum_i \alpha_i f_i^\top f + b`: the intercept is not folded
    into :math:`f` (``has_bias`` is False) and :math:`\lambda` is the weights'
    penalty. A binary model's logit :math:`z` becomes the softmax logits
    :math:`(-z/2, z/2)`, whose weights :math:`(-w/2, w/2)` have half the squared norm
    of :math:`w`: its :math:`\lambda` is twice that of :math:`w`. Exact for L2
    penalties at convergence; liblinear's penalised synthetic intercept and L1
    penalties are not modelled.
    """

    def __init__(self, model):
        check_is_fitted(model)
        if isinstance(model, SGDClassifier) and model.loss != "log_loss":
            raise TypeError(
                "SGDClassifier needs loss='log_loss' for representer values (a differentiable "
                f"log loss with probabilities). Got loss={model.loss!r} instead."
            )
        self.model = model
        self.classes_ = model.classes_
        self.has_bias = False  # the intercept is not penalised: see the class docstring
        binary = model.coef_.shape[0] == 1
        self._binary_factor = 2.0 if binary else 1.0
        one_vs_rest = isinstance(model, SGDClassifier) or (
            getattr(model, "multi_class", None) == "ovr" or model.solver == "liblinear"
        )
        self.loss = SoftmaxCrossEntropy() if binary or not one_vs_rest else OneVsRestLogistic()

    def reg_lambda(self, n_labelled: int) -> float | None:
        if isinstance(self.model, SGDClassifier):  # (1/n) sum L + alpha/2 ||w||^2
            if self.model.alpha <= 0:
                return None
            return self._binary_factor * self.model.alpha / 2
        C = self.model.C  # C sum L + 1/2 ||w||^2, divided by C n
        if not np.isfinite(C):
            return None
        return self._binary_factor / (2.0 * C * n_labelled)

    def _features_and_logits(self, X):
        features = _as_2d_float(X, self.model)
        z = features @ self.model.coef_.T + self.model.intercept_  # [n, C] or [n, 1]
        return features, (_binary_as_softmax(z) if z.shape[1] == 1 else z)


_ACTIVATIONS = {
    "identity": lambda a: a,
    "logistic": lambda a: 1.0 / (1.0 + np.exp(-a)),
    "tanh": np.tanh,
    "relu": lambda a: np.maximum(a, 0.0),
}


class MLPClassifierLayer(LastLayer):
    r"""MLPClassifier: f = the last hidden layer's activation.

    As for the linear models, the output layer's intercept is not penalised
    (``has_bias`` is False) and a binary (logistic) output doubles :math:`\lambda`.
    """

    def __init__(self, model: MLPClassifier):
        check_is_fitted(model)
        if model.out_activation_ not in ("softmax", "logistic") or (
            model.out_activation_ == "logistic"
            and (len(model.classes_) != 2 or model.n_outputs_ != 1)
        ):
            raise TypeError(
                "MLPClassifier must be a single-label classifier (softmax output, or logistic "
                "for two classes) for representer values. Got out_activation_="
                f"{model.out_activation_!r} with {model.n_outputs_} outputs instead (a "
                "multi-label MLPClassifier has one logistic output per label)."
            )
        self.model = model
        self.classes_ = model.classes_
        self.has_bias = False  # the intercepts are not penalised
        self.loss = SoftmaxCrossEntropy()
        self._binary_factor = 2.0 if model.out_activation_ == "logistic" else 1.0

    def reg_lambda(self, n_labelled: int) -> float | None:
        # sklearn minimises mean(L) + alpha / (2 n) * sum ||W||^2
        alpha = self.model.alpha
        if alpha <= 0:
            return None
        return self._binary_factor * alpha / (2.0 * n_labelled)

    def _features_and_logits(self, X):
        activation = _ACTIVATIONS[self.model.activation]
        hidden = _as_2d_float(X, self.model)
        for W, b in zip(self.model.coefs_[:-1], self.model.intercepts_[:-1], strict=True):
            hidden = activation(hidden @ W + b)  # [n, h]
        z = hidden @ self.model.coefs_[-1] + self.model.intercepts_[-1]  # [n, C] or [n, 1]
        return hidden, (_binary_as_softmax(z) if z.shape[1] == 1 else z)
