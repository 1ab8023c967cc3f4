r"""The reader of a fitted classifier's final linear layer: what it sees and says.

IBAL needs, for any input, the penultimate features :math:`f(x)` (the input of
the final linear layer), the logits :math:`\phi(x) = W f(x) + b`, and how the
training loss depends on :math:`\phi` (:mod:`modal_ibal.readers._losses`).
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

import numbers
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._outputs import DEFAULT_BATCH_SIZE, LastLayer
from ._scikit_learn import LinearModelLayer, MLPClassifierLayer, check_n_features
from ._skorch_net import SkorchLayer

__all__ = [
    "check_fitted",
    "check_n_features",
    "check_single_output",
    "is_skorch_net",
    "last_layer",
    "named_input_errors",
    "single_output_message",
]


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
        If the estimator has no linear output layer IBAL can read, or is a
        multi-label or multi-output model (:func:`check_single_output`).
    """
    check_single_output(estimator)
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

    def reg_lambda(self, n_labelled: int) -> float | None:
        return self.inner.reg_lambda(n_labelled)

    def _features_and_logits(self, X):
        check_n_features(self.pipeline, X, "X")
        if len(self.pipeline) > 1:  # a one-step pipeline has nothing to transform
            X = self.pipeline[:-1].transform(X)
        return self.inner._features_and_logits(X)


def check_single_output(estimator) -> None:
    """Refuse a fitted multi-label or multi-output classifier, naming what makes it one.

    Every strategy ranks the classes of one label per sample: the model's
    ``predict_proba`` must give one (n_samples, n_classes) array. A model fitted on
    (n_samples, n_outputs) targets gives one array per output (``MultiOutputClassifier``,
    ``ClassifierChain``, forests, neighbours) or independent per-label
    probabilities (``OneVsRestClassifier`` or ``MLPClassifier`` on a label
    indicator matrix). A ``Pipeline`` is judged by its final step.

    Parameters
    ----------
    estimator : fitted classifier

    Raises
    ------
    TypeError
        When the model is multi-label or multi-output.
    """
    model = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    reason = _multi_output_reason(model)
    if reason is not None:
        raise TypeError(single_output_message(estimator, reason))


def single_output_message(estimator, what: str) -> str:
    """The error message for a classifier whose probabilities are not one (n, C) array."""
    return (
        "The 'classifier' parameter must be a single-output classifier whose predict_proba "
        f"gives an (n_samples, n_classes) array. Got {type(estimator).__name__}, {what}, "
        "instead: multi-label and multi-output models are not supported."
    )


def _multi_output_reason(model) -> str | None:
    """Why a fitted scikit-learn-style ``model`` is multi-output, or None when it is not."""
    classes = getattr(model, "classes_", None)
    if isinstance(classes, (list, tuple)) or (isinstance(classes, np.ndarray) and classes.ndim != 1):
        return f"fitted on {len(classes)} outputs (its classes_ holds one array per output)"
    if getattr(model, "multilabel_", False) is True:
        return "fitted on multi-label targets (one probability per label)"
    n_outputs = getattr(model, "n_outputs_", 1)
    # MLPClassifier counts a softmax's classes as outputs; a logistic output with
    # several columns is one probability per label
    if (isinstance(n_outputs, numbers.Integral) and n_outputs > 1
            and getattr(model, "out_activation_", None) != "softmax"):
        return f"fitted on {n_outputs} outputs (multi-label or multi-output targets)"
    return None


@contextmanager
def named_input_errors(name: str) -> Iterator[None]:
    """Raise a module's failure on the samples of ``name`` as a ValueError naming it.

    A skorch module that cannot take the samples (e.g. a first ``nn.Linear`` of 16
    inputs given 10 features) raises torch's ``RuntimeError`` from skorch's own
    ``predict_proba``, and the reader's ``ValueError`` made from one; both are
    raised again with the user's parameter named. Subclasses of ``RuntimeError``
    (out of memory, not implemented) and other errors pass unchanged.

    Parameters
    ----------
    name : str
        The user's parameter whose samples the model reads inside the block.
    """
    try:
        yield
    except RuntimeError as error:
        if type(error) is not RuntimeError:
            raise
        raise ValueError(f"The '{name}' parameter does not fit the model: {error}") from error
    except ValueError as error:
        if type(error.__cause__) is not RuntimeError:
            raise
        raise ValueError(f"The '{name}' parameter does not fit the model: {error}") from error


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
