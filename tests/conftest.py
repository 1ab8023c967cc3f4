"""Shared tiny fixtures: small data, and skorch nets that fit in a fraction of a second."""

from __future__ import annotations

import contextlib
import logging
import pickle
import random
import warnings

import numpy as np
import pytest
import torch
from modAL.models import ActiveLearner
from sklearn.datasets import load_digits, make_blobs
from sklearn.linear_model import LogisticRegression
from skorch import NeuralNetClassifier
from torch import nn

import modal_ibal  # noqa: F401  (applies the modAL compatibility shim)
from modal_ibal.experiments._classifier import make_classifier
from modal_ibal.experiments._datasets import make_synthetic
from modal_ibal.experiments._networks import MLP
from modal_ibal.experiments._specs import Dataset, ExperimentSpec


class TinyMLP(nn.Module):
    """Linear -> ReLU -> final nn.Linear: the shape the hooks expect."""

    def __init__(self, n_features: int = 64, n_hidden: int = 16, n_classes: int = 10):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_features, n_hidden), nn.ReLU())
        self.output = nn.Linear(n_hidden, n_classes)

    def forward(self, X):
        return self.output(self.body(X))


class TinyCNN(nn.Module):
    """Image input (n, 1, 8, 8): conv -> pool -> final nn.Linear."""

    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten()
        )
        self.output = nn.Linear(4 * 4 * 4, n_classes)

    def forward(self, X):
        return self.output(self.features(X))


def make_net(module=TinyMLP, *, n_classes=10, seed=0, max_epochs=15, **kwargs):
    """A small skorch classifier with logits out (CrossEntropyLoss), seeded at construction."""
    torch.manual_seed(seed)
    params = dict(
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=0.02,
        max_epochs=max_epochs,
        batch_size=64,
        train_split=None,
        verbose=0,
        classes=np.arange(n_classes),
    )
    params.update(kwargs)
    return NeuralNetClassifier(module, **params)


@pytest.fixture(autouse=True)
def _seeded_torch():
    """Tests construct nets with a fixed global seed; restore the caller's RNG afterwards."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        yield


@pytest.fixture(scope="session")
def digits():
    """sklearn digits as float32 vectors in [0, 1]."""
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y.astype(np.int64)


@pytest.fixture(scope="session")
def blobs():
    """A small three-class synthetic set in 2-D."""
    X, y = make_blobs(n_samples=240, centers=[[0, 0], [1.5, 0], [0, 4]], cluster_std=0.8,
                      random_state=0)
    return X.astype(np.float32), y.astype(np.int64)


@pytest.fixture
def split(digits):
    """(X_labelled, y_labelled, X_pool) from digits: 40 labelled, 300 pool."""
    X, y = digits
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    return X[order[:40]], y[order[:40]], X[order[40:340]]


@pytest.fixture
def fitted_net(split):
    X_labelled, y_labelled, _ = split
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_net().fit(X_labelled, y_labelled)


def _tiny_model(random_state, epochs):
    return make_classifier(MLP, module__n_features=2, module__hidden=(8,), classes=3,
                           max_epochs=epochs, lr=1e-2, batch_size=128, random_state=random_state,
                           device="cpu")


def _tiny_data(data_dir):
    return Dataset(*make_synthetic((60, 30, 10), random_state=0))


# a three-class experiment small enough for the runner's tests: 2 rounds, 5 epochs
TINY = ExperimentSpec(
    name="tiny", description="three small Gaussian classes", load=_tiny_data, model=_tiny_model,
    n_classes=3, n_initial=6, batch_size=4, n_rounds=2, epochs=5, test_size=30,
    strategies=("random", "ibal-target"),
)


def global_rng_states():
    """Every global generator a call could touch: python, numpy, torch CPU and each CUDA device."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return random.getstate(), np.random.get_state(), torch.get_rng_state(), cuda  # noqa: NPY002


def assert_same_rng_states(before, after):
    """Fail, naming the generator, if any of :func:`global_rng_states` moved."""
    assert before[0] == after[0], "python's random state changed"
    for a, b in zip(before[1], after[1], strict=True):
        np.testing.assert_array_equal(a, b, err_msg="numpy's global random state changed")
    assert torch.equal(before[2], after[2]), "torch's CPU generator changed"
    assert len(before[3]) == len(after[3])
    for device, (a, b) in enumerate(zip(before[3], after[3], strict=True)):
        assert torch.equal(a, b), f"the generator of CUDA device {device} changed"


@pytest.fixture
def search_by_cells(monkeypatch):
    """Every nearest-labelled search goes cell by cell, with cells of four labelled points."""
    from modal_ibal.search import _cells as cells

    monkeypatch.setattr(cells, "MIN_LABELLED_FOR_CELLS", 1)
    monkeypatch.setattr(cells, "MIN_POOL_FOR_CELLS", 1)
    monkeypatch.setattr(cells, "_LABELLED_PER_CELL", 4)


def labelled_and_pool(data, n_labelled: int, n_pool: int, seed: int):
    """(X_labelled, y_labelled, X_pool): a seeded permutation of ``data`` cut in two."""
    X, y = data
    order = np.random.default_rng(seed).permutation(len(X))
    labelled, pool = order[:n_labelled], order[n_labelled:n_labelled + n_pool]
    return X[labelled], y[labelled], X[pool]


def net_learner(X_labelled, y_labelled) -> ActiveLearner:
    """An ActiveLearner on a tiny skorch MLP fitted to the labelled set, quietly."""
    with torch.random.fork_rng(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ActiveLearner(make_net(max_epochs=10), X_training=X_labelled,
                             y_training=y_labelled)


@pytest.fixture(scope="module")
def digits_split(digits):
    """(X_labelled, y_labelled, X_pool): 30 labelled digits (every class), 200 in the pool."""
    return labelled_and_pool(digits, 30, 200, seed=1)


@pytest.fixture(scope="module")
def digits_learner(digits_split):
    """An ActiveLearner on a tiny skorch MLP fitted to :func:`digits_split`'s labelled set."""
    X_labelled, y_labelled, _ = digits_split
    return net_learner(X_labelled, y_labelled)


@pytest.fixture(scope="module")
def separated_blobs():
    """Six far-apart blobs of 10 to 20 points; two of them hold a labelled point."""
    sizes = [20, 18, 16, 14, 12, 10]
    centers = 50.0 * np.array([[0, 0], [1, 0], [0, 1], [1, 1], [2, 0], [2, 1]])
    X, blob = make_blobs(n_samples=sizes, centers=centers, cluster_std=1.0, random_state=0)
    labelled = np.array([np.flatnonzero(blob == 1)[0], np.flatnonzero(blob == 4)[0]])
    pool = np.setdiff1d(np.arange(len(X)), labelled)
    model = LogisticRegression().fit(X[labelled], [0, 1])
    return X, blob, labelled, pool, model


def write_cifar100(root, *, n_train=5, n_test=3, seed=0, str_keys=False, every_class=False):
    """A tiny cifar-100-python/ folder in the official pickle layout.

    Labels are drawn at random, or cycle through every class with ``every_class``.
    """
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    written = {}
    for name, n in (("train", n_train), ("test", n_test)):
        batch = {
            b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            b"fine_labels": ([i % 100 for i in range(n)] if every_class
                             else rng.integers(0, 100, size=n).tolist()),
            b"coarse_labels": ([i % 20 for i in range(n)] if every_class
                               else rng.integers(0, 20, size=n).tolist()),
            b"filenames": [f"img{i}.png".encode() for i in range(n)],
        }
        if str_keys:
            batch = {key.decode(): value for key, value in batch.items()}
        with open(folder / name, "wb") as handle:
            pickle.dump(batch, handle)
        written[name] = batch
    meta = {b"fine_label_names": [b"c%d" % i for i in range(100)]}
    meta[b"coarse_label_names"] = [b"s%d" % i for i in range(20)]
    with open(folder / "meta", "wb") as handle:
        pickle.dump(meta, handle)
    return folder, written


@contextlib.contextmanager
def two_worker_client(silence_logs: int = logging.ERROR):
    """A distributed.Client on a LocalCluster of two worker processes of one thread each."""
    import distributed

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=silence_logs) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def assert_same_query(got, expected, *, rtol: float = 1e-9, atol: float = 1e-12) -> None:
    """The same picks in the same order, and the same scores to rounding.

    Scores computed in other chunks or batches may differ in their last bits on
    some CPUs (BLAS blocking); the ranking compares them at 24 bits
    (:func:`modal_ibal.scoring._selection.ranking_keys`), so the picks agree.
    """
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_allclose(got[1], expected[1], rtol=rtol, atol=atol)
