r"""The reader of a fitted classifier's final linear layer: what it sees and says.

IBAL needs, for any input, the penultimate features :math:`f(x)` (the input of
the final linear layer), the logits :math:`\phi(x) = W f(x) + b`, and how the
training loss depends on :math:`\phi` (:mod:`modal_ibal.readers.losses`).
:func:`last_layer` returns a reader for each supported estimator:

* a skorch ``NeuralNet``/``NeuralNetClassifier``: a forward hook on the final
  ``nn.Linear`` (the last in ``named_modules()`` order, or the one named by
  ``layer``) records its input and output while the module runs over the
  pool in batches, in eval mode, under ``torch.no_grad()``, on the module's
  device. The hook is removed and every submodule's train/eval mode restored
  in ``finally``; parameters, gradients and other hooks are not touched.
* scikit-learn ``LogisticRegression``, ``SGDClassifier(loss="log_loss")``:
  :math:`f = x`, exact with no hooks.
* ``MLPClassifier``: :math:`f` = the last hidden activation, computed from
  ``coefs_`` and ``intercepts_``.
* a ``Pipeline`` ending in any of these: the other steps transform ``X`` first.

A binary linear model has one logit :math:`z`; it is represented as the
two-class softmax with logits :math:`(-z/2, z/2)`, whose probabilities equal
the model's.
"""

from __future__ import annotations

from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .outputs import DEFAULT_BATCH_SIZE, LastLayer
from .scikit_learn import LinearModelLayer, MLPClassifierLayer
from .skorch_net import SkorchLayer

__all__ = ["check_fitted", "is_skorch_net", "last_layer"]


def last_layer(estimator, *, layer: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE):
    """Build the reader of a fitted estimator's final linear layer.

    Parameters
    ----------
    estimator : skorch NeuralNet, LogisticRegression, SGDClassifier, MLPClassifier or Pipeline
        A fitted classifier; a ``Pipeline`` must end in one of the others.
    layer : str, optional
        For skorch modules, the ``named_modules()`` name of the final ``nn.Linear``;
        by default the last ``nn.Linear`` in the module.
    batch_size : int, default=4096
        Samples per forward pass.

    Returns
    -------
    LastLayer

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted (skorch's ``NotInitializedError`` is one).
    TypeError
        If the estimator has no linear output layer IBAL can read.
    """
    if isinstance(estimator, Pipeline):
        check_is_fitted(estimator)
        return _PipelineLayer(estimator, last_layer(estimator.steps[-1][1], layer=layer,
                                                    batch_size=batch_size))
    if is_skorch_net(estimator):
        return SkorchLayer(estimator, layer=layer, batch_size=batch_size)
    if isinstance(estimator, MLPClassifier):
        return MLPClassifierLayer(estimator)
    if isinstance(estimator, (LogisticRegression, SGDClassifier)):
        return LinearModelLayer(estimator)
    raise TypeError(
        "The 'classifier' parameter must be a skorch NeuralNetClassifier, a scikit-learn "
        "LogisticRegression, SGDClassifier(loss='log_loss') or MLPClassifier, or a Pipeline "
        f"ending in one. Got {type(estimator).__name__} instead."
    )


def is_skorch_net(estimator) -> bool:
    try:
        from skorch import NeuralNet
    except ImportError:  # pragma: no cover
        return False
    return isinstance(estimator, NeuralNet)


class _PipelineLayer(LastLayer):
    def __init__(self, pipeline: Pipeline, inner: LastLayer):
        self.pipeline, self.inner = pipeline, inner
        self.classes_, self.loss, self.has_bias = inner.classes_, inner.loss, inner.has_bias

    def reg_lambda(self, n_labelled: int) -> float:
        return self.inner.reg_lambda(n_labelled)

    def _features_and_logits(self, X):
        return self.inner._features_and_logits(self.pipeline[:-1].transform(X))


def check_fitted(estimator) -> None:
    """Raise ``NotFittedError`` naming the estimator when it is not fitted."""
    try:
        if is_skorch_net(estimator):
            estimator.check_is_fitted()
        else:
            check_is_fitted(estimator)
    except NotFittedError as error:
        raise NotFittedError(
            f"The {type(estimator).__name__} passed as 'classifier' is not fitted yet; fit it "
            "(or give the ActiveLearner X_training and y_training) before querying."
        ) from error
