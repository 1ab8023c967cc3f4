"""Statlog Shuttle, a strongly imbalanced real data set, read offline from R's ``mlbench``.

Debian's package ``r-cran-mlbench`` installs ``Shuttle.rda`` (58,000 rows, 9
numeric attributes, 7 classes from 45,586 rows down to 10); the PyPI package
``rdata`` (the ``bench`` extra) reads it without R. :func:`load_shuttle` returns
it whole; :func:`shuttle_subsample` keeps every row of the rare classes and a
proportional sample of the common ones, so that the peers' dense kernels fit.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

SHUTTLE_PATH = "/usr/lib/R/site-library/mlbench/data/Shuttle.rda"
SHUTTLE_CLASSES = ("Rad.Flow", "Fpv.Close", "Fpv.Open", "High", "Bypass", "Bpv.Close",
                   "Bpv.Open")  # the order of mlbench's factor levels

__all__ = ["SHUTTLE_CLASSES", "SHUTTLE_PATH", "load_shuttle", "shuttle_subsample"]


def load_shuttle(path: str | os.PathLike = SHUTTLE_PATH) -> tuple[np.ndarray, np.ndarray]:
    """Statlog Shuttle from mlbench's ``Shuttle.rda``.

    Parameters
    ----------
    path : str or path-like, default="/usr/lib/R/site-library/mlbench/data/Shuttle.rda"
        Where Debian's ``r-cran-mlbench`` installs it.

    Returns
    -------
    X : ndarray of shape (n, 9), float32
        The attributes ``V1`` .. ``V9`` as stored (not scaled).
    y : ndarray of shape (n,), int64
        Indices into :data:`SHUTTLE_CLASSES`.

    Raises
    ------
    FileNotFoundError
        When the file is missing (the message says which package installs it).
    ImportError
        When ``rdata`` is not installed.
    ValueError
        When the file holds no ``Shuttle`` data frame of that shape.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No Shuttle data at '{path}'. Install Debian's r-cran-mlbench "
            "(apt-get install r-cran-mlbench) or pass the path of Shuttle.rda."
        )
    try:
        import rdata
    except ImportError:
        raise ImportError(
            "Reading Shuttle.rda needs the 'rdata' package: pip install -e '.[bench]'."
        ) from None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Unknown encoding", category=UserWarning)
        frames = rdata.read_rda(path)
    frame = frames.get("Shuttle")
    columns = [f"V{i}" for i in range(1, 10)]
    if frame is None or list(frame.columns) != [*columns, "Class"]:
        raise ValueError(
            f"'{path}' must hold a data frame 'Shuttle' with columns V1 .. V9 and Class. "
            f"Got {sorted(frames)} instead."
        )
    levels = list(frame["Class"].cat.categories)
    if levels != list(SHUTTLE_CLASSES):
        raise ValueError(
            f"The Shuttle classes in '{path}' must be {list(SHUTTLE_CLASSES)}. Got {levels}."
        )
    X = frame[columns].to_numpy(dtype=np.float32)
    y = frame["Class"].cat.codes.to_numpy().astype(np.int64)
    return X, y


def shuttle_subsample(y: np.ndarray, n_samples: int, *, rare_below: int = 1000,
                      random_state: int = 0) -> np.ndarray:
    """Rows to keep: every row of the classes with fewer than ``rare_below`` rows, the rest drawn.

    Parameters
    ----------
    y : ndarray of shape (n,)
    n_samples : int
        Rows kept in all.
    rare_below : int, default=1000
    random_state : int, default=0

    Returns
    -------
    ndarray of shape (n_samples,), sorted row indices
        The common classes keep their proportions among themselves.
    """
    classes, counts = np.unique(y, return_counts=True)
    rare = np.isin(y, classes[counts < rare_below])
    n_common = n_samples - int(rare.sum())
    if n_common <= 0:
        raise ValueError(
            f"The 'n_samples' parameter ({n_samples}) must exceed the {int(rare.sum())} rows "
            "of the rare classes."
        )
    rng = np.random.default_rng(random_state)
    common = np.flatnonzero(~rare)
    shares = counts[counts >= rare_below] / counts[counts >= rare_below].sum()
    sizes = np.floor(shares * n_common).astype(int)
    sizes[np.argmax(sizes)] += n_common - sizes.sum()
    drawn = [rng.choice(common[y[common] == c], size=size, replace=False)
             for c, size in zip(classes[counts >= rare_below], sizes, strict=False)]
    return np.sort(np.concatenate([np.flatnonzero(rare), *drawn]))
