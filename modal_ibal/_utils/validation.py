"""Argument checks shared by the public functions: named, early errors."""

from __future__ import annotations

import numbers
import sys
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

try:  # torch is a hard dependency, but the checks stay usable without it
    import torch
except ImportError:  # pragma: no cover
    torch = None

__all__ = [
    "as_numpy",
    "check_dask_pool",
    "check_flag",
    "check_fraction",
    "check_max_samples",
    "check_n_instances",
    "check_nonnegative_float",
    "check_number_or_word",
    "check_pool",
    "check_positive_float",
    "check_positive_int",
    "check_same_sample_shape",
    "check_samples",
    "check_scores",
    "is_dask_array",
    "is_tensor",
    "make_random_state",
    "n_samples",
]


def is_tensor(X: Any) -> bool:
    return torch is not None and isinstance(X, torch.Tensor)


def is_dask_array(X: Any) -> bool:
    """Whether ``X`` is a ``dask.array.Array``; never imports dask (none exists before it is)."""
    dask_array = sys.modules.get("dask.array")
    return dask_array is not None and isinstance(X, dask_array.Array)


def as_numpy(X: Any) -> np.ndarray:
    """A numpy view of an array-like; torch tensors are detached and moved to the CPU."""
    return X.detach().cpu().numpy() if is_tensor(X) else np.asarray(X)


def check_n_instances(n_instances: Any, n_pool: int) -> int:
    """Return ``n_instances`` as an int in ``[1, n_pool]`` or raise."""
    if isinstance(n_instances, bool) or not isinstance(n_instances, numbers.Integral):
        raise TypeError(
            f"The 'n_instances' parameter must be a positive int. Got {n_instances!r} instead."
        )
    if n_instances < 1:
        raise ValueError(f"The 'n_instances' parameter must be >= 1. Got {n_instances} instead.")
    if n_instances > n_pool:
        raise ValueError(
            f"The 'n_instances' parameter ({n_instances}) is larger than the pool, "
            f"which holds {n_pool} samples."
        )
    return int(n_instances)


def check_samples(X: Any, name: str, *, allow_empty: bool = False) -> Any:
    """Check an array-like of samples: one row per sample, numeric and finite.

    numpy arrays and torch tensors keep their type; anything else that numpy can
    turn into a numeric array becomes one. Objects numpy cannot convert (skorch
    datasets, dicts) are returned untouched for skorch's own input path.
    """
    if isinstance(X, (dict, str, bytes)) or X is None:
        if X is None or isinstance(X, (str, bytes)):
            raise TypeError(f"The '{name}' parameter must be an array of samples. Got {X!r} instead.")
        return X
    if is_tensor(X):
        values = X.detach()
        if values.ndim < 2:
            _raise_not_2d(name, tuple(values.shape))
        if not allow_empty and values.shape[0] == 0:
            raise ValueError(f"The '{name}' parameter is empty: it holds no samples.")
        if values.is_floating_point() and not bool(torch.isfinite(values).all()):
            raise ValueError(f"The '{name}' parameter holds NaN or infinite values.")
        return X
    if not isinstance(X, np.ndarray) and not hasattr(X, "__array__") and not isinstance(X, list):
        return X
    array = np.asarray(X)
    if array.dtype == object or array.dtype.kind in "USb":
        raise TypeError(
            f"The '{name}' parameter must hold numbers. Got an array of dtype {array.dtype} instead."
        )
    if array.ndim < 2:
        _raise_not_2d(name, array.shape)
    if not allow_empty and array.shape[0] == 0:
        raise ValueError(f"The '{name}' parameter is empty: it holds no samples.")
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        raise ValueError(f"The '{name}' parameter holds NaN or infinite values.")
    return array


def _raise_not_2d(name: str, shape: tuple) -> None:
    raise ValueError(
        f"The '{name}' parameter must have one row per sample (2-D for vectors, "
        f"(n_samples, channels, height, width) for images). Got shape {shape} instead; "
        "use X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single sample."
    )


def n_samples(X: Any) -> int:
    return int(X.shape[0]) if hasattr(X, "shape") else len(X)


def check_same_sample_shape(X_pool: Any, X_labelled: Any) -> None:
    """Pool and labelled samples must have the same per-sample shape."""
    if hasattr(X_pool, "shape") and hasattr(X_labelled, "shape"):
        pool_shape, labelled_shape = tuple(X_pool.shape[1:]), tuple(X_labelled.shape[1:])
        if pool_shape != labelled_shape:
            raise ValueError(
                f"The samples of 'X_pool' have shape {pool_shape} but the labelled samples "
                f"have shape {labelled_shape}; both must match what the model was fitted on."
            )


def check_scores(scores: np.ndarray, name: str) -> np.ndarray:
    """Scores must be finite: a NaN would silently sort first or last."""
    if not np.isfinite(scores).all():
        n_bad = int((~np.isfinite(scores)).sum())
        raise ValueError(
            f"{n_bad} of {scores.size} {name} scores are NaN or infinite; "
            "check the model's outputs and the input data."
        )
    return scores


def check_nonnegative_float(value: Any, name: str) -> float:
    """A finite real number >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"The '{name}' parameter must be a real number. Got {value!r} instead.")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"The '{name}' parameter must be finite and >= 0. Got {value!r} instead.")
    return float(value)


def check_positive_float(value: Any, name: str, *, allow_none: bool = False) -> float | None:
    """A finite real number > 0 (or None where ``allow_none``)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"The '{name}' parameter must be a real number. Got {value!r} instead.")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"The '{name}' parameter must be finite and > 0. Got {value!r} instead.")
    return float(value)


def check_fraction(value: Any, name: str, *, allow_none: bool = False) -> float | None:
    """A real number in (0, 1] (or None where ``allow_none``); ``TypeError`` for another type,
    ``ValueError`` for a value outside, both naming ``name``."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        also = " or None" if allow_none else ""
        raise TypeError(f"The '{name}' parameter must be a real number in (0, 1]{also}. "
                        f"Got {value!r} instead.")
    if not 0.0 < value <= 1.0:  # NaN fails too
        raise ValueError(f"The '{name}' parameter must be in (0, 1]. Got {value!r} instead.")
    return float(value)


def _int_at_least(value: Any, name: str, low: int, what: str) -> int:
    """An int >= ``low``: ``TypeError`` for another type (a bool or a float too),
    ``ValueError`` below ``low``, both naming ``name`` and saying ``what`` it must be."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"The '{name}' parameter must be {what}. Got {value!r} instead.")
    if value < low:
        raise ValueError(f"The '{name}' parameter must be {what}. Got {value!r} instead.")
    return int(value)


def check_nonnegative_int(value: Any, name: str) -> int:
    """An int >= 0 (:func:`_int_at_least`)."""
    return _int_at_least(value, name, 0, "an int >= 0")


def check_positive_int(value: Any, name: str) -> int:
    """An int >= 1 (:func:`_int_at_least`)."""
    return _int_at_least(value, name, 1, "a positive int")


def check_number_or_word(value: Any, name: str, word: str) -> float | str | None:
    """None, the option ``word``, or a finite number > 0, else an error naming ``name``.

    Parameters
    ----------
    value : None, str or real number
    name : str
        The user's parameter, for the messages.
    word : str
        The one word allowed.

    Returns
    -------
    None, ``word`` or float

    Raises
    ------
    ValueError
        For another word, or a number that is not finite and > 0.
    TypeError
        For anything else.
    """
    if value is None or (isinstance(value, str) and value == word):
        return value
    if isinstance(value, str):
        raise ValueError(
            f"The '{name}' parameter must be None, '{word}' or a float > 0. Got {value!r} instead."
        )
    try:
        return check_positive_float(value, name)
    except TypeError:
        raise TypeError(
            f"The '{name}' parameter must be None, '{word}' or a positive real number. Got "
            f"{value!r} instead."
        ) from None


def check_pool(X_pool: Any, n_instances: Any) -> tuple[Any, int]:
    """Validate a query's pool and batch size together; returns both."""
    X_pool = check_samples(X_pool, "X_pool")
    return X_pool, check_n_instances(n_instances, n_samples(X_pool))


def check_dask_pool(X_pool: Any, n_instances: Any) -> int:
    """Check a Dask pool and the batch size; return ``n_instances`` as an int.

    Parameters
    ----------
    X_pool : dask.array.Array of shape (n_pool, ...)
        Numeric, chunked along rows only, with known row chunk sizes.
    n_instances : int
        Batch size, in ``[1, n_pool]``.

    Returns
    -------
    int

    Raises
    ------
    TypeError
        If ``X_pool`` is not a Dask array of numbers, or ``n_instances`` not an int.
    ValueError
        If ``X_pool`` has fewer than 2 dimensions, unknown row chunk sizes, more
        than one chunk along any other axis, or no rows; or ``n_instances`` is
        out of range.
    """
    if not is_dask_array(X_pool):
        raise TypeError(
            f"The 'X_pool' parameter must be a dask.array.Array. Got {type(X_pool).__name__} "
            "instead."
        )
    if X_pool.dtype.kind not in "iuf":
        raise TypeError(
            f"The 'X_pool' parameter must hold numbers. Got a Dask array of dtype {X_pool.dtype} "
            "instead."
        )
    if X_pool.ndim < 2:
        raise ValueError(
            "The 'X_pool' parameter must have one row per sample (2-D for vectors, "
            f"(n_samples, channels, height, width) for images). Got shape {X_pool.shape} instead."
        )
    if any(np.isnan(size) for size in X_pool.chunks[0]):
        raise ValueError(
            "The 'X_pool' Dask array has unknown row chunk sizes (as after boolean indexing "
            "with a Dask mask); call X_pool.compute_chunk_sizes() before querying."
        )
    for axis, chunks in enumerate(X_pool.chunks[1:], start=1):
        if len(chunks) > 1:
            raise ValueError(
                f"The 'X_pool' Dask array must be chunked along rows only, so that every chunk "
                f"holds whole samples. It has {len(chunks)} chunks along axis {axis}; rechunk it "
                f"first, e.g. X_pool.rechunk({{0: 'auto', {axis}: -1}})."
            )
    if X_pool.shape[0] == 0:
        raise ValueError("The 'X_pool' parameter is empty: it holds no samples.")
    return check_n_instances(n_instances, int(X_pool.shape[0]))


def check_flag(value: Any, name: str, alternative: str = "") -> bool:
    """A bool (numpy's too); ``alternative`` names what else the parameter takes, for the message."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"The '{name}' parameter must be a bool{' ' if alternative else ''}"
                        f"{alternative}. Got {value!r} instead.")
    return bool(value)


def check_max_samples(value: Any, name: str) -> int:
    """A sample-size cap: an int of at least 2."""
    value = check_positive_int(value, name)
    if value < 2:
        raise ValueError(f"The '{name}' parameter must be >= 2. Got {value} instead.")
    return value


def make_random_state(random_state: Any) -> np.random.RandomState:
    """One ``RandomState`` per query from the user's ``random_state``.

    ``None`` seeds a fresh generator from the operating system, never from (nor
    touching) numpy's global state, unlike ``sklearn.utils.check_random_state(None)``.
    """
    if random_state is None:
        return np.random.RandomState()
    try:
        return check_random_state(random_state)
    except (TypeError, ValueError):
        raise ValueError(
            "The 'random_state' parameter must be None, an int or a numpy.random.RandomState. "
            f"Got {random_state!r} instead."
        ) from None
