"""Data sets: the synthetic generator, digits, and the IDX / CIFAR-100 readers on generated files."""

import gzip
import pickle

import numpy as np
import pytest
from conftest import write_cifar100
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_score, recall_score

from modal_ibal.experiments._datasets import (
    load_cifar100,
    load_digits_images,
    load_fashion_mnist,
    make_synthetic,
)

# -- fixture writers: the official formats, generated ----------------------------------------


def write_idx(path, array, *, compress=False, code=0x08):
    """Write ``array`` as an IDX file (big-endian header and values)."""
    dtype = {0x08: ">u1", 0x0C: ">i4", 0x0D: ">f4"}[code]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    content = header + np.ascontiguousarray(array, dtype=dtype).tobytes()
    opener = gzip.open if compress else open
    with opener(path, "wb") as handle:
        handle.write(content)


def write_fashion_mnist(folder, *, n_train=6, n_test=4, size=28, compress=False, seed=0):
    """A tiny Fashion-MNIST folder; returns the uint8 images and labels written."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    suffix = ".gz" if compress else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, size, size), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, compress=compress)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress=compress)
        written[prefix] = (images, labels)
    return written


# -- synthetic ----------------------------------------------------------------------------------


def test_synthetic_shapes_counts_dtypes():
    X, y = make_synthetic()
    assert X.shape == (2550, 2) and X.dtype == np.float32
    assert y.shape == (2550,) and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), [2000, 500, 50])
    assert np.isfinite(X).all()


@pytest.mark.parametrize("sizes", [(20, 10, 5), [3, 2, 1]])
def test_synthetic_custom_sizes(sizes):
    _, y = make_synthetic(sizes, random_state=1)
    np.testing.assert_array_equal(np.bincount(y), list(sizes))


def test_synthetic_is_seeded():
    X1, y1 = make_synthetic(random_state=3)
    X2, y2 = make_synthetic(random_state=3)
    X3, _ = make_synthetic(random_state=4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


def test_synthetic_leaves_global_numpy_state_alone():
    state = np.random.get_state()[1].copy()  # noqa: NPY002 (the test reads the global state)
    make_synthetic(random_state=None)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_synthetic_rare_class_is_linearly_separable():
    X, y = make_synthetic(random_state=0)
    rare = (y == 2).astype(int)
    predicted = LogisticRegression(C=100.0).fit(X, rare).predict(X)
    assert recall_score(rare, predicted) == 1.0
    assert precision_score(rare, predicted) == 1.0


def test_synthetic_big_classes_overlap():
    X, y = make_synthetic(random_state=0)
    big = y < 2
    accuracy = LogisticRegression().fit(X[big], y[big]).score(X[big], y[big])
    # the Bayes classifier between the two unit Gaussians gets about 0.89 (docstring)
    assert 0.8 < accuracy < 0.93


@pytest.mark.parametrize("bad", [(10, 5), (10, 5, 0), (10, 5, 2.5), 100, (10, 5, True)])
def test_synthetic_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="The 'n_per_class' parameter of make_synthetic must be"):
        make_synthetic(bad)


# -- digits -------------------------------------------------------------------------------------


def test_digits_images():
    X, y = load_digits_images()
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(np.unique(y), np.arange(10))


# -- Fashion-MNIST (IDX) ------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("split", ["train", "test", "all"])
def test_fashion_mnist_reads_idx(tmp_path, compress, split):
    written = write_fashion_mnist(tmp_path, compress=compress)
    X, y = load_fashion_mnist(tmp_path, split=split)
    parts = {"train": ["train"], "test": ["t10k"], "all": ["train", "t10k"]}[split]
    images = np.concatenate([written[p][0] for p in parts])
    labels = np.concatenate([written[p][1] for p in parts])
    assert X.shape == (len(labels), 1, 28, 28) and X.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_allclose(X[:, 0], images / 255.0, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(y, labels)
    assert 0.0 <= X.min() and X.max() <= 1.0


def test_idx_reader_handles_wider_big_endian_types(tmp_path):
    from modal_ibal.experiments._datasets import _read_idx

    values = np.arange(-3, 3, dtype=np.int32).reshape(2, 3) * 100_000
    write_idx(tmp_path / "ints", values, code=0x0C)
    read = _read_idx(tmp_path / "ints")
    np.testing.assert_array_equal(read, values)
    assert read.dtype.isnative


def _write_raw(path, content):
    path.write_bytes(content)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"\x01\x00\x08\x01" + b"\x00" * 8, "is not an IDX file"),
        (b"\x00", "is not an IDX file"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x02ab", "unknown type code 0x07"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", "header is truncated or empty"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05abc", r"declares shape \(5,\) of uint8, which takes 13"),
    ],
)
def test_fashion_mnist_header_errors(tmp_path, content, match):
    write_fashion_mnist(tmp_path)
    _write_raw(tmp_path / "train-labels-idx1-ubyte", content)
    with pytest.raises(ValueError, match=match):
        load_fashion_mnist(tmp_path)


def test_fashion_mnist_images_and_labels_must_agree(tmp_path):
    write_fashion_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(5, dtype=np.uint8))
    with pytest.raises(
        ValueError, match=r"disagree: .* Got images \(6, 28, 28\) and labels \(5,\)"
    ):
        load_fashion_mnist(tmp_path)


def test_fashion_mnist_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"does not exist.*apt-get install dataset-fashion"):
        load_fashion_mnist(tmp_path / "nowhere")


def test_fashion_mnist_missing_file(tmp_path):
    write_fashion_mnist(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").unlink()
    load_fashion_mnist(tmp_path, split="train")
    with pytest.raises(FileNotFoundError, match=r"no t10k-images-idx3-ubyte or .*gz.*pass path="):
        load_fashion_mnist(tmp_path, split="test")


@pytest.mark.parametrize("loader", [load_fashion_mnist, load_cifar100])
def test_split_is_checked(tmp_path, loader):
    with pytest.raises(ValueError, match=r"The 'split' parameter must be one of \['train'"):
        loader(tmp_path, split="valid")


# -- CIFAR-100 (pickle) -------------------------------------------------------------------------


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
@pytest.mark.parametrize("split", ["train", "test", "all"])
def test_cifar100_reads_official_layout(tmp_path, split, label_mode):
    _, written = write_cifar100(tmp_path)
    X, y = load_cifar100(tmp_path, split=split, label_mode=label_mode)
    parts = ["train", "test"] if split == "all" else [split]
    data = np.concatenate([written[p][b"data"] for p in parts])
    labels = np.concatenate([written[p][f"{label_mode}_labels".encode()] for p in parts])
    assert X.shape == (len(data), 3, 32, 32) and X.dtype == np.float32
    assert y.dtype == np.int64
    # channel-major rows: the first 1024 values are the red plane, row by row
    np.testing.assert_allclose(X[:, 0].reshape(len(data), -1), data[:, :1024] / 255.0, atol=1e-7)
    np.testing.assert_allclose(X[:, 2, 31, 31], data[:, 3071] / 255.0, atol=1e-7)
    np.testing.assert_array_equal(y, labels)


def test_cifar100_root_may_be_the_folder_itself(tmp_path):
    folder, written = write_cifar100(tmp_path, str_keys=True)
    X, y = load_cifar100(folder, split="test")
    assert X.shape == (3, 3, 32, 32)
    np.testing.assert_array_equal(y, written["test"]["fine_labels"])


def test_cifar100_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"cifar-100-python'.*cifar-100-python\.tar\.gz"):
        load_cifar100(tmp_path)


def test_cifar100_bad_label_mode(tmp_path):
    with pytest.raises(ValueError, match="The 'label_mode' parameter of load_cifar100 must be"):
        load_cifar100(tmp_path, label_mode="superclass")


def test_cifar100_bad_layout(tmp_path):
    folder, _ = write_cifar100(tmp_path)
    with open(folder / "train", "wb") as handle:
        pickle.dump({b"data": np.zeros((2, 100), dtype=np.uint8), b"fine_labels": [0, 1]}, handle)
    with pytest.raises(
        ValueError, match=r"uint8 of shape \(n, 3072\). Got uint8 of shape \(2, 100\)"
    ):
        load_cifar100(tmp_path)
    with open(folder / "train", "wb") as handle:
        pickle.dump({b"data": np.zeros((2, 3072), dtype=np.uint8)}, handle)
    with pytest.raises(ValueError, match="has no 'fine_labels' entry"):
        load_cifar100(tmp_path)
    with open(folder / "train", "wb") as handle:
        pickle.dump([1, 2], handle)
    with pytest.raises(ValueError, match=r"must hold a pickled dict\. Got list"):
        load_cifar100(tmp_path)
