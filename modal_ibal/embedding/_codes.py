"""Codes of samples: an embedding, the model's features or the raw inputs.

The space of the distance score (Eq. 3): :func:`representation_codes` picks a representation
(an embedding through :func:`~modal_ibal.embedding.embed`, the model's penultimate
features or the raw inputs) for labelled and pool together, :func:`query_codes` for one
query's checked inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from .._utils.validation import as_numpy, n_samples
from ..readers import DEFAULT_BATCH_SIZE, QueryInputs
from ._cache import CachedEmbedding
from ._embed import embed

__all__ = ["check_embedding", "check_representation", "query_codes", "representation_codes"]


def check_embedding(embedding: Any, name: str = "embedding") -> None:
    """Fail before any forward pass when ``embedding`` cannot encode samples.

    Parameters
    ----------
    embedding : None, transformer or callable
    name : str, default='embedding'
        The user's parameter, for error messages.

    Raises
    ------
    TypeError
        If it is neither None, a transformer with ``transform`` nor a callable.
    sklearn.exceptions.NotFittedError
        If it is a scikit-learn estimator (or a :class:`CachedEmbedding` of one)
        that is not fitted.
    """
    if embedding is None:
        return
    if not (hasattr(embedding, "transform") or callable(embedding)):
        raise TypeError(
            f"The '{name}' parameter must be None (the model's penultimate features), a fitted "
            f"transformer with a transform method, or a callable. Got {type(embedding).__name__} "
            "instead."
        )
    inner = embedding.transformer if isinstance(embedding, CachedEmbedding) else embedding
    if isinstance(inner, BaseEstimator):
        try:
            check_is_fitted(inner)
        except NotFittedError:
            raise NotFittedError(
                f"The {type(inner).__name__} passed as '{name}' is not fitted yet; fit it on "
                "the pool and labelled samples before querying."
            ) from None


def _flatten(X, name: str) -> np.ndarray:
    array = as_numpy(X)
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise TypeError(
            f"The '{name}' parameter must be a numeric array to cluster its raw inputs. Got "
            f"{type(X).__name__} instead; pass representation='features' or an embedding."
        )
    return array.reshape(array.shape[0], int(np.prod(array.shape[1:], dtype=np.int64)))


def check_representation(representation: Any) -> None:
    """Fail before any pool is read when ``representation`` names no space to work in.

    Parameters
    ----------
    representation : {'inputs', 'features'}, transformer or callable

    Raises
    ------
    ValueError
        For any other string.
    TypeError
        For any other type.
    sklearn.exceptions.NotFittedError
        For a scikit-learn transformer that is not fitted (:func:`check_embedding`).
    """
    if isinstance(representation, str) and representation in ("inputs", "features"):
        return
    if not isinstance(representation, str) and (hasattr(representation, "transform")
                                                 or callable(representation)):
        check_embedding(representation, "representation")
        return
    error = ValueError if isinstance(representation, str) else TypeError
    raise error(
        "The 'representation' parameter must be 'inputs', 'features', a fitted "
        f"transformer or a callable. Got {representation!r} instead."
    )


def representation_codes(
    representation: Any,
    X_pool,
    X_labelled,
    features: Callable[[], tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """(Z_labelled, Z_pool) in the space a clustering or covering strategy works in.

    Parameters
    ----------
    representation : {'inputs', 'features'}, transformer or callable
        ``'inputs'``: the raw samples flattened per row; ``'features'``: the
        model's penultimate features; otherwise an embedding for :func:`~modal_ibal.embedding.embed`
        (e.g. a fitted autoencoder).
    X_pool : array-like of shape (n_pool, ...)
    X_labelled : array-like of shape (n_labelled, ...)
    features : callable
        Returns the model's penultimate features ``(labelled, pool)``; called only
        for ``representation='features'``.

    Returns
    -------
    Z_labelled : ndarray of shape (n_labelled, n_dims)
    Z_pool : ndarray of shape (n_pool, n_dims)
        float32 when both are float32, else float64; finite: the model's features
        are checked here, an embedding's codes by :func:`~modal_ibal.embedding.embed`,
        and the raw inputs with the samples (the caller's door), so neither is read
        again.
    """
    check_representation(representation)
    if isinstance(representation, str):
        if representation == "features":
            Z_labelled, Z_pool = features()
        else:
            Z_labelled, Z_pool = _flatten(X_labelled, "X_labelled"), _flatten(X_pool, "X_pool")
    else:
        Z_pool = embed(representation, X_pool, "representation")
        Z_labelled = (embed(representation, X_labelled, "representation")
                      if n_samples(X_labelled) else np.asarray(Z_pool)[:0])  # a cold start
    Z_labelled, Z_pool = np.asarray(Z_labelled), np.asarray(Z_pool)
    if Z_labelled.shape[1:] != Z_pool.shape[1:]:
        raise ValueError(
            f"The 'representation' parameter mapped the labelled samples to {Z_labelled.shape[1:]} "
            f"and the pool to {Z_pool.shape[1:]}; both must land in the same space."
        )
    dtype = np.float32 if Z_pool.dtype == np.float32 and Z_labelled.dtype == np.float32 else (
        np.float64)
    Z_labelled, Z_pool = Z_labelled.astype(dtype, copy=False), Z_pool.astype(dtype, copy=False)
    from_model = isinstance(representation, str) and representation == "features"
    if from_model and not (np.isfinite(Z_pool).all() and np.isfinite(Z_labelled).all()):
        raise ValueError("The representation of the samples holds NaN or infinite values.")
    return Z_labelled, Z_pool


def query_codes(inputs: QueryInputs, representation: Any, *, layer: str | None = None,
                batch_size: int = DEFAULT_BATCH_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(Z_labelled, Z_pool) of a query's checked inputs in ``representation``.

    :func:`representation_codes` of :class:`~modal_ibal.readers.QueryInputs`:
    the labelled set may be empty and the model unfitted, as long as
    ``representation`` does not need it; ``'features'`` reads the query's one view
    of the model (``layer``, ``batch_size``), which the strategy may read again.

    Raises
    ------
    ValueError
        For ``representation='features'`` with an unfitted model.
    """

    def features() -> tuple[np.ndarray, np.ndarray]:
        inputs.require_model("representation='features'")
        view = inputs.view(layer=layer, batch_size=batch_size)
        return view.labelled.features, view.pool.features

    return representation_codes(representation, inputs.X_pool, inputs.X_labelled, features)
