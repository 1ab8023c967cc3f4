"""Samples mapped into an embedding space, their codes checked (the space of Eq. 3)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._utils.validation import as_numpy

__all__ = ["embed"]


def embed(embedding: Any, X, name: str = "embedding") -> np.ndarray:
    """Map samples into the embedding space of :math:`D` (Eq. 3).

    Parameters
    ----------
    embedding : transformer with ``transform`` or callable
        A fitted scikit-learn transformer (e.g. :class:`modal_ibal.ConvAutoencoder`,
        optionally wrapped in :class:`CachedEmbedding`) or a function from samples
        to an array of shape (n_samples, n_dims).
    X : array-like of shape (n_samples, ...)
    name : str, default='embedding'
        The user's parameter, for error messages.

    Returns
    -------
    ndarray of shape (n_samples, n_dims)
    """
    if hasattr(embedding, "transform"):
        codes = embedding.transform(X)
    elif callable(embedding):
        codes = embedding(X)
    else:
        raise TypeError(
            f"The '{name}' parameter must be None (the model's penultimate features), a fitted "
            f"transformer with a transform method, or a callable. Got {type(embedding).__name__} "
            "instead."
        )
    codes = as_numpy(codes)
    if codes.ndim != 2 or codes.shape[0] != len(X):
        raise ValueError(
            f"The '{name}' parameter must return one row per sample, shape ({len(X)}, "
            f"n_dims). Got shape {codes.shape} instead."
        )
    if codes.dtype.kind not in "biuf" or not np.isfinite(codes).all():
        raise ValueError(
            f"The '{name}' parameter returned codes that are not finite numbers (NaN, "
            "infinite or non-numeric); check it and the samples it encoded."
        )
    return codes
