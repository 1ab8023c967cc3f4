r"""BADGE: k-means++ seeding on last-layer gradient embeddings.

References
----------
.. [1] Ash, Zhang, Krishnamurthy, Langford and Agarwal, "Deep Batch Active
   Learning by Diverse, Uncertain Gradient Lower Bounds", ICLR 2020.
"""

from __future__ import annotations

import numpy as np

from .._utils.validation import check_pool, make_random_state
from ..readers import (
    DEFAULT_BATCH_SIZE,
    check_n_features,
    fitted_estimator,
    last_layer,
    named_input_errors,
)
from ..scoring import fold_bias, select_highest
from ._contract import follows_contract

_GRADIENT_CHUNK = 4096

__all__ = ["badge_sampling"]


def _gradient_factors(layer, outputs) -> tuple[np.ndarray, np.ndarray]:
    r"""The two factors of BADGE's embedding :math:`g_i = a_i \otimes f_i`.

    :math:`a_i = \partial L(x_i, \hat y_i) / \partial \phi(x_i)` (for softmax
    cross-entropy :math:`p_i - e_{\hat y_i}`) and :math:`f_i` the penultimate
    features with the bias column appended when the layer has a bias.
    """
    features = outputs.features.astype(np.float64)
    F = fold_bias(features, layer.has_bias)  # [N, d']
    logits = outputs.logits.astype(np.float64)  # [N, C]
    yhat = outputs.probas.argmax(axis=1)  # [N]
    if layer.loss.link is not None:
        A = layer.loss.link(logits)  # [N, C]
        A[np.arange(len(yhat)), yhat] -= 1.0
        return A, F
    A = np.empty_like(logits)
    for start in range(0, len(yhat), _GRADIENT_CHUNK):
        stop = start + _GRADIENT_CHUNK
        rows = np.arange(len(yhat[start:stop]))
        A[start:stop] = layer.loss.gradients(logits[start:stop])[rows, yhat[start:stop]]
    return A, F


def _gradient_sq_distances(A, F, sq_norms, j) -> np.ndarray:
    r""":math:`\lVert a_i \otimes f_i - a_j \otimes f_j \rVert^2` for every :math:`i`, in O(N (C + d))."""
    inner = (A @ A[j]) * (F @ F[j])  # [N]
    return np.maximum(sq_norms + sq_norms[j] - 2.0 * inner, 0.0)


def _kmeanspp_factorised(
    A: np.ndarray, F: np.ndarray, n_instances: int, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """k-means++ seeding on :math:`a_i \\otimes f_i` without forming the embeddings."""
    sq_norms = np.einsum("ij,ij->i", A, A) * np.einsum("ij,ij->i", F, F)  # [N]
    (first,), (score,) = select_highest(sq_norms, 1)
    picks, scores = [first], [score]
    nearest = _gradient_sq_distances(A, F, sq_norms, first)  # [N]
    nearest[first] = 0.0
    for _ in range(n_instances - 1):
        total = nearest.sum()
        if total > 0:
            cumulative = np.cumsum(nearest)  # [N]
            pick = int(np.searchsorted(cumulative, rng.random_sample() * total, side="right"))
            pick = min(pick, int(np.flatnonzero(nearest > 0)[-1]))
        else:  # every point coincides with a pick: uniform over the rest
            rest = np.setdiff1d(np.arange(len(nearest)), picks)
            pick = int(rest[rng.randint(len(rest))])
        picks.append(pick)
        scores.append(nearest[pick])
        np.minimum(nearest, _gradient_sq_distances(A, F, sq_norms, pick), out=nearest)
        nearest[picks] = 0.0
    return np.asarray(picks, dtype=np.int64), np.asarray(scores)


@follows_contract(shared_options=True)
def badge_sampling(
    classifier,
    X_pool,
    n_instances: int = 1,
    *,
    random_state: int | np.random.RandomState | None = None,
    X_labelled=None,
    y_labelled=None,
    layer: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Query by k-means++ seeding on gradient embeddings (BADGE, Ash et al. 2020).

    Parameters
    ----------
    {shared_parameters}
    layer : str, optional
        Name of the final ``nn.Linear`` of a skorch module.
    batch_size : int, default=4096
        Samples per forward pass.

    Returns
    -------
    query_indices : ndarray of shape (n_instances,)
        Pool indices in the order they were seeded.
    query_scores : ndarray of shape (n_instances,)
        Each pick's squared embedding distance to the nearest earlier pick when it
        was drawn (the first pick: its squared embedding norm).

    Notes
    -----
    The gradient embedding of the last layer's loss at the predicted label,

    .. math::  g_i = (p_i - e_{\hat y_i}) \otimes f_i = a_i \otimes f_i,

    with :math:`f_i` the penultimate features plus a constant 1 for the bias. The
    first center is the point of largest :math:`\lVert g_i \rVert` (as in the
    authors' code); each further center is drawn with probability proportional to
    :math:`D^2(g_i)`, its squared distance to the nearest center. Distances
    factorise, so :math:`g` (of size :math:`N \times C d`) is never formed:

    .. math::  \lVert g_i - g_j \rVert^2 = \lVert a_i\rVert^2 \lVert f_i\rVert^2
               + \lVert a_j\rVert^2 \lVert f_j\rVert^2 - 2 (a_i^\top a_j)(f_i^\top f_j),

    :math:`O(N (C + d))` per pick.

    ``random_state``: Drives the :math:`D^2` sampling.
    """
    X_pool, n_instances = check_pool(X_pool, n_instances)
    estimator = fitted_estimator(classifier)
    reader = last_layer(estimator, layer=layer, batch_size=batch_size)
    check_n_features(estimator, X_pool, "X_pool")
    with named_input_errors("X_pool"):
        outputs = reader.outputs(X_pool)
    A, F = _gradient_factors(reader, outputs)
    return _kmeanspp_factorised(A, F, n_instances, make_random_state(random_state))
