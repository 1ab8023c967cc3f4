"""The pool's class probabilities, read once: through the final layer where that is exact.

A skorch net whose probabilities are the softmax of its final ``nn.Linear`` is read
in batches through the layer's hook, the result checked against its own
``predict_proba`` on a few rows; any other model is asked for ``predict_proba``.
"""

from __future__ import annotations

import numpy as np

from .._utils.randomness import preserved_global_random_state
from .._utils.validation import is_tensor, n_samples
from ._last_layer import (
    check_n_features,
    check_single_output,
    is_skorch_net,
    last_layer,
    named_input_errors,
    single_output_message,
)
from ._outputs import LastLayerOutputs, read_probabilities
from ._skorch_net import held_module, module_input

__all__ = ["pool_probabilities"]

_PROBE_SAMPLES = 8  # pool rows whose fast probabilities are checked against predict_proba


def pool_probabilities(
    estimator, X_pool, batch_size: int, *, outputs: LastLayerOutputs | None = None
) -> np.ndarray:
    """``predict_proba`` of the pool, from one batched forward pass where that is exact.

    For a skorch net whose ``predict_nonlinearity`` is ``'auto'`` and whose
    criterion is ``CrossEntropyLoss`` (skorch applies a softmax) or ``NLLLoss``
    (the module ends in a softmax), skorch's probabilities are the softmax of the
    final ``nn.Linear``'s output, read here in batches. The fast result is
    checked against skorch's own ``predict_proba`` on the first few pool samples
    (the module's train/eval modes are restored afterwards); any other estimator,
    input type, or a mismatch uses ``predict_proba``.

    Parameters
    ----------
    estimator : fitted classifier
    X_pool : array-like of shape (n_pool, ...)
    batch_size : int
        Samples per forward pass.
    outputs : LastLayerOutputs, optional
        The pool's final-layer outputs when the caller has read them already
        (a :class:`~modal_ibal.readers.LabelledView`); saves a second forward pass.

    Returns
    -------
    ndarray of shape (n_pool, n_classes), float64

    Raises
    ------
    TypeError
        When the model gives no probabilities, or not one (n_pool, n_classes) array:
        a multi-label or multi-output model
        (:func:`modal_ibal.readers.check_single_output`).
    ValueError
        When the model cannot take the samples of ``X_pool`` (the message names it).
    """
    if not hasattr(estimator, "predict_proba"):
        raise TypeError(
            "The 'classifier' parameter must give class probabilities (predict_proba) for "
            f"uncertainty sampling. Got {type(estimator).__name__}, which has none (an SVC "
            "needs probability=True)."
        )
    check_single_output(estimator)
    check_n_features(estimator, X_pool, "X_pool")
    with named_input_errors("X_pool"):
        probas = _read_probabilities(estimator, X_pool, batch_size, outputs)
    # a dict of inputs (skorch's own input path) has no row count of its own
    return _probability_array(probas, estimator,
                              None if isinstance(X_pool, dict) else n_samples(X_pool))


def _read_probabilities(estimator, X_pool, batch_size: int, outputs: LastLayerOutputs | None):
    """:func:`pool_probabilities` before its check: the fast read where it is exact."""
    import torch

    fast = (
        is_skorch_net(estimator)
        and (isinstance(X_pool, np.ndarray) or is_tensor(X_pool))
        and estimator.predict_nonlinearity == "auto"
        and isinstance(getattr(estimator, "criterion_", None),
                       (torch.nn.CrossEntropyLoss, torch.nn.NLLLoss))
    )
    if fast:
        probas = (read_probabilities(last_layer(estimator, batch_size=batch_size), X_pool)
                  if outputs is None else outputs.probas)
        head = module_input(X_pool[:_PROBE_SAMPLES], estimator.module_)  # as the fast path
        # predict_proba leaves the module in eval mode, and its DataLoader draws a seed
        with held_module(estimator.module_), preserved_global_random_state():
            probe = np.asarray(estimator.predict_proba(head), dtype=np.float64)
        if probe.shape == probas[:_PROBE_SAMPLES].shape and np.allclose(
            probas[:_PROBE_SAMPLES], probe, rtol=1e-4, atol=1e-5
        ):
            return probas
    with preserved_global_random_state():
        return estimator.predict_proba(X_pool)


def _probability_array(probas, estimator, n_pool: int | None) -> np.ndarray:
    """``predict_proba``'s output as float64, refused unless one (n_pool, n_classes) array.

    ``n_pool`` None: the rows are not checked.
    """
    if isinstance(probas, (list, tuple)):  # one array per output: a multi-output model
        raise TypeError(single_output_message(
            estimator, f"whose predict_proba gives a list of {len(probas)} arrays"))
    probas = np.asarray(probas, dtype=np.float64)
    if probas.ndim != 2 or (n_pool is not None and probas.shape[0] != n_pool):
        raise TypeError(single_output_message(
            estimator, f"whose predict_proba gives shape {probas.shape} for {n_pool} samples"))
    return probas
