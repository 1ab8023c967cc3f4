"""The latent space of the distance score: an sklearn transformer, a callable, or the model's features."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import is_tensor


def embed(embedding: Any, X) -> np.ndarray:
    """Map samples into the embedding space of :math:`D` (Eq. 3).

    Parameters
    ----------
    embedding : transformer with ``transform`` or callable
        A fitted scikit-learn transformer (e.g. :class:`modal_ibal.ConvAutoencoder`)
        or a function from samples to an array of shape (n_samples, n_dims).
    X : array-like of shape (n_samples, ...)

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
            "The 'embedding' parameter must be None (the model's penultimate features), a fitted "
            f"transformer with a transform method, or a callable. Got {type(embedding).__name__} "
            "instead."
        )
    codes = codes.detach().cpu().numpy() if is_tensor(codes) else np.asarray(codes)
    if codes.ndim != 2 or codes.shape[0] != len(X):
        raise ValueError(
            f"The embedding must return one row per sample, shape ({len(X)}, n_dims). Got "
            f"shape {codes.shape} instead."
        )
    return codes
