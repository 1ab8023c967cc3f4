"""Data sets: the paper's synthetic set, digits, Fashion-MNIST, CIFAR-100.

Every loader returns ``(X, y)`` as numpy arrays ready for modAL and skorch:
``X`` float32 (images as ``(n, channels, height, width)`` scaled to ``[0, 1]``),
``y`` int64 class indices. Nothing is downloaded: the real image sets are read
from local files, and a missing file raises a ``FileNotFoundError`` that says
where to get it.
"""

from __future__ import annotations

import gzip
import numbers
import os
import pickle
from pathlib import Path

import numpy as np

__all__ = [
    "CIFAR100_URL",
    "FASHION_MNIST_PATH",
    "SYNTHETIC_CLASS_SIZES",
    "load_cifar100",
    "load_digits_images",
    "load_fashion_mnist",
    "make_synthetic",
]

SYNTHETIC_CLASS_SIZES = (2000, 500, 50)
FASHION_MNIST_PATH = "/usr/share/datasets/fashion-mnist"
CIFAR100_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"


# Class means and covariances of the synthetic set (see make_synthetic's docstring).
_SYNTHETIC_MEANS = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 5.0]])
_SYNTHETIC_COVS = np.array([np.eye(2), np.eye(2), 0.4**2 * np.eye(2)])
_SPLITS = ("train", "test", "all")


def make_synthetic(
    n_per_class: tuple[int, ...] = SYNTHETIC_CLASS_SIZES, *, random_state=0
) -> tuple[np.ndarray, np.ndarray]:
    r"""The paper's synthetic set (Fig. 1): two overlapping classes and a rare separable one.

    Parameters
    ----------
    n_per_class : tuple of 3 int, default=(2000, 500, 50)
        Number of points of classes 0, 1 and 2.
    random_state : int, numpy.random.Generator or None, default=0
        Seed of the ``numpy.random.Generator`` that draws the points; the same
        seed gives identical arrays.

    Returns
    -------
    X : ndarray of shape (sum(n_per_class), 2), float32
        The points, in a random order.
    y : ndarray of shape (sum(n_per_class),), int64
        Their classes 0, 1, 2.

    Notes
    -----
    Each class is a Gaussian in the plane:

    .. math::

        x \mid y = 0 \sim \mathcal N\big((-1, 0), I\big), \quad
        x \mid y = 1 \sim \mathcal N\big((1, 0), I\big), \quad
        x \mid y = 2 \sim \mathcal N\big((0, 5), 0.4^2 I\big).

    Classes 0 and 1 overlap heavily: with the default sizes the Bayes classifier
    between them is right on about 89% of their points (equal covariances, so
    the best boundary is the line :math:`x_1 = \tfrac12 \ln 4 \approx 0.69`),
    and the points near that line stay hard however many labels are bought.
    Class 2 is rare (2% of the points) but 5 units from the other two means
    along :math:`x_2` (5 of their standard deviations, 12.5 of its own), so a
    linear classifier separates it. This captures the paper's two failure modes: random sampling rarely
    draws the rare class, and uncertainty sampling keeps querying the overlap.

    References
    ----------
    The set is described, not specified, in the paper ("2000, 500, and 50 points
    for our three classes", Fig. 1); the means and covariances are this
    project's choice.
    """
    sizes = _check_class_sizes(n_per_class)
    rng = np.random.default_rng(random_state)
    X = np.concatenate(
        [
            rng.multivariate_normal(mean, cov, size=n)
            for mean, cov, n in zip(_SYNTHETIC_MEANS, _SYNTHETIC_COVS, sizes, strict=True)
        ]
    )
    y = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    order = rng.permutation(len(y))
    return X[order].astype(np.float32), y[order]


def load_digits_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled handwritten digits as 1 x 8 x 8 images (no download).

    Returns
    -------
    X : ndarray of shape (1797, 1, 8, 8), float32
        Pixel intensities scaled from 0..16 to ``[0, 1]``.
    y : ndarray of shape (1797,), int64
        The digit, 0 to 9.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    return X, digits.target.astype(np.int64)


def load_fashion_mnist(
    path: str | os.PathLike = FASHION_MNIST_PATH, *, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST from its IDX files (Xiao et al., 2017; MIT licence).

    Parameters
    ----------
    path : str or path-like, default="/usr/share/datasets/fashion-mnist"
        Folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each either
        plain or gzipped (``.gz``). Debian's package ``dataset-fashion-mnist``
        installs the gzipped files in the default folder.
    split : {"train", "test", "all"}, default="train"
        The 60,000 training images, the 10,000 test images, or both (training
        first).

    Returns
    -------
    X : ndarray of shape (n, 1, 28, 28), float32
        Pixel intensities scaled from 0..255 to ``[0, 1]``.
    y : ndarray of shape (n,), int64
        Classes 0 to 9 (T-shirt/top, trouser, pullover, dress, coat, sandal,
        shirt, sneaker, bag, ankle boot).

    Raises
    ------
    FileNotFoundError
        When the folder or one of the files is missing.
    ValueError
        When a file is not a valid IDX file, or images and labels disagree.

    References
    ----------
    H. Xiao, K. Rasul, R. Vollgraf. Fashion-MNIST: a novel image dataset for
    benchmarking machine learning algorithms. arXiv:1708.07747, 2017.
    """
    folder = Path(path)
    parts = []
    prefixes = _split_parts(split, {"train": "train", "test": "t10k"})
    for prefix in prefixes:
        images = _read_idx(_find_idx(folder, f"{prefix}-images-idx3-ubyte"))
        labels = _read_idx(_find_idx(folder, f"{prefix}-labels-idx1-ubyte"))
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(
                f"The Fashion-MNIST files '{prefix}-*' in '{folder}' disagree: images must have "
                f"shape (n, rows, cols) and labels shape (n,). Got images {images.shape} and "
                f"labels {labels.shape} instead."
            )
        parts.append((images, labels))
    X = np.concatenate([images for images, _ in parts])[:, None, :, :]
    y = np.concatenate([labels for _, labels in parts]).astype(np.int64)
    return (X / np.float32(255.0)).astype(np.float32), y


def load_cifar100(
    root: str | os.PathLike, *, split: str = "train", label_mode: str = "fine"
) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-100 from the official ``cifar-100-python/`` pickle files (Krizhevsky, 2009).

    Parameters
    ----------
    root : str or path-like
        The folder that contains ``cifar-100-python/`` (as extracted from
        ``cifar-100-python.tar.gz``), or that folder itself.
    split : {"train", "test", "all"}, default="train"
        The 50,000 training images, the 10,000 test images, or both (training
        first).
    label_mode : {"fine", "coarse"}, default="fine"
        The 100 fine classes or the 20 superclasses.

    Returns
    -------
    X : ndarray of shape (n, 3, 32, 32), float32
        RGB intensities scaled from 0..255 to ``[0, 1]``.
    y : ndarray of shape (n,), int64

    Raises
    ------
    FileNotFoundError
        When the files are not there; the message says where to get them.
    ValueError
        When a file does not have the official layout.

    Notes
    -----
    The files are Python pickles: only load copies you trust. Unlike
    torchvision's ``CIFAR100``, no checksum is verified, so generated files in
    the same layout load through this same code path.

    References
    ----------
    A. Krizhevsky. Learning multiple layers of features from tiny images.
    Technical report, University of Toronto, 2009.
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(
            f"The 'label_mode' parameter of load_cifar100 must be 'fine' or 'coarse'. "
            f"Got {label_mode!r} instead."
        )
    names = _split_parts(split)
    folder = _cifar100_folder(Path(root))
    parts = [_read_cifar_batch(folder / name, label_mode) for name in names]
    X = np.concatenate([images for images, _ in parts])
    y = np.concatenate([labels for _, labels in parts])
    return (X / np.float32(255.0)).astype(np.float32), y


def _check_class_sizes(n_per_class) -> tuple[int, ...]:
    sizes = tuple(n_per_class) if isinstance(n_per_class, (tuple, list)) else None
    if (
        sizes is None
        or len(sizes) != len(_SYNTHETIC_MEANS)
        or not all(
            isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1 for n in sizes
        )
    ):
        raise ValueError(
            f"The 'n_per_class' parameter of make_synthetic must be a tuple of "
            f"{len(_SYNTHETIC_MEANS)} positive ints. Got {n_per_class!r} instead."
        )
    return tuple(int(n) for n in sizes)


def _split_parts(split: str, names: dict[str, str] | None = None) -> list[str]:
    if split not in _SPLITS:
        raise ValueError(
            f"The 'split' parameter must be one of {list(_SPLITS)}. Got {split!r} instead."
        )
    names = names or {"train": "train", "test": "test"}
    return [names["train"], names["test"]] if split == "all" else [names[split]]


# IDX format (LeCun et al.): 2 zero bytes, a type code, the number of dimensions,
# then one big-endian uint32 per dimension, then the values in C order, big-endian.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _find_idx(folder: Path, stem: str) -> Path:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    where = (
        f"The folder '{folder}' has no {stem} or {stem}.gz"
        if folder.is_dir()
        else f"The folder '{folder}' does not exist"
    )
    raise FileNotFoundError(
        f"{where}. Fashion-MNIST is read from local IDX files: on Debian or Ubuntu, "
        f"'apt-get install dataset-fashion-mnist' puts them in {FASHION_MNIST_PATH}; or "
        "download them from https://github.com/zalandoresearch/fashion-mnist and pass "
        "path= to their folder."
    )


def _read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (plain or gzipped) into a native-endian array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        content = handle.read()
    if len(content) < 4 or content[0] != 0 or content[1] != 0:
        raise ValueError(
            f"The file '{path}' is not an IDX file: it must start with two zero bytes, a type "
            f"code and the number of dimensions. Got the header {content[:4]!r} instead."
        )
    code, ndim = content[2], content[3]
    if code not in _IDX_DTYPES:
        raise ValueError(
            f"The IDX file '{path}' has the unknown type code 0x{code:02X}; known codes are "
            f"{', '.join(f'0x{c:02X}' for c in _IDX_DTYPES)}."
        )
    if ndim == 0 or len(content) < 4 + 4 * ndim:
        raise ValueError(
            f"The IDX file '{path}' declares {ndim} dimensions but its header is truncated or "
            "empty."
        )
    shape = tuple(int(d) for d in np.frombuffer(content, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = 4 + 4 * ndim + int(np.prod(shape)) * dtype.itemsize
    if len(content) != expected:
        raise ValueError(
            f"The IDX file '{path}' declares shape {shape} of {dtype.name}, which takes "
            f"{expected} bytes, but the file holds {len(content)} bytes."
        )
    values = np.frombuffer(content, dtype=dtype, offset=4 + 4 * ndim).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def _cifar100_folder(root: Path) -> Path:
    for folder in (root / "cifar-100-python", root):
        if (folder / "train").is_file() and (folder / "test").is_file():
            return folder
    raise FileNotFoundError(
        f"CIFAR-100 was not found: expected the files train and test in "
        f"'{root / 'cifar-100-python'}' (or in '{root}' itself). Download {CIFAR100_URL}, "
        f"extract it with 'tar -xzf cifar-100-python.tar.gz -C {root}', and pass root= "
        "to the folder that holds cifar-100-python/."
    )


def _read_cifar_batch(path: Path, label_mode: str) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as handle:
        batch = pickle.load(handle, encoding="bytes")
    if not isinstance(batch, dict):
        raise ValueError(
            f"The CIFAR-100 file '{path}' must hold a pickled dict. Got "
            f"{type(batch).__name__} instead."
        )
    data = _cifar_entry(batch, "data", path)
    labels = _cifar_entry(batch, f"{label_mode}_labels", path)
    data = np.asarray(data)
    labels = np.asarray(labels, dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(
            f"The CIFAR-100 file '{path}' must hold 'data' as uint8 of shape (n, 3072). "
            f"Got {data.dtype} of shape {data.shape} instead."
        )
    if labels.shape != (len(data),):
        raise ValueError(
            f"The CIFAR-100 file '{path}' holds {len(data)} images but "
            f"{labels.size} {label_mode} labels."
        )
    return data.reshape(-1, 3, 32, 32), labels


def _cifar_entry(batch: dict, key: str, path: Path):
    for candidate in (key.encode(), key):
        if candidate in batch:
            return batch[candidate]
    raise ValueError(
        f"The CIFAR-100 file '{path}' has no '{key}' entry; its keys are "
        f"{sorted(map(repr, batch))}."
    )
